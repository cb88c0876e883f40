//! A profile's image: the day's upload count, reserved before anything is
//! stored and released if the upload fails, and the profile's pointer to its objects.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, NaiveDate, Utc};
use domain::{ProfilePatch, UserId};

use crate::StoreError;
use crate::counter;
use crate::keys::ItemKey;
use crate::profile_item::{AVATAR_KEYS, AVATAR_URL, Guard, unusable, update_expression};
use crate::profiles::ProfileStore;
use crate::txn::update_item;

/// How a reservation of one upload went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadSlot {
    Reserved,
    /// The day's limit is spent.
    Spent,
}

impl ProfileStore {
    /// Counts one upload of `day` if fewer than `limit` were made: one conditional
    /// UpdateItem, so concurrent uploads cannot pass the limit.
    pub async fn reserve_upload(
        &self,
        user: &UserId,
        day: NaiveDate,
        limit: u32,
        expires_at: i64,
    ) -> Result<UploadSlot, StoreError> {
        let key = ItemKey::uploads(user, day);
        Ok(
            match counter::take_one(&self.client, &self.table, &key, limit, expires_at).await? {
                true => UploadSlot::Reserved,
                false => UploadSlot::Spent,
            },
        )
    }

    /// Gives back a reserved upload that stored nothing.
    pub async fn release_upload(&self, user: &UserId, day: NaiveDate) -> Result<(), StoreError> {
        counter::give_back(&self.client, &self.table, &ItemKey::uploads(user, day)).await
    }

    /// The object keys of the profile's image, to retire once a write replaced it.
    pub async fn avatar_keys(&self, user: &UserId) -> Result<Vec<String>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(ItemKey::profile(user).to_item()))
            .projection_expression(AVATAR_KEYS)
            .send()
            .await?;
        Ok(match out.item.as_ref().and_then(|i| i.get(AVATAR_KEYS)) {
            Some(AttributeValue::Ss(keys)) => keys.clone(),
            _ => Vec::new(),
        })
    }

    /// Points the profile (created if need be) at a new image; returns the object keys
    /// of the image it replaced.
    pub async fn set_avatar(
        &self,
        user: &UserId,
        url: &str,
        keys: &[String],
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let mut e = update_expression(user, &ProfilePatch::default(), now, Guard::Optimistic);
        e.set(AVATAR_URL, AttributeValue::S(url.to_owned()));
        e.set(AVATAR_KEYS, AttributeValue::Ss(keys.to_vec()));
        let sent = update_item(&self.client, &self.table, &ItemKey::profile(user), e)
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        // The only condition of an optimistic write that sets no attribute: neither erased
        // nor disabled.
        let out = match sent {
            Ok(out) => out,
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    return Err(unusable(failed.item.as_ref()));
                }
                _ => return Err(err.into()),
            },
        };
        Ok(
            match out.attributes.as_ref().and_then(|a| a.get(AVATAR_KEYS)) {
                Some(AttributeValue::Ss(old)) => old.clone(),
                _ => Vec::new(),
            },
        )
    }
}
