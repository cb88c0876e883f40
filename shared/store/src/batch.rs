//! BatchGetItem with retries of unprocessed keys (exponential backoff, full jitter).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use rand::Rng;

use crate::StoreError;
use crate::item::{Item, key_of};
use crate::keys::{ItemKey, PK, SK};

/// DynamoDB's limit of keys per BatchGetItem.
pub const MAX_KEYS: usize = 100;
const MAX_ROUNDS: u32 = 6;
const BASE_BACKOFF_MS: u64 = 25;

/// Strongly consistent reads of up to 100 keys; the items found, by key.
pub async fn batch_get(
    client: &Client,
    table: &str,
    keys: Vec<ItemKey>,
) -> Result<HashMap<ItemKey, Item>, StoreError> {
    assert!(
        keys.len() <= MAX_KEYS,
        "BatchGetItem takes at most {MAX_KEYS} keys"
    );
    let mut found = HashMap::new();
    let mut pending: Vec<Item> = keys.iter().map(ItemKey::to_item).collect();
    for round in 0..MAX_ROUNDS {
        if pending.is_empty() {
            return Ok(found);
        }
        if round > 0 {
            let jitter_ms = rand::rng().random_range(0..=BASE_BACKOFF_MS << round);
            tokio::time::sleep(Duration::from_millis(jitter_ms)).await;
        }
        let request = KeysAndAttributes::builder()
            .set_keys(Some(std::mem::take(&mut pending)))
            .consistent_read(true)
            .build()
            .map_err(|e| StoreError::Failed(e.to_string()))?;
        let output = client
            .batch_get_item()
            .request_items(table, request)
            .send()
            .await?;
        for item in output
            .responses
            .unwrap_or_default()
            .remove(table)
            .unwrap_or_default()
        {
            if let Some(key) = key_of(&item) {
                found.insert(key, item);
            }
        }
        pending = output
            .unprocessed_keys
            .unwrap_or_default()
            .remove(table)
            .map(|k| k.keys)
            .unwrap_or_default();
    }
    if pending.is_empty() {
        Ok(found)
    } else {
        Err(StoreError::Unavailable(format!(
            "{} keys stayed unprocessed",
            pending.len()
        )))
    }
}

/// Every item of one partition, strongly consistent: one Query, more only past 1 MB
/// (the segment catalog, API tokens, a user's items for an export).
pub async fn query_partition(
    client: &Client,
    table: &str,
    pk: &str,
) -> Result<Vec<Item>, StoreError> {
    all_pages(
        client
            .query()
            .table_name(table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
            .consistent_read(true),
    )
    .await
}

/// Every item `query` finds, page after page.
pub(crate) async fn all_pages(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = query.clone().set_exclusive_start_key(start).send().await?;
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            return Ok(items);
        }
    }
}

/// A Query of one user's items whose sort key starts with `prefix`; callers add paging,
/// ordering and projection.
pub(crate) fn user_prefix_query(
    client: &Client,
    table: &str,
    user: &domain::UserId,
    prefix: &str,
) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
    client
        .query()
        .table_name(table)
        .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
        .expression_attribute_names("#pk", PK)
        .expression_attribute_names("#sk", SK)
        .expression_attribute_values(":pk", AttributeValue::S(ItemKey::user_partition(user)))
        .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
}

/// DynamoDB's limit of requests per BatchWriteItem.
pub const MAX_WRITES: usize = 25;

/// Deletes up to 25 items in one BatchWriteItem (plus retries of unprocessed ones).
/// Deleting an item that is gone is no error, so a repeated call is harmless.
pub(crate) async fn batch_delete(
    client: &Client,
    table: &str,
    keys: &[ItemKey],
) -> Result<(), StoreError> {
    use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
    assert!(
        keys.len() <= MAX_WRITES,
        "BatchWriteItem takes at most {MAX_WRITES} requests"
    );
    let mut pending = keys
        .iter()
        .map(|key| {
            let delete = DeleteRequest::builder()
                .set_key(Some(key.to_item()))
                .build()
                .map_err(|e| StoreError::Failed(e.to_string()))?;
            Ok(WriteRequest::builder().delete_request(delete).build())
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    for round in 0..MAX_ROUNDS {
        if pending.is_empty() {
            return Ok(());
        }
        if round > 0 {
            let jitter_ms = rand::rng().random_range(0..=BASE_BACKOFF_MS << round);
            tokio::time::sleep(Duration::from_millis(jitter_ms)).await;
        }
        let output = client
            .batch_write_item()
            .request_items(table, std::mem::take(&mut pending))
            .send()
            .await?;
        pending = output
            .unprocessed_items
            .unwrap_or_default()
            .remove(table)
            .unwrap_or_default();
    }
    if pending.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Unavailable(format!(
            "{} deletes stayed unprocessed",
            pending.len()
        )))
    }
}
