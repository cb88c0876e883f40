//! A user's export (GDPR art. 15 and 20, KVKK art. 11): one JSON document
//! with every record the service holds about them (`store::UserRecords`) and the objects
//! under their folder, written to the private bucket and handed out as a link valid 15
//! minutes; at most 3 a day. The bucket's lifecycle deletes exports after a day, and an
//! erasure deletes them at once.

use domain::ports::{OtpKeys, UserObjects};
use domain::privacy::{EXPORT_URL_LIFETIME_SECS, ExportQuota, owner_prefixes};
use domain::{Clock, UserId, timestamp};
use serde_json::{Value, json};
use store::{ExportSlot, PrivacyStore, StoreError};

/// The document's `schema_version` (`events/schemas/export.schema.json`).
pub const EXPORT_SCHEMA_VERSION: u32 = 1;

pub struct Export<'a, K, O> {
    pub privacy: &'a PrivacyStore,
    pub objects: &'a O,
    /// Keys the folder names of the user's objects.
    pub keys: &'a K,
    pub quota: ExportQuota,
    pub clock: &'a Clock,
}

/// Where the document waits, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportLink {
    pub url: String,
    pub expires_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("no such user")]
    NotFound,
    #[error("the day's exports are taken")]
    Limited { retry_after_secs: u64 },
    #[error("a dependency is unavailable: {0}")]
    DependencyUnavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn unavailable(e: impl std::fmt::Display) -> Refusal {
    tracing::warn!(error = %e, "the bucket failed an export");
    Refusal::DependencyUnavailable(e.to_string())
}

impl<K: OtpKeys, O: UserObjects> Export<'_, K, O> {
    /// Every record of `user` as the export document.
    pub async fn document(&self, user: &UserId) -> Result<Value, Refusal> {
        let records = self.privacy.records(user).await?.ok_or(Refusal::NotFound)?;
        let key = self.keys.key().await.map_err(|e| unavailable(e.0))?;
        let mut objects = Vec::new();
        for prefix in owner_prefixes(key, user) {
            for object in self.objects.list(&prefix).await.map_err(unavailable)? {
                objects.push(json!({
                    "key": object.key,
                    "size": object.size,
                    "last_modified": object.last_modified,
                }));
            }
        }
        Ok(json!({
            "schema_version": EXPORT_SCHEMA_VERSION,
            "generated_at": timestamp(self.clock.now()),
            "user_id": user.as_str(),
            "profile": records.profile,
            "account": records.account,
            "phone_claim": records.phone_claim,
            "consent_history": records.consent_history,
            "administrative_changes": records.administrative_changes,
            "segments": records.segments,
            "ci": records.ci,
            "loyalty_card": records.loyalty_card,
            "mfa_factors": records.mfa_factors,
            "passkeys": records.passkeys,
            "sessions": records.sessions,
            "pending_codes": records.pending_codes,
            "counters": records.counters,
            "objects": objects,
            "other": records.other,
        }))
    }

    /// `POST /users/me/export`: the document in the bucket and a link to it. The
    /// export is counted first and given back if it could not be written.
    pub async fn to_bucket(&self, user: &UserId) -> Result<ExportLink, Refusal> {
        let now = self.clock.now();
        // Counted before anything is read: a caller past the quota costs one read.
        match self
            .privacy
            .take_export(user, &self.quota, now.timestamp())
            .await?
        {
            ExportSlot::Taken => {}
            ExportSlot::Spent(retry_after_secs) => {
                return Err(Refusal::Limited { retry_after_secs });
            }
            ExportSlot::NoProfile => return Err(Refusal::NotFound),
        }
        let document = match self.document(user).await {
            Ok(document) => document,
            Err(refusal) => {
                self.give_back(user, now.timestamp()).await;
                return Err(refusal);
            }
        };
        // The document was read with the key, so it is at hand.
        let folder = match self.keys.key().await {
            Ok(key) => key.object_folder(user),
            Err(e) => {
                self.give_back(user, now.timestamp()).await;
                return Err(unavailable(e.0));
            }
        };
        let key = format!(
            "exports/{}/{}-{}.json",
            folder,
            now.format("%Y%m%dT%H%M%SZ"),
            domain::opaque::random_id()
        );
        let body = serde_json::to_vec(&document).expect("a JSON value always serializes");
        let stored = match self.objects.put_json(&key, body).await {
            Ok(()) => {
                self.objects
                    .download_url(&key, EXPORT_URL_LIFETIME_SECS)
                    .await
            }
            Err(e) => Err(e),
        };
        match stored {
            Ok(url) => Ok(ExportLink {
                url,
                expires_at: timestamp(
                    now + chrono::Duration::seconds(EXPORT_URL_LIFETIME_SECS as i64),
                ),
            }),
            Err(e) => {
                self.give_back(user, now.timestamp()).await;
                Err(unavailable(e))
            }
        }
    }

    /// The export counted at `at` given back: it was never written.
    async fn give_back(&self, user: &UserId, at: i64) {
        if let Err(e) = self.privacy.give_back_export(user, at).await {
            tracing::warn!(error = %e, "could not give back an unwritten export");
        }
    }
}
