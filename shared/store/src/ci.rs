//! Partner identifiers: one `CI` item per user, written only for users with a profile.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use crate::StoreError;
use crate::account_audit::{FieldChange, FieldChanges, audit_put};
use crate::batch::batch_get;
use crate::expr::Expression;
use crate::keys::ItemKey;
use crate::profile_item::{VERSION, is_erased, unusable, usable};
use crate::txn::{Outcome, Tagged, Verdict, condition_check, transact, update};
use domain::{Actor, CiProperty, CiValues, UserId, timestamp};
use serde_json::Value;

/// The items of a removal, by what each guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The user's record, holding at least one of the names removed.
    Record,
    /// The account is not being erased.
    Account,
    Audit,
}

crate::table_store! {
    #[derive(Clone, Debug)]
    CiStore
}

/// What the store knows of one user: whether they have a profile, and their identifiers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CiRecord {
    pub has_profile: bool,
    pub values: CiValues,
}

#[derive(Debug, thiserror::Error)]
pub enum CiError {
    #[error("the user has no profile")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CiStore {
    /// One transaction: the profile must exist; the identifiers are set, and the
    /// partner's change goes on the account's record.
    pub async fn set(
        &self,
        user: &UserId,
        values: &[(CiProperty, String)],
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), CiError> {
        let mut check = Expression::default();
        let version = check.name("version");
        check.condition(format!("attribute_exists({version})"));
        usable(&mut check);
        let mut set = Expression::default();
        for (property, value) in values {
            set.set(property.as_str(), AttributeValue::S(value.clone()));
        }
        set.set("updated_at", AttributeValue::S(timestamp(now)));
        set.count_write(VERSION);
        let changes = ci_changes(values.iter().map(|(p, v)| (*p, Value::from(v.as_str()))));
        let items = vec![
            condition_check(&self.table, &ItemKey::profile(user), check)?,
            update(&self.table, &ItemKey::ci(user), set)?,
            audit_put(&self.table, user, actor, now, &changes)?,
        ];
        match transact(&self.client, items).await? {
            Outcome::Done => Ok(()),
            Outcome::FirstFailed(_) => Err(CiError::NotFound),
            Outcome::Failed(..) | Outcome::Conflict => {
                Err(StoreError::Unavailable("CI write raced".into()).into())
            }
        }
    }

    /// Profiles and identifiers of up to 50 users in one BatchGetItem.
    pub async fn get_many(
        &self,
        users: &[UserId],
    ) -> Result<HashMap<UserId, CiRecord>, StoreError> {
        let keys = users
            .iter()
            .flat_map(|u| [ItemKey::profile(u), ItemKey::ci(u)])
            .collect();
        let mut found = batch_get(&self.client, &self.table, keys).await?;
        let mut out = HashMap::new();
        for user in users {
            let has_profile = found
                .remove(&ItemKey::profile(user))
                .is_some_and(|item| !is_erased(&item));
            let values = found
                .remove(&ItemKey::ci(user))
                .map(serde_dynamo::from_item)
                .transpose()?
                .unwrap_or_default();
            out.insert(
                user.clone(),
                CiRecord {
                    has_profile,
                    values,
                },
            );
        }
        Ok(out)
    }

    /// Removes the named identifiers, on the record, in one transaction (nothing when
    /// the user has none of them). The item stays when the last one goes: it keeps the
    /// identifiers' version, so a later set counts on from it.
    pub async fn remove(
        &self,
        user: &UserId,
        properties: &[CiProperty],
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if properties.is_empty() {
            return Ok(());
        }
        let mut e = Expression::default();
        let mut held = Vec::new();
        for property in properties {
            let path = e.name(property.as_str());
            held.push(format!("attribute_exists({path})"));
            e.remove(path);
        }
        e.set("updated_at", AttributeValue::S(timestamp(now)));
        e.count_write(VERSION);
        e.condition(held.join(" OR "));
        // An account being erased takes no new record (its last batch may be past), nor
        // does a disabled one.
        let mut alive = Expression::default();
        usable(&mut alive);
        let changes = ci_changes(properties.iter().map(|p| (*p, Value::Null)));
        let mut items = Tagged::new();
        items.push(Part::Record, update(&self.table, &ItemKey::ci(user), e)?);
        items.push(
            Part::Account,
            condition_check(&self.table, &ItemKey::profile(user), alive)?,
        );
        items.push(
            Part::Audit,
            audit_put(&self.table, user, actor, now, &changes)?,
        );
        match items.send_reading(&self.client).await? {
            (Verdict::Done, _) => Ok(()),
            // None of them held: nothing to remove.
            (Verdict::Refused(Part::Record), _) => Ok(()),
            (Verdict::Refused(Part::Account), old) => Err(unusable(old.as_ref())),
            (Verdict::Refused(Part::Audit) | Verdict::Conflict, _) => {
                Err(StoreError::Unavailable("CI write raced".into()))
            }
        }
    }
}

/// The audit record of identifiers set (`to` the value) or removed (`to` null).
fn ci_changes(values: impl Iterator<Item = (CiProperty, Value)>) -> FieldChanges {
    values
        .map(|(property, to)| {
            (
                format!("ci.{}", property.as_str()),
                FieldChange { from: None, to },
            )
        })
        .collect()
}
