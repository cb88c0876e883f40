//! The emulator's DynamoDB transactions, pinned to what DynamoDB documents and the store
//! relies on: all or nothing, a cancellation's reasons item by item (with the item when
//! asked for), one stream record per item written, and a stream reader that keeps
//! reading across a cancelled transaction (`make dev` follows the stream that way).
//! The emulator rolls a cancelled transaction back by the items it touched
//! (`tools/emulator/transactions.py`).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use integration_tests::{TestEnv, emulator_url, sdk_config};
use local_api::stream::StreamPoller;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn key(pk: &str, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

fn put_new(table: &str, pk: &str, value: &str) -> TransactWriteItem {
    let mut item = key(pk, "X");
    item.insert("value".into(), s(value));
    TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .unwrap(),
        )
        .build()
}

/// `SET value = :v`, creating the item if need be, under `condition` when given.
fn update(table: &str, pk: &str, value: &str, condition: Option<&str>) -> TransactWriteItem {
    TransactWriteItem::builder()
        .update(
            Update::builder()
                .table_name(table)
                .set_key(Some(key(pk, "X")))
                .update_expression("SET #v = :v")
                .expression_attribute_names("#v", "value")
                .expression_attribute_values(":v", s(value))
                .set_condition_expression(condition.map(str::to_owned))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build()
                .unwrap(),
        )
        .build()
}

async fn poller(env: &TestEnv) -> StreamPoller {
    let sdk = sdk_config(&emulator_url()).await;
    StreamPoller::new(
        &env.dynamodb,
        aws_sdk_dynamodbstreams::Client::new(&sdk),
        &env.table,
    )
    .await
    .unwrap()
}

/// (event name, partition key, whether the new image holds more than the keys).
async fn records(poller: &mut StreamPoller) -> Vec<(String, String, bool)> {
    let event = poller.poll().await.unwrap();
    event
        .records
        .into_iter()
        .map(|r| {
            let pk = match r.change.keys.get("pk") {
                Some(serde_dynamo::AttributeValue::S(pk)) => pk.clone(),
                other => panic!("a record without its key: {other:?}"),
            };
            (r.event_name, pk, r.change.new_image.len() > 2)
        })
        .collect()
}

async fn value_of(env: &TestEnv, pk: &str) -> Option<AttributeValue> {
    env.dynamodb
        .get_item()
        .table_name(&env.table)
        .set_key(Some(key(pk, "X")))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .and_then(|mut i| i.remove("value"))
}

#[tokio::test]
async fn a_cancelled_transaction_changes_nothing_and_names_each_items_reason() {
    let env = TestEnv::new().await;
    let table = env.table.clone();
    let mut stream = poller(&env).await;
    env.dynamodb
        .transact_write_items()
        .transact_items(put_new(&table, "held", "before"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        records(&mut stream).await,
        [("INSERT".into(), "held".into(), true)]
    );

    // The second item's condition fails: the first is not written either.
    let refused = env
        .dynamodb
        .transact_write_items()
        .transact_items(update(&table, "fresh", "new", None))
        .transact_items(update(
            &table,
            "held",
            "after",
            Some("attribute_not_exists(pk)"),
        ))
        .transact_items(
            TransactWriteItem::builder()
                .condition_check(
                    ConditionCheck::builder()
                        .table_name(&table)
                        .set_key(Some(key("absent", "X")))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    let reasons = match refused.as_service_error() {
        Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c)) => {
            c.cancellation_reasons().to_vec()
        }
        other => panic!("a cancellation, not {other:?}"),
    };
    let codes: Vec<Option<&str>> = reasons.iter().map(|r| r.code()).collect();
    assert_eq!(
        codes,
        [Some("None"), Some("ConditionalCheckFailed"), Some("None")]
    );
    assert_eq!(
        reasons[1].item().and_then(|i| i.get("value")),
        Some(&s("before")),
        "the item as it was, since ALL_OLD was asked for"
    );
    assert_eq!(value_of(&env, "fresh").await, None, "all or nothing");
    assert_eq!(value_of(&env, "held").await, Some(s("before")));

    // The reader that followed the stream before the cancellation sees what comes after
    // it, and nothing of the cancelled writes.
    env.dynamodb
        .transact_write_items()
        .transact_items(update(&table, "later", "one", None))
        .transact_items(update(&table, "held", "two", Some("attribute_exists(pk)")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        records(&mut stream).await,
        [
            ("INSERT".into(), "later".into(), true),
            ("MODIFY".into(), "held".into(), true)
        ],
        "one record per item written, an update that creates an item included"
    );
    assert_eq!(value_of(&env, "held").await, Some(s("two")));
}

#[tokio::test]
async fn an_update_that_creates_an_item_is_one_insert_on_the_stream() {
    let env = TestEnv::new().await;
    let mut stream = poller(&env).await;
    env.dynamodb
        .update_item()
        .table_name(&env.table)
        .set_key(Some(key("made", "X")))
        .update_expression("SET #v = :v")
        .expression_attribute_names("#v", "value")
        .expression_attribute_values(":v", s("v"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        records(&mut stream).await,
        [("INSERT".into(), "made".into(), true)]
    );
}
