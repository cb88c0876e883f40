//! A DynamoDB item and the conversions every repository shares.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::StoreError;
use crate::keys::{ItemKey, PK, SK};

pub type Item = HashMap<String, AttributeValue>;

/// `value` as an item under `key`; `None` fields are left out rather than stored as NULL.
pub(crate) fn item_of<T: serde::Serialize>(key: &ItemKey, value: &T) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(value)?;
    item.retain(|_, v| !matches!(v, AttributeValue::Null(_)));
    item.extend(key.to_item());
    Ok(item)
}

/// A number attribute.
pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// A string attribute.
pub(crate) fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// A whole-number attribute of an item.
pub(crate) fn number(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

/// Unix seconds as RFC 3339 (UTC, whole seconds): how exports and lists show times.
pub(crate) fn rfc3339(secs: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The key an item was stored under.
pub(crate) fn key_of(item: &Item) -> Option<ItemKey> {
    match (item.get(PK), item.get(SK)) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => Some(ItemKey {
            pk: pk.clone(),
            sk: sk.clone(),
        }),
        _ => None,
    }
}

/// A string attribute of an item.
pub(crate) fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s),
        _ => None,
    }
}

/// One item by key, strongly consistent (`GetItem`).
pub(crate) async fn get_consistent(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: &ItemKey,
) -> Result<Option<Item>, StoreError> {
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(key.to_item()))
        .consistent_read(true)
        .send()
        .await?;
    Ok(out.item)
}
