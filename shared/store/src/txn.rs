//! TransactWriteItems: building its items and reading why it was cancelled.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    CancellationReason, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use aws_sdk_dynamodb::Client;

use crate::StoreError;
use crate::expr::Expression;
use crate::item::Item;
use crate::keys::ItemKey;

fn invalid(e: impl ToString) -> StoreError {
    StoreError::Failed(e.to_string())
}

/// Sets an operation builder's condition, names and values from one built `Expression`.
macro_rules! expressed {
    ($builder:expr, $built:ident) => {
        $builder
            .set_condition_expression($built.condition)
            .set_expression_attribute_names((!$built.names.is_empty()).then_some($built.names))
            .set_expression_attribute_values($built.values)
    };
}

pub(crate) fn put(table: &str, item: Item, e: Expression) -> Result<TransactWriteItem, StoreError> {
    let built = e.build();
    let put = expressed!(Put::builder().table_name(table).set_item(Some(item)), built);
    Ok(TransactWriteItem::builder()
        .put(put.build().map_err(invalid)?)
        .build())
}

pub(crate) fn delete(
    table: &str,
    key: &ItemKey,
    e: Expression,
) -> Result<TransactWriteItem, StoreError> {
    let built = e.build();
    let delete = expressed!(
        Delete::builder()
            .table_name(table)
            .set_key(Some(key.to_item())),
        built
    );
    Ok(TransactWriteItem::builder()
        .delete(delete.build().map_err(invalid)?)
        .build())
}

/// An update that hands back the old item if its condition fails.
pub(crate) fn update(
    table: &str,
    key: &ItemKey,
    e: Expression,
) -> Result<TransactWriteItem, StoreError> {
    let built = e.build();
    let update = expressed!(
        Update::builder()
            .table_name(table)
            .set_key(Some(key.to_item()))
            .update_expression(built.update),
        built
    )
    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    Ok(TransactWriteItem::builder()
        .update(update.build().map_err(invalid)?)
        .build())
}

/// A single UpdateItem from `e` on `key`; callers add return values and send it.
pub(crate) fn update_item(
    client: &Client,
    table: &str,
    key: &ItemKey,
    e: Expression,
) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
    let built = e.build();
    expressed!(
        client
            .update_item()
            .table_name(table)
            .set_key(Some(key.to_item()))
            .update_expression(built.update),
        built
    )
}

/// A single PutItem of `item` under `e`'s condition; callers send it.
pub(crate) fn put_item(
    client: &Client,
    table: &str,
    item: Item,
    e: Expression,
) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
    let built = e.build();
    expressed!(
        client.put_item().table_name(table).set_item(Some(item)),
        built
    )
}

/// A single DeleteItem of `key` under `e`'s condition; callers send it.
pub(crate) fn delete_item(
    client: &Client,
    table: &str,
    key: &ItemKey,
    e: Expression,
) -> aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder {
    let built = e.build();
    expressed!(
        client
            .delete_item()
            .table_name(table)
            .set_key(Some(key.to_item())),
        built
    )
}

/// A single-item write whose failed condition means there is nothing to do.
pub(crate) fn unless_condition_failed<T, E, R>(
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>,
) -> Result<(), StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    none_if_condition_failed(result).map(|_| ())
}

/// A single-item write's output, or `None` when its condition failed.
pub(crate) fn none_if_condition_failed<T, E, R>(
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>,
) -> Result<Option<T>, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(out) => Ok(Some(out)),
        Err(err)
            if err.as_service_error().and_then(|e| e.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(None)
        }
        Err(err) => Err(err.into()),
    }
}

/// How a transaction went.
pub(crate) enum Outcome {
    Done,
    /// The first item's condition failed; its old state when DynamoDB returned it.
    FirstFailed(Option<Item>),
    /// Another item's condition failed: the first such position, and that item's old
    /// state when DynamoDB returned it.
    Failed(usize, Option<Item>),
    /// Lost a race with another transaction on the same items: read again and retry.
    Conflict,
}

pub(crate) async fn transact(
    client: &Client,
    items: Vec<TransactWriteItem>,
) -> Result<Outcome, StoreError> {
    let Err(err) = client
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await
    else {
        return Ok(Outcome::Done);
    };
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        err.as_service_error()
    else {
        return Err(err.into());
    };
    let reasons = cancelled.cancellation_reasons();
    let failed = |r: &CancellationReason| r.code() == Some("ConditionalCheckFailed");
    if let Some(first) = reasons.first().filter(|r| failed(r)) {
        return Ok(Outcome::FirstFailed(first.item().cloned()));
    }
    if let Some(position) = reasons.iter().position(failed) {
        return Ok(Outcome::Failed(position, reasons[position].item().cloned()));
    }
    if reasons
        .iter()
        .any(|r| r.code() == Some("TransactionConflict"))
    {
        return Ok(Outcome::Conflict);
    }
    Err(err.into())
}

/// Transaction items, each tagged with what its condition guards, so a cancellation names
/// what failed instead of a position.
pub(crate) struct Tagged<T> {
    items: Vec<TransactWriteItem>,
    tags: Vec<T>,
}

/// How a tagged transaction went.
pub(crate) enum Verdict<T> {
    Done,
    /// The condition of the item tagged so failed (the first such item).
    Refused(T),
    /// Lost a race with another transaction on the same items: read again and retry.
    Conflict,
}

impl<T: Copy> Tagged<T> {
    pub(crate) fn new() -> Self {
        Self {
            items: Vec::new(),
            tags: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, tag: T, item: TransactWriteItem) {
        self.items.push(item);
        self.tags.push(tag);
    }

    pub(crate) fn extend(&mut self, tag: T, items: impl IntoIterator<Item = TransactWriteItem>) {
        for item in items {
            self.push(tag, item);
        }
    }

    pub(crate) async fn send(&self, client: &Client) -> Result<Verdict<T>, StoreError> {
        Ok(self.send_reading(client).await?.0)
    }

    /// `send`, with the old state of the item whose condition refused it (when DynamoDB
    /// returned it: only when the item exists, and the item asked for it).
    pub(crate) async fn send_reading(
        &self,
        client: &Client,
    ) -> Result<(Verdict<T>, Option<Item>), StoreError> {
        Ok(match transact(client, self.items.clone()).await? {
            Outcome::Done => (Verdict::Done, None),
            Outcome::FirstFailed(old) => (Verdict::Refused(self.tags[0]), old),
            Outcome::Failed(position, old) => (Verdict::Refused(self.tags[position]), old),
            Outcome::Conflict => (Verdict::Conflict, None),
        })
    }
}

/// A condition on an item the transaction does not change.
pub(crate) fn condition_check(
    table: &str,
    key: &ItemKey,
    e: Expression,
) -> Result<TransactWriteItem, StoreError> {
    let built = e.build();
    let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(key.to_item()))
        .condition_expression(built.condition.unwrap_or_default())
        .set_expression_attribute_names((!built.names.is_empty()).then_some(built.names))
        .set_expression_attribute_values(built.values)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .map_err(invalid)?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}
