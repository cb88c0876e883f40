//! What committed writes mean as change events (issue 14, started): real writes through
//! the routes, their items read back as a stream record's images would carry them, mapped
//! by `store::stream`. The stream consumer that will deliver them is not built yet.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::{TestEnv, api_token, emails_to, user_token_with};
use serde_json::{Value, json};
use store::stream::{RecordKind, StreamRecord, events_of};

type Item = HashMap<String, AttributeValue>;

fn find(items: &[Item], pk_prefix: &str, sk: &str) -> Option<Item> {
    items
        .iter()
        .find(|i| {
            matches!(i.get("pk"), Some(AttributeValue::S(p)) if p.starts_with(pk_prefix))
                && matches!(i.get("sk"), Some(AttributeValue::S(s)) if s.starts_with(sk))
        })
        .cloned()
}

fn record(kind: RecordKind, old: Option<Item>, new: Option<Item>) -> StreamRecord {
    StreamRecord {
        id: "49000000000000000000000000000000000000000000000000000000".into(),
        kind,
        time: "2026-11-24T22:00:00Z".into(),
        old,
        new,
    }
}

/// Every event checked against its schema (and for secrets) before a test looks at it.
fn checked(events: Vec<domain::events::ChangeEvent>) -> Vec<domain::events::ChangeEvent> {
    checked_values(
        events
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect(),
    );
    events
}

fn types_and_data(record: &StreamRecord) -> Vec<(String, Value)> {
    checked(events_of(record).unwrap())
        .into_iter()
        .map(|e| (e.event_type.as_str().to_owned(), e.data))
        .collect()
}

#[test]
fn every_event_type_has_its_schema_and_no_other_schema_exists() {
    let dir = integration_tests::workspace_root().join("events/schemas");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut types: Vec<String> = domain::events::EventType::ALL
        .iter()
        .map(|t| format!("{}.json", t.as_str()))
        .collect();
    types.sort();
    assert_eq!(files, types);
}

#[tokio::test]
async fn sign_up_verify_and_profile_writes_mean_their_events() {
    let env = TestEnv::new().await;
    let email = format!("ev-{:08x}@example.com", rand::random::<u32>());
    let r = env
        .request("POST", "/api/v1/accounts/users")
        .json(json!({"email": email, "password": "securepassword123",
                     "confirm_password": "securepassword123", "first_name": "Ada"}))
        .send()
        .await;
    assert_eq!(r.status, 201);
    let user = r.json()["data"]["id"].as_str().unwrap().to_owned();
    let items = env.scan_all().await;
    let profile = find(&items, "USER#", "PROFILE").unwrap();
    let credential = find(&items, "EMAIL#", "CREDENTIAL").unwrap();

    let created = types_and_data(&record(RecordKind::Insert, None, Some(profile.clone())));
    assert_eq!(created[0].0, "profile.created");
    assert_eq!(created[0].1["fields"]["first_name"], "Ada");
    let registered =
        events_of(&record(RecordKind::Insert, None, Some(credential.clone()))).unwrap();
    assert_eq!(registered[0].event_type.as_str(), "account.registered");
    assert_eq!(registered[0].user_id, user);
    assert_eq!(registered[0].data["email"], email.as_str());
    let text = serde_json::to_string(&registered).unwrap();
    assert!(
        !text.contains("argon2"),
        "no password hash in an event: {text}"
    );

    // The emailed code verifies the account.
    let code = emails_to(&email)[0]
        .1
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_owned();
    let r = env
        .request("POST", "/users/verify")
        .json(json!({"email": email, "code": code}))
        .send()
        .await;
    assert_eq!(r.status, 200);
    let verified = find(&env.scan_all().await, "EMAIL#", "CREDENTIAL").unwrap();
    let events = types_and_data(&record(
        RecordKind::Modify,
        Some(credential),
        Some(verified),
    ));
    assert_eq!(
        events,
        [("account.verified".into(), json!({"email": email}))]
    );

    // Two fields changed: one profile.updated naming them.
    let r = env
        .request("PATCH", "/users/profile")
        .bearer(&user_token_with(&user, &[]))
        .json(json!({"first_name": "Augusta", "last_name": "King"}))
        .send()
        .await;
    assert_eq!(r.status, 200);
    let after = find(&env.scan_all().await, "USER#", "PROFILE").unwrap();
    let events =
        checked(events_of(&record(RecordKind::Modify, Some(profile), Some(after))).unwrap());
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type.as_str(), "profile.updated");
    assert_eq!(
        events[0].data["changed"],
        json!(["first_name", "last_name"])
    );
    assert_eq!(events[0].version, Some(2));
}

#[tokio::test]
async fn a_partner_consent_change_names_the_api_and_the_token() {
    let env = TestEnv::new().await;
    env.request("PATCH", "/users/profile")
        .bearer(&user_token_with("User_1", &[]))
        .json(json!({"first_name": "Ada"}))
        .send()
        .await;
    let token = api_token(&env, &["profiles:write"]).await;
    let r = env
        .request("POST", "/api/v1/users/profile/update")
        .bearer(&token)
        .json(json!({"user_properties": [{"user_id": "User_1", "properties": {"mkt_flag": "Subscribed"}}]}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let entry = find(&env.scan_all().await, "USER#", "CONSENTLOG#").unwrap();
    let events = checked(events_of(&record(RecordKind::Insert, None, Some(entry))).unwrap());
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type.as_str(), "consent.changed");
    assert_eq!(events[0].data["source"], "api");
    assert!(
        events[0].data["actor"]
            .as_str()
            .unwrap()
            .starts_with("tok_")
    );
    assert_eq!(events[0].data["to"], "subscribed");
    assert_eq!(events[0].user_id, "User_1");
}

/// The stream consumer publishes a batch's events to the bus: an EventBridge rule on the
/// emulator forwards them to an SQS queue the test reads.
#[tokio::test]
async fn the_consumer_publishes_a_batch_to_the_bus() {
    use adapters::aws::LazyClient;
    let env = TestEnv::new().await;
    let (bridge, sqs, bus, queue_url) = bus_to_queue(&env).await;
    // A profile created and then changed: two stream records.
    env.request("PATCH", "/users/profile")
        .bearer(&user_token_with("ada", &[]))
        .json(json!({"first_name": "Ada"}))
        .send()
        .await;
    let first = find(&env.scan_all().await, "USER#", "PROFILE").unwrap();
    env.request("PATCH", "/users/profile")
        .bearer(&user_token_with("ada", &[]))
        .json(json!({"last_name": "King"}))
        .send()
        .await;
    let second = find(&env.scan_all().await, "USER#", "PROFILE").unwrap();
    let image = |item: &Item| serde_json::to_value(serde_dynamo::Item::from(item.clone())).unwrap();
    let stream_event: aws_lambda_events::event::dynamodb::Event = serde_json::from_value(json!({
        "Records": [
            {"eventID": "e1", "eventName": "INSERT", "awsRegion": "us-east-1",
             "dynamodb": {"ApproximateCreationDateTime": 1795600000, "Keys": {}, "NewImage": image(&first),
                          "SequenceNumber": "100", "SizeBytes": 1, "StreamViewType": "NEW_AND_OLD_IMAGES"}},
            {"eventID": "e2", "eventName": "MODIFY", "awsRegion": "us-east-1",
             "dynamodb": {"ApproximateCreationDateTime": 1795600001, "Keys": {}, "OldImage": image(&first),
                          "NewImage": image(&second), "SequenceNumber": "200", "SizeBytes": 1,
                          "StreamViewType": "NEW_AND_OLD_IMAGES"}}
        ]
    }))
    .unwrap();
    let app = events::EventsApp {
        publisher: adapters::events::EventBridgeBus::new(LazyClient::ready(bridge), &bus),
    };
    let response = platform::EventFunction::handle(&app, stream_event).await;
    assert!(response.batch_item_failures.is_empty());

    let received = sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let mut events: Vec<Value> = received
        .messages
        .unwrap_or_default()
        .iter()
        .map(|m| serde_json::from_str::<Value>(m.body.as_deref().unwrap()).unwrap())
        .map(|envelope| envelope["detail"].clone())
        .collect();
    events.sort_by_key(|e| e["version"].as_u64());
    let summary: Vec<(String, String, u64)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["id"].as_str().unwrap().to_owned(),
                e["version"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("profile.created".to_owned(), "e1:0".to_owned(), 1),
            ("profile.updated".to_owned(), "e2:0".to_owned(), 2)
        ]
    );
    assert_eq!(events[1]["data"]["changed"], json!(["last_name"]));
}

/// The stack's bus on the emulator, with a rule forwarding every event to a queue.
async fn bus_to_queue(
    env: &TestEnv,
) -> (
    aws_sdk_eventbridge::Client,
    aws_sdk_sqs::Client,
    String,
    String,
) {
    let sdk = integration_tests::sdk_config(&integration_tests::emulator_url()).await;
    let dev = local_api::events::ensure_bus(&sdk, &env.table)
        .await
        .unwrap();
    (
        aws_sdk_eventbridge::Client::new(&sdk),
        aws_sdk_sqs::Client::new(&sdk),
        dev.bus,
        dev.queue_url,
    )
}

/// Every event the queue holds (the rule's envelopes' `detail`), read until it is empty.
async fn drain(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return out;
        }
        for m in messages {
            let envelope: Value = serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
            out.push(envelope["detail"].clone());
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(m.receipt_handle.unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

/// The bus, and a record of what was handed to it, in order.
struct Recording {
    bus: adapters::events::EventBridgeBus,
    seen: std::sync::Mutex<Vec<domain::events::ChangeEvent>>,
}

impl domain::ports::EventPublisher for Recording {
    async fn publish(
        &self,
        events: &[domain::events::ChangeEvent],
    ) -> Vec<Result<(), domain::ports::NotPublished>> {
        self.seen.lock().unwrap().extend(events.iter().cloned());
        self.bus.publish(events).await
    }
}

/// A hundred quick changes to one user, read from the table's real stream as Lambda's
/// poller would: a hundred events, in version order, each once.
#[tokio::test]
async fn a_hundred_changes_are_a_hundred_events_in_order() {
    let env = TestEnv::new().await;
    let (bridge, sqs, bus, queue_url) = bus_to_queue(&env).await;
    for i in 0..100 {
        let r = env
            .request("PATCH", "/users/profile")
            .bearer(&user_token_with("ada", &[]))
            .json(json!({"first_name": format!("Ada {i}")}))
            .send()
            .await;
        assert_eq!(r.status, 200);
    }
    let app = consume_stream(&env, bridge, &bus).await;
    let handed: Vec<u64> = app
        .publisher
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.version.unwrap())
        .collect();
    assert_eq!(
        handed,
        (1..=100).collect::<Vec<_>>(),
        "published in version order"
    );
    let delivered = checked_values(drain(&sqs, &queue_url).await);
    let ids: std::collections::BTreeSet<&str> = delivered
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(delivered.len(), 100);
    assert_eq!(ids.len(), 100, "none doubled");
}

/// Everything the table's stream holds, read as Lambda's poller would and handed to the
/// events function batch by batch; no batch may fail.
async fn consume_stream(
    env: &TestEnv,
    bridge: aws_sdk_eventbridge::Client,
    bus: &str,
) -> events::EventsApp<Recording> {
    let sdk = integration_tests::sdk_config(&integration_tests::emulator_url()).await;
    let mut poller = local_api::stream::StreamPoller::new(
        &env.dynamodb,
        aws_sdk_dynamodbstreams::Client::new(&sdk),
        &env.table,
    )
    .await
    .unwrap();
    let app = events::EventsApp {
        publisher: Recording {
            bus: adapters::events::EventBridgeBus::new(
                adapters::aws::LazyClient::ready(bridge),
                bus,
            ),
            seen: Default::default(),
        },
    };
    loop {
        let batch = poller.poll().await.unwrap();
        if batch.records.is_empty() {
            return app;
        }
        let response = platform::EventFunction::handle(&app, batch).await;
        assert!(response.batch_item_failures.is_empty());
    }
}

/// The queue's events, each against its schema, and none carrying a secret.
fn checked_values(events: Vec<Value>) -> Vec<Value> {
    for event in &events {
        let text = event.to_string();
        for secret in ["argon2", "digest", "password", "token_hash", "upt_", "urt_"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        let path = integration_tests::workspace_root()
            .join("events/schemas")
            .join(format!("{}.json", event["type"].as_str().unwrap()));
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(event)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{event} against {}: {errors:?}",
            path.display()
        );
    }
    events
}

/// Entries EventBridge refuses are retried and the rest are not sent twice; a record
/// whose event is always refused is reported as the batch's first failure (Lambda retries
/// from it, then hands it to the dead-letter queue), and the records before it stay done.
#[tokio::test]
async fn refused_entries_are_retried_and_a_poison_record_is_reported() {
    let env = TestEnv::new().await;
    let (bridge, sqs, bus, queue_url) = bus_to_queue(&env).await;
    for user in ["ann", "bob", "cem"] {
        env.request("PATCH", "/users/profile")
            .bearer(&user_token_with(user, &[]))
            .json(json!({"first_name": "A"}))
            .send()
            .await;
    }
    env.request("PATCH", "/users/profile")
        .bearer(&user_token_with("bob", &[]))
        .json(json!({"last_name": "B"}))
        .send()
        .await;
    let sdk = integration_tests::sdk_config(&integration_tests::emulator_url()).await;
    let read = || async {
        let mut poller = local_api::stream::StreamPoller::new(
            &env.dynamodb,
            aws_sdk_dynamodbstreams::Client::new(&sdk),
            &env.table,
        )
        .await
        .unwrap();
        poller.poll().await.unwrap()
    };
    let app = events::EventsApp {
        publisher: adapters::events::EventBridgeBus::new(
            adapters::aws::LazyClient::ready(bridge),
            &bus,
        ),
    };

    // Two entries refused once: retried, everything delivered once.
    integration_tests::fail_events(2, None);
    let response = platform::EventFunction::handle(&app, read().await).await;
    integration_tests::fail_events(0, None);
    assert!(response.batch_item_failures.is_empty());
    let delivered = checked_values(drain(&sqs, &queue_url).await);
    let mut types: Vec<&str> = delivered
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "profile.created",
            "profile.created",
            "profile.created",
            "profile.updated"
        ]
    );

    // Bob's update always refused: his record is the one reported.
    integration_tests::fail_events(1000, Some("profile.updated"));
    let batch = read().await;
    let poison = batch
        .records
        .iter()
        .find(|r| r.event_name == "MODIFY" && r.change.old_image.clone().into_inner().len() > 2)
        .and_then(|r| r.change.sequence_number.clone());
    let response = platform::EventFunction::handle(&app, batch).await;
    integration_tests::fail_events(0, None);
    let reported: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(reported, [poison]);
    let redelivered = drain(&sqs, &queue_url).await;
    assert!(
        redelivered.iter().all(|e| e["type"] == "profile.created"),
        "the others went out (again, with the same ids): {redelivered:?}"
    );
}

/// A hundred changes over twenty users, written concurrently: a hundred events, none
/// missing, none doubled, each user's in version order.
#[tokio::test]
async fn a_hundred_changes_over_twenty_users_are_each_delivered_once() {
    let env = TestEnv::new().await;
    let (bridge, sqs, bus, queue_url) = bus_to_queue(&env).await;
    let write = |i: usize| {
        let env = &env;
        async move {
            let user = format!("user-{}", i % 20);
            let r = env
                .request("PATCH", "/users/profile")
                .bearer(&user_token_with(&user, &[]))
                .json(json!({"attributes": {format!("k{i}"): i}}))
                .send()
                .await;
            assert_eq!(r.status, 200, "{}", r.json());
        }
    };
    // Twenty users written at once, five rounds.
    for round in 0..5 {
        futures_util::future::join_all((0..20).map(|u| write(round * 20 + u))).await;
    }
    let app = consume_stream(&env, bridge, &bus).await;
    let mut per_user: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    for e in app.publisher.seen.lock().unwrap().iter() {
        per_user
            .entry(e.user_id.clone())
            .or_default()
            .push(e.version.unwrap());
    }
    assert_eq!(per_user.len(), 20);
    for (user, versions) in &per_user {
        assert_eq!(versions, &(1..=5).collect::<Vec<_>>(), "{user}");
    }
    let delivered = checked_values(drain(&sqs, &queue_url).await);
    let ids: std::collections::BTreeSet<&str> = delivered
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!((delivered.len(), ids.len()), (100, 100));
}
