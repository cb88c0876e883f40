//! Partner identifiers: one `CI` item per user, written only for users with a profile.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use crate::StoreError;
use crate::account_audit::{FieldChange, FieldChanges, audit_put};
use crate::batch::batch_get;
use crate::expr::Expression;
use crate::keys::{ItemKey, PK};
use crate::profile_item::{ERASURE, is_erased};
use crate::txn::{Outcome, condition_check, transact, unless_condition_failed, update};
use domain::{CiProperty, CiValues, ConsentActor, UserId, timestamp};
use serde_json::Value;

#[derive(Clone, Debug)]
pub struct CiStore {
    client: Client,
    table: String,
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
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// One transaction: the profile must exist; the identifiers are set, and the
    /// partner's change goes on the account's record.
    pub async fn set(
        &self,
        user: &UserId,
        values: &[(CiProperty, String)],
        actor: &ConsentActor,
        now: DateTime<Utc>,
    ) -> Result<(), CiError> {
        let mut check = Expression::default();
        let (version, erasure) = (check.name("version"), check.name(ERASURE));
        check.condition(format!(
            "attribute_exists({version}) AND attribute_not_exists({erasure})"
        ));
        let mut set = Expression::default();
        for (property, value) in values {
            set.set(property.as_str(), AttributeValue::S(value.clone()));
        }
        set.set("updated_at", AttributeValue::S(timestamp(now)));
        let changes = ci_changes(values.iter().map(|(p, v)| (*p, Value::from(v.as_str()))));
        let items = vec![
            condition_check(&self.table, &ItemKey::profile(user), check)?,
            update(&self.table, &ItemKey::ci(user), set)?,
            audit_put(&self.table, user, actor, now, &changes)?,
        ];
        match transact(&self.client, items).await? {
            Outcome::Done => Ok(()),
            Outcome::FirstFailed(_) => Err(CiError::NotFound),
            Outcome::Failed(_) | Outcome::Conflict => {
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
    /// the user has none); then the item goes if that was its last one.
    pub async fn remove(
        &self,
        user: &UserId,
        properties: &[CiProperty],
        actor: &ConsentActor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut e = Expression::default();
        for property in properties {
            let path = e.name(property.as_str());
            e.remove(path);
        }
        e.set("updated_at", AttributeValue::S(timestamp(now)));
        let pk = e.name(PK);
        e.condition(format!("attribute_exists({pk})"));
        // An account being erased takes no new record: its last batch may be past.
        let mut alive = Expression::default();
        let erasure = alive.name(ERASURE);
        alive.condition(format!("attribute_not_exists({erasure})"));
        let changes = ci_changes(properties.iter().map(|p| (*p, Value::Null)));
        let items = vec![
            update(&self.table, &ItemKey::ci(user), e)?,
            condition_check(&self.table, &ItemKey::profile(user), alive)?,
            audit_put(&self.table, user, actor, now, &changes)?,
        ];
        match transact(&self.client, items).await? {
            Outcome::Done => {}
            // No identifiers: nothing to remove.
            Outcome::FirstFailed(_) => return Ok(()),
            Outcome::Failed(1) => return Err(StoreError::Erased),
            Outcome::Failed(_) | Outcome::Conflict => {
                return Err(StoreError::Unavailable("CI write raced".into()));
            }
        }
        // The last identifier went: drop the item, unless one was set meanwhile.
        let mut d = Expression::default();
        let conditions: Vec<String> = CiProperty::ALL
            .iter()
            .map(|p| format!("attribute_not_exists({})", d.name(p.as_str())))
            .collect();
        d.condition(conditions.join(" AND "));
        let built = d.build();
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(ItemKey::ci(user).to_item()))
            .set_condition_expression(built.condition)
            .set_expression_attribute_names(Some(built.names))
            .send()
            .await;
        unless_condition_failed(deleted)
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
