//! Bounded counters: one conditional UpdateItem takes a unit of an allowance only while
//! fewer than the limit are taken, so concurrent callers cannot pass it together. The
//! daily image uploads and the hourly SMS cap count this way.

use aws_sdk_dynamodb::Client;

use crate::StoreError;
use crate::expr::Expression;
use crate::item::n;
use crate::keys::{ItemKey, TTL_ATTRIBUTE};
use crate::txn::{none_if_condition_failed, update_item};

pub(crate) const COUNT: &str = "count";

/// Takes one unit of `key`'s allowance of `limit`; false when it is spent. The item
/// expires at `expires_at`.
pub(crate) async fn take_one(
    client: &Client,
    table: &str,
    key: &ItemKey,
    limit: u32,
    expires_at: i64,
) -> Result<bool, StoreError> {
    let mut e = Expression::default();
    let count = e.name(COUNT);
    let (one, zero, max) = (e.value(n(1)), e.value(n(0)), e.value(n(limit)));
    e.set_raw(
        count.clone(),
        format!("if_not_exists({count}, {zero}) + {one}"),
    );
    e.set(TTL_ATTRIBUTE, n(expires_at));
    e.condition(format!("attribute_not_exists({count}) OR {count} < {max}"));
    let result = update_item(client, table, key, e).send().await;
    Ok(none_if_condition_failed(result)?.is_some())
}

/// Gives back a unit taken for something that did not happen. The last unit takes the
/// item with it (a conditional delete), so a failed attempt leaves nothing stored.
pub(crate) async fn give_back(
    client: &Client,
    table: &str,
    key: &ItemKey,
) -> Result<(), StoreError> {
    let mut last = Expression::default();
    let count = last.name(COUNT);
    let one = last.value(n(1));
    last.condition(format!("{count} = {one}"));
    let deleted = crate::txn::delete_item(client, table, key, last)
        .send()
        .await;
    if none_if_condition_failed(deleted)?.is_some() {
        return Ok(());
    }
    let mut e = Expression::default();
    let count = e.name(COUNT);
    let (one, zero) = (e.value(n(1)), e.value(n(0)));
    e.set_raw(count.clone(), format!("{count} - {one}"));
    e.condition(format!("{count} > {zero}"));
    let result = update_item(client, table, key, e).send().await;
    none_if_condition_failed(result).map(|_| ())
}

crate::table_store! {
    /// The hourly cap on texts, shared by every function that sends them.
    #[derive(Clone)]
    SmsQuota
}

impl SmsQuota {
    /// Takes one text of the hour starting at `hour` (epoch seconds) if fewer than
    /// `limit` went out in it; `new_numbers`: the count of texts to numbers no account
    /// has proved, else the count of all texts.
    pub async fn take(&self, hour: i64, limit: u32, new_numbers: bool) -> Result<bool, StoreError> {
        // Kept a day for operators to read; TTL deletes it after.
        let expires_at = hour + 24 * 3600;
        take_one(
            &self.client,
            &self.table,
            &Self::key(hour, new_numbers),
            limit,
            expires_at,
        )
        .await
    }

    /// Gives back a text of `hour` that was not sent.
    pub async fn give_back(&self, hour: i64, new_numbers: bool) -> Result<(), StoreError> {
        give_back(&self.client, &self.table, &Self::key(hour, new_numbers)).await
    }

    fn key(hour: i64, new_numbers: bool) -> ItemKey {
        if new_numbers {
            ItemKey::sms_hour_new_numbers(hour)
        } else {
            ItemKey::sms_hour(hour)
        }
    }
}
