//! What an export reads: every item of the user's partition and the items
//! outside it that name the user, as JSON, sorted into the document's sections by the
//! key layout. Secrets never leave: code digests, password hashes, token hashes and
//! the store's own bookkeeping are dropped here.

use aws_sdk_dynamodb::types::AttributeValue;
use domain::{Email, PhoneNumber, UserId};
use serde_json::{Map, Value};

use domain::privacy::ExportQuota;
use serde::Deserialize;

use crate::StoreError;
use crate::batch::batch_get;
use crate::expr::Expression;
use crate::item::{Item, get_consistent, n, text};
use crate::keys::PASSKEY_PREFIX;
use crate::keys::{
    AUDIT_PREFIX, CI_SK, CONSENT_LOG_PREFIX, CREDENTIAL_SK, EXPORTS_SK, ItemKey, LOYALTY_SK,
    OTP_PREFIX, PK, PROFILE_SK, SEGMENT_PREFIX, SESSION_PREFIX, SK, TOTP_SK, TTL_ATTRIBUTE,
    UPLOADS_PREFIX,
};
use crate::privacy::PrivacyStore;
use crate::profile_item::{VERSION, is_erased, unusable, usable};
use crate::txn::{
    Outcome, condition_check, transact, unless_condition_failed, update, update_item,
};

/// Attributes that are secrets or the store's bookkeeping, never exported.
const NEVER_EXPORTED: &[&str] = &[
    PK,
    SK,
    "digest",
    "password_hash",
    "current",
    "previous",
    "superseded",
    "rev",
];

/// The document's sections, each a list of records (the profile, account, CI and
/// loyalty card are one record or none).
#[derive(Debug, Default)]
pub struct UserRecords {
    pub profile: Option<Value>,
    pub account: Option<Value>,
    pub phone_claim: Option<Value>,
    pub consent_history: Vec<Value>,
    pub administrative_changes: Vec<Value>,
    pub segments: Vec<Value>,
    pub ci: Option<Value>,
    pub loyalty_card: Option<Value>,
    pub sessions: Vec<Value>,
    /// Second factors: what they are and when they were set up; never a secret, a
    /// recovery code or its digest.
    pub mfa_factors: Vec<Value>,
    /// Passkeys: their ids and dates, never key material.
    pub passkeys: Vec<Value>,
    pub pending_codes: Vec<Value>,
    pub counters: Vec<Value>,
    /// Items of a kind this version does not know: exported as stored, never dropped.
    pub other: Vec<Value>,
}

fn to_json(item: Item) -> Result<Value, StoreError> {
    let mut item = item;
    item.retain(|name, _| !NEVER_EXPORTED.contains(&name.as_str()));
    let mut value: Map<String, Value> = serde_dynamo::from_item(item)?;
    // The TTL attribute is when the item expires: worth saying, under its meaning.
    if let Some(expires) = value.remove(TTL_ATTRIBUTE) {
        value.insert("expires_at_epoch".to_owned(), expires);
    }
    Ok(Value::Object(value))
}

#[derive(Deserialize, Default)]
struct ExportsTaken {
    #[serde(default)]
    times: Vec<i64>,
    #[serde(default)]
    rev: u64,
}

/// How a request for one more export went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportSlot {
    Taken,
    /// The quota is spent; free again in this many seconds.
    Spent(u64),
    /// No live profile: an unknown user, or one erased.
    NoProfile,
}

impl PrivacyStore {
    /// Counts one export at `now` under `quota`, before anything is read for it: a read
    /// of the count, then one transaction that writes it if it is still as read and the
    /// profile is live, so concurrent requests cannot pass the quota and an erased
    /// account gets no new item.
    pub async fn take_export(
        &self,
        user: &UserId,
        quota: &ExportQuota,
        now: i64,
    ) -> Result<ExportSlot, StoreError> {
        let key = ItemKey::exports(user);
        for _ in 0..4 {
            let seen = get_consistent(&self.client, &self.table, &key).await?;
            let taken: ExportsTaken = seen
                .clone()
                .map(serde_dynamo::from_item)
                .transpose()?
                .unwrap_or_default();
            let times = match quota.take(&taken.times, now) {
                Ok(times) => times,
                Err(retry_after) => return Ok(ExportSlot::Spent(retry_after)),
            };
            let mut e = Expression::default();
            e.set(
                "times",
                AttributeValue::L(times.iter().map(|t| n(*t)).collect()),
            );
            e.set("rev", n(taken.rev + 1));
            e.set(TTL_ATTRIBUTE, n(now + quota.window_secs));
            match seen {
                None => {
                    let pk = e.name(PK);
                    e.condition(format!("attribute_not_exists({pk})"));
                }
                Some(_) => {
                    let (rev, seen_rev) = (e.name("rev"), e.value(n(taken.rev)));
                    e.condition(format!("{rev} = {seen_rev}"));
                }
            }
            let mut live = Expression::default();
            let version = live.name(VERSION);
            live.condition(format!("attribute_exists({version})"));
            usable(&mut live);
            let items = vec![
                condition_check(&self.table, &ItemKey::profile(user), live)?,
                update(&self.table, &key, e)?,
            ];
            match transact(&self.client, items).await? {
                Outcome::Done => return Ok(ExportSlot::Taken),
                Outcome::FirstFailed(Some(old))
                    if matches!(unusable(Some(&old)), StoreError::Disabled) =>
                {
                    return Err(StoreError::Disabled);
                }
                Outcome::FirstFailed(_) => return Ok(ExportSlot::NoProfile),
                // Another export counted meanwhile: read the count again.
                Outcome::Failed(..) | Outcome::Conflict => {}
            }
        }
        Err(StoreError::Unavailable("exports kept racing".into()))
    }

    /// Gives back the export taken at `at` after it could not be written.
    pub async fn give_back_export(&self, user: &UserId, at: i64) -> Result<(), StoreError> {
        let key = ItemKey::exports(user);
        let Some(item) = get_consistent(&self.client, &self.table, &key).await? else {
            return Ok(());
        };
        let taken: ExportsTaken = serde_dynamo::from_item(item)?;
        let mut e = Expression::default();
        let rest: Vec<AttributeValue> = taken
            .times
            .iter()
            .filter(|t| **t != at)
            .map(|t| n(*t))
            .collect();
        e.set("times", AttributeValue::L(rest));
        e.set("rev", n(taken.rev + 1));
        let (rev, seen_rev) = (e.name("rev"), e.value(n(taken.rev)));
        e.condition(format!("{rev} = {seen_rev}"));
        let result = update_item(&self.client, &self.table, &key, e).send().await;
        unless_condition_failed(result)
    }

    /// Every record of `user`: one paged Query of the partition (consent history of
    /// any length included) and one BatchGetItem for the credential and phone marker.
    /// `None` when the user has no live profile.
    pub async fn records(&self, user: &UserId) -> Result<Option<UserRecords>, StoreError> {
        let items = self.partition(user, "").await?;
        let mut records = UserRecords::default();
        let (mut email, mut phone) = (None, None);
        for item in items {
            let sk = text(&item, SK).unwrap_or_default().to_owned();
            if sk == PROFILE_SK {
                if is_erased(&item) {
                    return Ok(None);
                }
                email = text(&item, "email").and_then(|e| Email::parse(e).ok());
                phone = text(&item, "phone").and_then(|p| PhoneNumber::parse(p).ok());
                records.profile = Some(to_json(item)?);
            } else if sk.starts_with(CONSENT_LOG_PREFIX) {
                records.consent_history.push(to_json(item)?);
            } else if sk.starts_with(AUDIT_PREFIX) {
                records.administrative_changes.push(to_json(item)?);
            } else if sk.starts_with(SEGMENT_PREFIX) {
                records.segments.push(to_json(item)?);
            } else if sk == CI_SK {
                records.ci = Some(to_json(item)?);
            } else if sk == LOYALTY_SK {
                records.loyalty_card = Some(to_json(item)?);
            } else if sk == CREDENTIAL_SK {
                // Kept under the account: it holds no address (its hash is never exported).
                records.account = Some(to_json(item)?);
            } else if sk.starts_with(SESSION_PREFIX) {
                records.sessions.push(to_json(item)?);
            } else if sk == TOTP_SK {
                records.mfa_factors.extend(crate::mfa::exported(&item));
            } else if sk.starts_with(PASSKEY_PREFIX) {
                records.passkeys.extend(crate::passkeys::exported(&item));
            } else if let Some(purpose) = sk.strip_prefix(OTP_PREFIX) {
                let mut code = to_json(item)?;
                code["purpose"] = Value::from(purpose);
                records.pending_codes.push(code);
            } else if sk.starts_with(UPLOADS_PREFIX)
                || sk == EXPORTS_SK
                || sk.starts_with(crate::keys::SECOND_STEP_CODES_PREFIX)
            {
                let mut counter = to_json(item)?;
                counter["kind"] = Value::from(sk);
                records.counters.push(counter);
            } else {
                let mut other = to_json(item)?;
                other["record"] = Value::from(sk);
                records.other.push(other);
            }
        }
        if records.profile.is_none() {
            return Ok(None);
        }
        let credential_key = email.as_ref().map(ItemKey::credential);
        let marker_key = phone.as_ref().map(ItemKey::phone_owner);
        let keys: Vec<ItemKey> = [credential_key.clone(), marker_key.clone()]
            .into_iter()
            .flatten()
            .collect();
        if !keys.is_empty() {
            let mut found = batch_get(&self.client, &self.table, keys).await?;
            let mut owned = |key: Option<&ItemKey>| {
                key.and_then(|k| found.remove(k))
                    .filter(|item| text(item, "user_id") == Some(user.as_str()))
            };
            if let Some(credential) = owned(credential_key.as_ref()) {
                let mut account = to_json(credential)?;
                account["email"] = Value::from(email.as_ref().map(Email::normalized));
                records.account = Some(account);
            }
            if let Some(marker) = owned(marker_key.as_ref()) {
                let mut claim = to_json(marker)?;
                claim["phone"] = Value::from(phone.as_ref().map(|p| p.e164().to_owned()));
                records.phone_claim = Some(claim);
            }
        }
        Ok(Some(records))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_secret_and_no_key_is_exported() {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let session = Item::from([
            ("pk".to_owned(), s("USER#u1")),
            ("sk".to_owned(), s("SESSION#f1")),
            ("current".to_owned(), s("aa")),
            ("previous".to_owned(), s("bb")),
            ("superseded".to_owned(), AttributeValue::L(vec![s("cc")])),
            ("digest".to_owned(), s("dd")),
            ("password_hash".to_owned(), s("$argon2id$x")),
            ("rev".to_owned(), AttributeValue::N("3".into())),
            (
                "created_at".to_owned(),
                AttributeValue::N("1795574449".into()),
            ),
            (
                TTL_ATTRIBUTE.to_owned(),
                AttributeValue::N("1798166449".into()),
            ),
        ]);
        assert_eq!(
            to_json(session).unwrap(),
            serde_json::json!({"created_at": 1795574449, "expires_at_epoch": 1798166449})
        );
    }
}
