//! Users brought over from another system, each with its claims in one transaction: the
//! profile (fields, attributes, consents at the times they were given, the created time
//! kept), the credential (the email's, or the account's without one) with the password
//! hash as the other system stored it, the number's claim when it was proven there, its
//! partner identifiers and segments, and the audit entries saying who brought it.
//!
//! Re-running an import changes nothing: the profile keeps the digest of the line that
//! made it, and a line whose user exists with that digest is unchanged. So a killed
//! import is finished by running it again.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use domain::import::ImportedUser;
use domain::{Actor, ConsentChange, UserId, timestamp};
use serde_json::Value;

use crate::StoreError;
use crate::account_audit::{FieldChange, FieldChanges, audit_put};
use crate::accounts::AccountStore;
use crate::batch::batch_get;
use crate::consent_item::{audit_puts_at, set_consents_at};
use crate::expr::Expression;
use crate::item::{Item, text};
use crate::keys::{ItemKey, PK};
use crate::markers::claim_phone;
use crate::profile_item::{Guard, VERSION, created_expression};
use crate::txn::{Tagged, Verdict, condition_check, put, update};

/// The profile attribute holding the digest of the import line that made it.
pub(crate) const IMPORT_DIGEST: &str = "import_digest";

/// What became of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    Imported,
    /// Imported already, from the same line.
    Unchanged,
    /// Not written; why.
    Refused(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Profile,
    Credential,
    Number,
    Segment,
    Other,
}

/// The password hash of an account imported without one: nothing verifies against it,
/// so the account sets its first password by a reset.
const NO_PASSWORD: &str = "!";

impl AccountStore {
    /// Writes `user` as `id`; `digest` names the line it came from.
    pub async fn import(
        &self,
        id: &UserId,
        user: &ImportedUser,
        digest: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<ImportOutcome, StoreError> {
        // Anything under the id: this line's earlier import, or someone else's.
        if self.holds_items(id).await? {
            return self.existing(id, digest).await;
        }
        let items = self.import_items(id, user, digest, actor, now)?;
        let mut verdict = items.send(&self.client).await?;
        // Lost a race with another write to the same items: once more, then say so.
        if matches!(verdict, Verdict::Conflict) {
            verdict = items.send(&self.client).await?;
        }
        Ok(match verdict {
            Verdict::Done => ImportOutcome::Imported,
            Verdict::Refused(Part::Profile) => self.existing(id, digest).await?,
            Verdict::Refused(Part::Credential) if user.email.is_some() => refused_email(),
            Verdict::Refused(Part::Credential) => {
                ImportOutcome::Refused("user_id: the account has a password already".into())
            }
            Verdict::Refused(Part::Number) => refused_phone(),
            Verdict::Refused(Part::Segment) => {
                ImportOutcome::Refused("segments: no such segment in the catalog".into())
            }
            Verdict::Refused(Part::Other) => {
                return Err(StoreError::Failed("an import's audit key was taken".into()));
            }
            Verdict::Conflict => {
                return Err(StoreError::Unavailable("the import kept racing".into()));
            }
        })
    }

    /// What `import` would do, reading only: the user, the email's and the number's
    /// claims and the segments, in one BatchGetItem.
    pub async fn import_check(
        &self,
        id: &UserId,
        user: &ImportedUser,
        digest: &str,
    ) -> Result<ImportOutcome, StoreError> {
        let profile = ItemKey::profile(id);
        let credential = credential_key(id, user);
        let number = user
            .phone
            .as_ref()
            .filter(|_| user.phone_verified)
            .map(ItemKey::phone_owner);
        let segments: Vec<ItemKey> = user.segments.iter().map(|s| ItemKey::segment(*s)).collect();
        let mut keys = vec![profile.clone(), credential.clone()];
        keys.extend(number.clone());
        keys.extend(segments.iter().cloned());
        let found = batch_get(&self.client, &self.table, keys).await?;
        if let Some(item) = found.get(&profile) {
            return Ok(outcome_of_existing(item, digest));
        }
        // No profile, but items (an identity provider's user with a segment).
        if self.holds_items(id).await? {
            return Ok(refused_id());
        }
        if found.contains_key(&credential) {
            return Ok(if user.email.is_some() {
                refused_email()
            } else {
                ImportOutcome::Refused("user_id: the account has a password already".into())
            });
        }
        if let Some(number) = number
            && let Some(holder) = found.get(&number)
            && text(holder, "user_id") != Some(id.as_str())
        {
            return Ok(refused_phone());
        }
        if segments.iter().any(|s| !found.contains_key(s)) {
            return Ok(ImportOutcome::Refused(
                "segments: no such segment in the catalog".into(),
            ));
        }
        Ok(ImportOutcome::Imported)
    }

    /// Whether anything is stored under `id`: one Query of at most one item.
    async fn holds_items(&self, id: &UserId) -> Result<bool, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", AttributeValue::S(ItemKey::user_partition(id)))
            .consistent_read(true)
            .limit(1)
            .send()
            .await?;
        Ok(!out.items.unwrap_or_default().is_empty())
    }

    async fn existing(&self, id: &UserId, digest: &str) -> Result<ImportOutcome, StoreError> {
        let item = crate::item::get_consistent(&self.client, &self.table, &ItemKey::profile(id))
            .await?
            .unwrap_or_default();
        Ok(outcome_of_existing(&item, digest))
    }

    fn import_items(
        &self,
        id: &UserId,
        user: &ImportedUser,
        digest: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Tagged<Part>, StoreError> {
        let table = &self.table;
        let created = user.created_at.unwrap_or(now);
        let consents: Vec<(ConsentChange, DateTime<Utc>)> = user
            .consents
            .iter()
            .map(|(channel, to, at)| {
                let change = ConsentChange {
                    channel: *channel,
                    from: None,
                    to: *to,
                };
                (change, *at)
            })
            .collect();
        let mut p = created_expression(id, &user.profile, now, created, Guard::New);
        if let Some(email) = &user.email {
            p.set("email", AttributeValue::S(email.as_str().to_owned()));
        }
        if let Some(phone) = &user.phone {
            p.set("phone", AttributeValue::S(phone.e164().to_owned()));
            p.set("phone_verified", AttributeValue::Bool(user.phone_verified));
        }
        p.set(IMPORT_DIGEST, AttributeValue::S(digest.to_owned()));
        set_consents_at(&mut p, consents.iter().map(|(c, at)| (c, *at)), actor);

        let mut txn = Tagged::new();
        txn.push(Part::Profile, update(table, &ItemKey::profile(id), p)?);
        txn.push(Part::Credential, credential(table, id, user, now)?);
        if let Some(phone) = user.phone.as_ref().filter(|_| user.phone_verified) {
            txn.push(
                Part::Number,
                claim_phone(table, phone, id, &timestamp(created))?,
            );
        }
        for segment in &user.segments {
            let mut exists = Expression::default();
            let pk = exists.name(PK);
            exists.condition(format!("attribute_exists({pk})"));
            txn.push(
                Part::Segment,
                condition_check(table, &ItemKey::segment(*segment), exists)?,
            );
            let mut membership = Expression::default();
            membership.set("segment_id", AttributeValue::N(segment.get().to_string()));
            membership.set("assigned_at", AttributeValue::S(timestamp(now)));
            membership.set(VERSION, AttributeValue::N("1".into()));
            txn.push(
                Part::Other,
                update(table, &ItemKey::membership(id, *segment), membership)?,
            );
        }
        if !user.ci.is_empty() {
            let mut ci = Expression::default();
            for (property, value) in &user.ci {
                ci.set(property.as_str(), AttributeValue::S(value.clone()));
            }
            ci.set("updated_at", AttributeValue::S(timestamp(now)));
            ci.set(VERSION, AttributeValue::N("1".into()));
            txn.push(Part::Other, update(table, &ItemKey::ci(id), ci)?);
        }
        txn.extend(
            Part::Other,
            audit_puts_at(table, id, consents.iter().map(|(c, at)| (c, *at)), actor)?,
        );
        txn.push(
            Part::Other,
            audit_put(table, id, actor, now, &imported(user))?,
        );
        Ok(txn)
    }
}

fn refused_email() -> ImportOutcome {
    ImportOutcome::Refused("email: another account holds it".into())
}

fn refused_id() -> ImportOutcome {
    ImportOutcome::Refused("user_id: another account has it".into())
}

fn refused_phone() -> ImportOutcome {
    ImportOutcome::Refused("phone: another account holds it".into())
}

fn outcome_of_existing(item: &Item, digest: &str) -> ImportOutcome {
    if text(item, IMPORT_DIGEST) == Some(digest) {
        ImportOutcome::Unchanged
    } else {
        refused_id()
    }
}

/// Where the account's password goes: under its email, or under the account.
fn credential_key(id: &UserId, user: &ImportedUser) -> ItemKey {
    match &user.email {
        Some(email) => ItemKey::credential(email),
        None => ItemKey::user_credential(id),
    }
}

fn credential(
    table: &str,
    id: &UserId,
    user: &ImportedUser,
    now: DateTime<Utc>,
) -> Result<TransactWriteItem, StoreError> {
    let hash = user.password_hash.as_deref().unwrap_or(NO_PASSWORD);
    let mut item = Item::from([
        (
            "user_id".to_owned(),
            AttributeValue::S(id.as_str().to_owned()),
        ),
        (
            "password_hash".to_owned(),
            AttributeValue::S(hash.to_owned()),
        ),
        (
            "email_verified".to_owned(),
            AttributeValue::Bool(user.email_verified),
        ),
        (
            "phone_verified".to_owned(),
            AttributeValue::Bool(user.phone_verified),
        ),
        ("created_at".to_owned(), AttributeValue::S(timestamp(now))),
        (VERSION.to_owned(), AttributeValue::N("1".into())),
    ]);
    item.extend(credential_key(id, user).to_item());
    let mut e = Expression::default();
    let pk = e.name(PK);
    e.condition(format!("attribute_not_exists({pk})"));
    put(table, item, e)
}

/// The audit entry of the import: what came over, never the hash.
fn imported(user: &ImportedUser) -> FieldChanges {
    let mut what = serde_json::Map::new();
    what.insert("email".into(), Value::Bool(user.email.is_some()));
    what.insert("phone".into(), Value::Bool(user.phone.is_some()));
    what.insert("password".into(), Value::Bool(user.password_hash.is_some()));
    FieldChanges::from([(
        "imported".to_owned(),
        FieldChange {
            from: None,
            to: Value::Object(what),
        },
    )])
}
