//! Partner identifiers: one `CI` item per user, written only for users with a profile.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};

use crate::StoreError;
use crate::batch::batch_get;
use crate::expr::Expression;
use crate::keys::{ItemKey, PK};
use crate::profile_item::{ERASURE, is_erased};
use crate::txn::{
    Outcome, condition_check, transact, unless_condition_failed, update, update_item,
};
use domain::{CiProperty, CiValues, UserId, timestamp};

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

    /// One transaction: the profile must exist; the identifiers are set.
    pub async fn set(
        &self,
        user: &UserId,
        values: &[(CiProperty, String)],
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
        let items = vec![
            condition_check(&self.table, &ItemKey::profile(user), check)?,
            update(&self.table, &ItemKey::ci(user), set)?,
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

    /// Removes the named identifiers; the item goes when its last one does.
    pub async fn remove(&self, user: &UserId, properties: &[CiProperty]) -> Result<(), StoreError> {
        let mut e = Expression::default();
        for property in properties {
            let path = e.name(property.as_str());
            e.remove(path);
        }
        let pk = e.name(PK);
        e.condition(format!("attribute_exists({pk})"));
        let result = update_item(&self.client, &self.table, &ItemKey::ci(user), e)
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let remaining = match result {
            Ok(out) => out.attributes.unwrap_or_default(),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                return Ok(());
            }
            Err(err) => return Err(err.into()),
        };
        if CiProperty::ALL
            .iter()
            .any(|p| remaining.contains_key(p.as_str()))
        {
            return Ok(());
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
