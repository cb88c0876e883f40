//! Change events: real writes through the routes, the table's real stream
//! read through the template's event source mapping (`local_api::stream`), the events
//! function publishing to a bus on the emulator, and a rule copying every event to a
//! queue the tests read. Every event read is checked against its schema and for secrets.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::change_feed::{
    Bus, Consumer, GIVE_UP_AFTER, RETRY_STEP_SECS, stream_source,
};
use integration_tests::{
    TestEnv, api_token, emails_to, fresh_phone, last_code_to, user_token_with,
};
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

/// A login's access token.
async fn logged_in(env: &TestEnv, email: &str, password: &str) -> String {
    let r = env
        .request("POST", "/auth/login")
        .json(json!({"email": email, "password": password}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    r.json()["access_token"].as_str().unwrap().to_owned()
}

/// The audit entries among a scan's items, each as its debug text.
fn audit_entries(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .filter(|i| matches!(i.get("sk"), Some(AttributeValue::S(s)) if s.starts_with("AUDIT#")))
        .map(|i| format!("{i:?}"))
        .collect()
}

/// What a password write announces, from the scans before and after it: the credential's
/// events, then the sign-out item's.
fn password_events(before: &[Item], after: &[Item]) -> [Vec<(String, Value)>; 2] {
    let credential = record(
        RecordKind::Modify,
        find(before, "EMAIL#", "CREDENTIAL"),
        find(after, "EMAIL#", "CREDENTIAL"),
    );
    let sessions = record(
        RecordKind::Insert,
        find(before, "USER#", "SESSIONS"),
        find(after, "USER#", "SESSIONS"),
    );
    [types_and_data(&credential), types_and_data(&sessions)]
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
    assert_eq!(
        (registered[0].aggregate.to_string(), registered[0].version),
        ("credential".into(), 1)
    );
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
    let proven = record(RecordKind::Modify, Some(credential), Some(verified));
    assert_eq!(
        types_and_data(&proven),
        [("account.verified".into(), json!({"email": email}))]
    );
    assert_eq!(events_of(&proven).unwrap()[0].version, 2);

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
    assert_eq!(
        (events[0].aggregate.to_string(), events[0].version),
        ("profile".into(), 2)
    );
}

#[tokio::test]
async fn a_partner_consent_change_names_the_api_and_the_token() {
    let env = TestEnv::new().await;
    env.request("PATCH", "/users/profile")
        .bearer(&user_token_with("User_1", &[]))
        .json(json!({"first_name": "Ada"}))
        .send()
        .await;
    let before = find(&env.scan_all().await, "USER#", "PROFILE").unwrap();
    let token = api_token(&env, &["profiles:write"]).await;
    let r = env
        .request("POST", "/api/v1/users/profile/update")
        .bearer(&token)
        .json(json!({"user_properties": [{"user_id": "User_1", "properties": {"mkt_flag": "Subscribed"}}]}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let after = find(&env.scan_all().await, "USER#", "PROFILE").unwrap();
    let events =
        checked(events_of(&record(RecordKind::Modify, Some(before), Some(after))).unwrap());
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].event_type.as_str(), "consent.changed");
    assert_eq!(events[0].data["source"], "api");
    assert!(
        events[0].data["actor"]
            .as_str()
            .unwrap()
            .starts_with("tok_")
    );
    assert_eq!(events[0].data["from"], "undefined");
    assert_eq!(events[0].data["to"], "subscribed");
    assert_eq!(events[0].user_id, "User_1");
    assert_eq!(
        (events[0].aggregate.to_string(), events[0].version),
        ("consents".into(), 1)
    );
}

/// The stream consumer publishes a batch's events to the bus: an EventBridge rule on the
/// emulator forwards them to an SQS queue the test reads.
#[tokio::test]
async fn the_consumer_publishes_a_batch_to_the_bus() {
    let env = TestEnv::new().await;
    let bus = Bus::new(&env).await;
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
    let app = bus.app();
    let response = platform::EventFunction::handle(&app, stream_event).await;
    assert!(response.batch_item_failures.is_empty());

    let mut events = drain(&bus).await;
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

/// The queue's events (the envelopes' `detail`), checked, the queue emptied.
async fn drain(bus: &Bus) -> Vec<Value> {
    checked_values(
        bus.drain_envelopes()
            .await
            .into_iter()
            .map(|envelope| envelope["detail"].clone())
            .collect(),
    )
}

/// The queue's events, each against its schema, and none carrying a secret.
fn checked_values(events: Vec<Value>) -> Vec<Value> {
    for event in &events {
        // The type may name what changed (`password.changed`); nothing else may.
        let mut rest = event.clone();
        rest.as_object_mut().unwrap().remove("type");
        let text = rest.to_string();
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

/// A hundred quick changes to one user, read from the table's real stream as Lambda's
/// poller would: a hundred events, in version order, each once.
#[tokio::test]
async fn a_hundred_changes_are_a_hundred_events_in_order() {
    let env = TestEnv::new().await;
    let bus = Bus::new(&env).await;
    for i in 0..100 {
        let r = env
            .request("PATCH", "/users/profile")
            .bearer(&user_token_with("ada", &[]))
            .json(json!({"first_name": format!("Ada {i}")}))
            .send()
            .await;
        assert_eq!(r.status, 200);
    }
    let (consumer, delivered) = bus.consume(&env).await;
    assert!(delivered.dead_lettered.is_empty());
    let handed: Vec<u64> = consumer.seen().iter().map(|e| e.version).collect();
    assert_eq!(
        handed,
        (1..=100).collect::<Vec<_>>(),
        "published in version order"
    );
    let delivered = drain(&bus).await;
    let ids: std::collections::BTreeSet<&str> = delivered
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(delivered.len(), 100);
    assert_eq!(ids.len(), 100, "none doubled");
}

/// Entries EventBridge refuses are retried and the rest are not sent twice; a record
/// whose event is always refused is reported as the batch's first failure (Lambda retries
/// from it, then hands it to the dead-letter queue), and the records before it stay done.
#[tokio::test]
async fn refused_entries_are_retried_and_a_poison_record_is_reported() {
    let env = TestEnv::new().await;
    let bus = Bus::new(&env).await;
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
    let read = || async {
        let mut poller = local_api::stream::StreamPoller::new(
            &env.dynamodb,
            aws_sdk_dynamodbstreams::Client::new(&bus.sdk),
            &env.table,
        )
        .await
        .unwrap();
        poller.poll().await.unwrap()
    };
    let app = bus.app();

    // Two entries refused once: retried, everything delivered once.
    bus.fail(2, None);
    let response = platform::EventFunction::handle(&app, read().await).await;
    bus.fail(0, None);
    assert!(response.batch_item_failures.is_empty());
    let delivered = drain(&bus).await;
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
    bus.fail(1000, Some("profile.updated"));
    let batch = read().await;
    let poison = batch
        .records
        .iter()
        .find(|r| r.event_name == "MODIFY" && r.change.old_image.clone().into_inner().len() > 2)
        .and_then(|r| r.change.sequence_number.clone());
    let response = platform::EventFunction::handle(&app, batch).await;
    bus.fail(0, None);
    let reported: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(reported, [poison]);
    let redelivered = drain(&bus).await;
    assert!(
        redelivered.iter().all(|e| e["type"] == "profile.created"),
        "the others went out (again, with the same ids): {redelivered:?}"
    );
}

/// Through the template's mapping: a record whose event is always refused is retried
/// until it is `EventsGiveUpAfterSeconds` old, then set aside in the dead-letter queue
/// with its reason, user and version, and the records behind it are delivered.
#[tokio::test]
async fn a_poison_record_ends_in_the_dead_letter_queue_and_the_shard_flows_on() {
    let env = TestEnv::new().await;
    let bus = Bus::new(&env).await;
    let write = |user: &'static str, body: Value| {
        let env = &env;
        async move {
            let r = env
                .request("PATCH", "/users/profile")
                .bearer(&user_token_with(user, &[]))
                .json(body)
                .send()
                .await;
            assert_eq!(r.status, 200);
        }
    };
    write("ann", json!({"first_name": "Ann"})).await;
    write("ann", json!({"last_name": "Poison"})).await;
    write("bob", json!({"first_name": "Bob"})).await;
    write("cem", json!({"first_name": "Cem"})).await;

    bus.fail(1000, Some("profile.updated"));
    let (mut consumer, delivered) = bus.consume(&env).await;
    bus.fail(0, None);

    let tries = consumer
        .seen()
        .iter()
        .filter(|e| e.event_type.as_str() == "profile.updated")
        .count() as u64;
    assert_eq!(
        tries,
        GIVE_UP_AFTER.as_secs() / RETRY_STEP_SECS as u64,
        "retried until it was {GIVE_UP_AFTER:?} old, then set aside"
    );
    assert!(
        delivered.dead_lettered.is_empty(),
        "Lambda gave up on nothing"
    );

    let dead = bus.dead_letters().await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    let (letter, attributes) = &dead[0];
    // Where to find the record again and why it was set aside, and nothing of what it
    // held: a queue keeps messages for days, readable by whoever operates it.
    let mut fields: Vec<&str> = letter
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "event_ids",
            "item_kind",
            "reason",
            "sequence_number",
            "stream_event_id",
            "user_id"
        ],
        "{letter}"
    );
    assert!(
        !letter.to_string().contains("Poison"),
        "the letter holds the record's data: {letter}"
    );
    assert_eq!(letter["user_id"], "ann");
    assert_eq!(letter["item_kind"], "USER/PROFILE");
    assert_eq!(letter["event_ids"].as_array().unwrap().len(), 1);
    assert_eq!(attributes["user_id"], "ann");
    assert_eq!(attributes["version"], "2");
    assert!(
        attributes["reason"].contains("InternalFailure"),
        "EventBridge's error code is the reason: {attributes:?}"
    );
    assert_eq!(
        letter["reason"].as_str(),
        Some(attributes["reason"].as_str())
    );
    assert_eq!(
        letter["sequence_number"].as_str(),
        Some(attributes["sequence_number"].as_str())
    );

    let mut out: Vec<(String, String)> = drain(&bus)
        .await
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().into(),
                e["user_id"].as_str().unwrap().into(),
            )
        })
        .collect();
    out.sort();
    out.dedup();
    assert_eq!(
        out,
        [
            ("profile.created".to_owned(), "ann".to_owned()),
            ("profile.created".to_owned(), "bob".to_owned()),
            ("profile.created".to_owned(), "cem".to_owned()),
        ],
        "the records behind the poison one went out"
    );

    // Healed, the next change of the same user flows.
    write("ann", json!({"last_name": "Healed"})).await;
    let delivered = consumer.run().await;
    assert!(delivered.dead_lettered.is_empty());
    let out = drain(&bus).await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["data"]["changed"], json!(["last_name"]));
}

/// With EventBridge refusing everything, a sign-up and a login are set aside: the
/// letters name the items by kind, never by the address or number in their keys, and
/// hold no password hash, code digest, name or address.
#[tokio::test]
async fn dead_letters_of_account_items_hold_no_secret_and_no_address() {
    let env = TestEnv::new().await;
    let bus = Bus::new(&env).await;
    let email = format!("dlq-{:08x}@example.com", rand::random::<u32>());
    let password = "correct horse battery";
    integration_tests::verified_account(&env, &email, password, ("Dora", "Lettered")).await;
    logged_in(&env, &email, password).await;

    bus.fail(1000, None);
    let (_consumer, _delivered) = bus.consume(&env).await;
    bus.fail(0, None);
    let dead = bus.dead_letters().await;
    assert!(
        dead.len() >= 2,
        "the account's items were set aside: {dead:?}"
    );
    let local = email.split('@').next().unwrap();
    for (letter, attributes) in &dead {
        let text = format!("{letter} {attributes:?}");
        for secret in [
            "$argon2", local, "Dora", "Lettered", "digest", "NewImage", "OldImage",
        ] {
            assert!(
                !text.contains(secret),
                "a dead letter holds {secret:?}: {text}"
            );
        }
    }
}

/// What the function cannot set aside itself (here: it gives up later than the mapping
/// does) Lambda's mapping hands to the same queue after `MaximumRetryAttempts`: its
/// on-failure record names the shard and the sequence numbers.
#[tokio::test]
async fn the_mappings_own_on_failure_record_is_the_last_resort() {
    let env = TestEnv::new().await;
    let bus = Bus::new(&env).await;
    env.request("PATCH", "/users/profile")
        .bearer(&user_token_with("ann", &[]))
        .json(json!({"first_name": "Ann"}))
        .send()
        .await;
    let mut consumer = Consumer {
        app: bus.app(),
        mapping: bus
            .mapping_from(
                &env,
                local_api::template::StreamSource {
                    maximum_retry_attempts: 1,
                    ..stream_source()
                },
            )
            .await,
    };
    bus.fail(1000, None);
    let delivered = consumer.run().await;
    bus.fail(0, None);
    assert_eq!(delivered.invocations, 2, "tried, then retried once");
    assert_eq!(delivered.dead_lettered.len(), 1);
    let dead = bus.dead_letters().await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    let (record, _) = &dead[0];
    assert_eq!(
        record["requestContext"]["condition"],
        "RetryAttemptsExhausted"
    );
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 2);
    let info = &record["DDBStreamBatchInfo"];
    assert_eq!(
        info["startSequenceNumber"],
        delivered.dead_lettered[0].as_str()
    );
    assert!(info["shardId"].is_string() && info["streamArn"].is_string());
}

/// A hundred changes over twenty users, written concurrently: a hundred events, none
/// missing, none doubled, each user's in version order.
#[tokio::test]
async fn a_hundred_changes_over_twenty_users_are_each_delivered_once() {
    let env = TestEnv::new().await;
    let bus = Bus::new(&env).await;
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
    let (consumer, _) = bus.consume(&env).await;
    let mut per_user: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    for e in consumer.seen().iter() {
        per_user
            .entry(e.user_id.clone())
            .or_default()
            .push(e.version);
    }
    assert_eq!(per_user.len(), 20);
    for (user, versions) in &per_user {
        assert_eq!(versions, &(1..=5).collect::<Vec<_>>(), "{user}");
    }
    let delivered = drain(&bus).await;
    let ids: std::collections::BTreeSet<&str> = delivered
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!((delivered.len(), ids.len()), (100, 100));
}

/// Seed 000's sign-up by SMS code, then a phone change verified by code, end to end
/// through the stream: `account.registered`, `profile.created`, `phone.verified`; the
/// codes, the password and its hash nowhere; the codes, counters and sessions written
/// on the way never reach the function.
#[tokio::test]
async fn a_seed_000_sign_up_and_a_verified_phone_change_are_announced_without_secrets() {
    let env = TestEnv::new().await;
    let bus = Bus::new(&env).await;
    let (email, phone) = (
        format!("ev-{:08x}@example.com", rand::random::<u32>()),
        fresh_phone(),
    );
    let body = json!({
        "first_name": "Ada", "last_name": "Lovelace", "email": email,
        "password": "correct horse battery", "phone": phone, "date_of_birth": "1990-12-10",
        "sms_allowed": true, "email_allowed": false
    });
    let r = env
        .request("POST", "/users/register")
        .json(body.clone())
        .send()
        .await;
    assert_eq!(r.status, 202, "{}", r.json());
    let sign_up_code = last_code_to(&phone);
    let mut with_code = body.clone();
    with_code["code"] = json!(sign_up_code);
    let r = env
        .request("POST", "/users/register")
        .json(with_code)
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
    let user = r.json()["profile"]["user_id"].as_str().unwrap().to_owned();

    let new_phone = fresh_phone();
    let patch = |body: Value| {
        let (env, user) = (&env, &user);
        async move {
            env.request("PATCH", "/users/profile")
                .bearer(&user_token_with(user, &[]))
                .json(body)
                .send()
                .await
        }
    };
    assert_eq!(patch(json!({"phone": new_phone})).await.status, 202);
    let change_code = last_code_to(&new_phone);
    let r = patch(json!({"phone": new_phone, "code": change_code})).await;
    assert_eq!(r.status, 200, "{}", r.json());

    let (_, delivered) = bus.consume(&env).await;
    assert!(
        delivered.filtered_out > 0,
        "codes, counters and sessions are filtered out before the function: {delivered:?}"
    );
    let events = drain(&bus).await;
    let text = serde_json::to_string(&events).unwrap();
    for secret in [sign_up_code.as_str(), &change_code, "correct horse battery"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let of = |t: &str| -> Vec<&Value> { events.iter().filter(|e| e["type"] == t).collect() };
    let registered = of("account.registered");
    assert_eq!(registered.len(), 1, "{text}");
    assert_eq!(registered[0]["user_id"], user.as_str());
    assert_eq!(registered[0]["data"]["email"], email.as_str());
    assert_eq!(registered[0]["data"]["phone_verified"], true);
    assert_eq!(of("profile.created").len(), 1, "{text}");
    let verified: Vec<&str> = of("phone.verified")
        .iter()
        .map(|e| e["data"]["phone"].as_str().unwrap())
        .collect();
    assert_eq!(verified.last(), Some(&new_phone.as_str()), "{text}");
    assert!(events.iter().all(|e| e["user_id"] == user.as_str()));
}

/// The template's `FilterCriteria` keeps the function from codes, counters, sessions and
/// tokens, and drops no record that means an event: a write of every kind, read once
/// through the filter and once without it, gives the same events.
#[tokio::test]
async fn the_stream_filter_drops_only_records_that_mean_no_event() {
    let env = TestEnv::new().await;
    let bus = Bus::new(&env).await;
    let as_ann = |method: &'static str, path: &'static str, body: Value| {
        let env = &env;
        async move {
            let r = env
                .request(method, path)
                .bearer(&user_token_with("ann", &[]))
                .json(body)
                .send()
                .await;
            assert!(r.status.is_success(), "{method} {path}: {}", r.json());
        }
    };
    as_ann("PATCH", "/users/profile", json!({"first_name": "Ann"})).await;
    as_ann("PATCH", "/users/consents", json!({"mkt_sms": "subscribed"})).await;
    let partner = api_token(&env, &["segments:write", "ci:write"]).await;
    let as_partner = |method: &'static str, path: &'static str, body: Value| {
        let (env, partner) = (&env, &partner);
        async move {
            let r = env
                .request(method, path)
                .bearer(partner)
                .json(body)
                .send()
                .await;
            assert!(r.status.is_success(), "{method} {path}: {}", r.json());
        }
    };
    as_partner(
        "PUT",
        "/api/v1/segments/7",
        json!({"name": "Gold", "priority": 1, "self_assignable": true}),
    )
    .await;
    as_ann("POST", "/users/segments/7/set", json!({})).await;
    as_partner(
        "POST",
        "/api/v1/users/ci/update",
        json!({"user_ci_properties": [{"user_id": "ann", "properties": {"kakao_id": "0123456789"}}]}),
    )
    .await;
    as_ann(
        "PATCH",
        "/users/profile-with-loyalty/",
        json!({"date_of_birth": "1990-01-01", "add_loyalty": true}),
    )
    .await;
    as_partner(
        "POST",
        "/api/v1/users/ci/delete",
        json!({"user_id": ["ann"], "user_ci_property_names": ["kakao_id"]}),
    )
    .await;

    let (filtered, through_filter) = bus.consume(&env).await;
    let mut unfiltered = Consumer {
        app: bus.app(),
        mapping: bus
            .mapping_from(
                &env,
                local_api::template::StreamSource {
                    filters: Vec::new(),
                    ..stream_source()
                },
            )
            .await,
    };
    let everything = unfiltered.run().await;
    assert_eq!(everything.filtered_out, 0);
    assert!(
        through_filter.filtered_out > 0,
        "the API token and the segment catalog never reach the function: {through_filter:?}"
    );
    let ids = |c: &Consumer| -> Vec<(String, String)> {
        c.seen()
            .iter()
            .map(|e| (e.id.clone(), e.event_type.as_str().to_owned()))
            .collect()
    };
    assert_eq!(ids(&filtered), ids(&unfiltered));
    let mut types: Vec<String> = ids(&filtered).into_iter().map(|(_, t)| t).collect();
    types.sort();
    types.dedup();
    assert_eq!(
        types,
        [
            "ci.deleted",
            "ci.updated",
            "consent.changed",
            "loyalty_card.linked",
            "profile.created",
            "profile.updated",
            "segment.assigned"
        ]
    );
    drain(&bus).await;
}

#[test]
fn an_erasure_is_announced_once_when_it_completes_and_with_nothing_personal() {
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let live: Item = HashMap::from([
        ("pk".to_owned(), s("USER#u-erased")),
        ("sk".to_owned(), s("PROFILE")),
        ("user_id".to_owned(), s("u-erased")),
        ("email".to_owned(), s("gone@example.com")),
        ("phone".to_owned(), s("+905321112233")),
        ("first_name".to_owned(), s("Ada")),
        ("created_at".to_owned(), s("2026-11-24T21:00:00.000Z")),
        ("updated_at".to_owned(), s("2026-11-24T21:00:00.000Z")),
        ("version".to_owned(), AttributeValue::N("3".into())),
    ]);
    let mut erasing = live.clone();
    erasing.insert("erasure".into(), s("erasing"));
    erasing.insert("erased_at".into(), s("2026-11-24T22:00:00.000Z"));
    let erased: Item = HashMap::from([
        ("pk".to_owned(), s("USER#u-erased")),
        ("sk".to_owned(), s("PROFILE")),
        ("user_id".to_owned(), s("u-erased")),
        ("erasure".to_owned(), s("erased")),
        ("erased_at".to_owned(), s("2026-11-24T22:00:00.000Z")),
        ("email_hash".to_owned(), s("ab12")),
        ("loyalty_member".to_owned(), s("m-1")),
    ]);
    let mut forgotten = erased.clone();
    forgotten.remove("loyalty_member");
    let marked = record(RecordKind::Modify, Some(live), Some(erasing.clone()));
    assert!(types_and_data(&marked).is_empty(), "nothing while it runs");
    let finished = record(RecordKind::Modify, Some(erasing), Some(erased.clone()));
    assert_eq!(
        types_and_data(&finished),
        [(
            "account.deleted".to_owned(),
            json!({"erased_at": "2026-11-24T22:00:00.000Z"})
        )]
    );
    let events = events_of(&finished).unwrap();
    assert_eq!(events[0].user_id, "u-erased");
    let raw = serde_json::to_string(&events).unwrap();
    assert!(!raw.contains("gone@example.com") && !raw.contains("905321112233"));
    let member_forgotten = record(RecordKind::Modify, Some(erased), Some(forgotten));
    assert!(
        types_and_data(&member_forgotten).is_empty(),
        "announced once"
    );
}

/// Each aggregate counts its own changes, read through the real stream: the consents
/// one count for every channel (a write of two channels is one step, its two events
/// sharing it), the partner identifiers counting on after their last one was removed,
/// a membership and a card starting at 1, the profile's version its ETag.
#[tokio::test]
async fn each_aggregate_counts_its_own_changes_in_order() {
    let env = TestEnv::new().await;
    let bus = Bus::new(&env).await;
    let partner = api_token(&env, &["segments:write", "ci:write"]).await;
    let send = |method: &'static str, path: &'static str, token: String, body: Value| {
        let env = &env;
        async move {
            let r = env
                .request(method, path)
                .bearer(&token)
                .json(body)
                .send()
                .await;
            assert!(r.status.is_success(), "{method} {path}: {}", r.json());
        }
    };
    let bo = || user_token_with("bo", &[]);
    let kakao = |id: &str| json!({"user_ci_properties": [{"user_id": "bo", "properties": {"kakao_id": id}}]});
    let no_kakao = json!({"user_id": ["bo"], "user_ci_property_names": ["kakao_id"]});
    send("PATCH", "/users/profile", bo(), json!({"first_name": "Bo"})).await;
    send(
        "PATCH",
        "/users/consents",
        bo(),
        json!({"mkt_sms": "subscribed"}),
    )
    .await;
    send(
        "PATCH",
        "/users/consents",
        bo(),
        json!({"mkt_sms": "unsubscribed", "mkt_push": "subscribed"}),
    )
    .await;
    send(
        "PUT",
        "/api/v1/segments/7",
        partner.clone(),
        json!({"name": "Gold", "priority": 1, "self_assignable": true}),
    )
    .await;
    send("POST", "/users/segments/7/set", bo(), json!({})).await;
    send("POST", "/users/segments/7/set", bo(), json!({})).await;
    send(
        "POST",
        "/api/v1/users/ci/update",
        partner.clone(),
        kakao("0123456789"),
    )
    .await;
    send(
        "POST",
        "/api/v1/users/ci/delete",
        partner.clone(),
        no_kakao.clone(),
    )
    .await;
    // Nothing left to remove: no change, no count.
    send("POST", "/api/v1/users/ci/delete", partner.clone(), no_kakao).await;
    send(
        "POST",
        "/api/v1/users/ci/update",
        partner.clone(),
        kakao("9876543210"),
    )
    .await;
    send(
        "PATCH",
        "/users/profile-with-loyalty/",
        bo(),
        json!({"date_of_birth": "1990-01-01", "add_loyalty": true}),
    )
    .await;
    send("PATCH", "/users/profile", bo(), json!({"last_name": "Ek"})).await;

    let (consumer, _) = bus.consume(&env).await;
    let seen: Vec<(String, &str, u64)> = consumer
        .seen()
        .iter()
        .map(|e| (e.aggregate.to_string(), e.event_type.as_str(), e.version))
        .collect();
    let of = |aggregate: &str| -> Vec<(&str, u64)> {
        seen.iter()
            .filter(|(a, ..)| a == aggregate)
            .map(|(_, t, v)| (*t, *v))
            .collect()
    };
    assert_eq!(
        of("consents"),
        [
            ("consent.changed", 1),
            ("consent.changed", 2),
            ("consent.changed", 2)
        ],
        "{seen:?}"
    );
    assert_eq!(
        of("ci"),
        [("ci.updated", 1), ("ci.deleted", 2), ("ci.updated", 3)],
        "{seen:?}"
    );
    assert_eq!(of("segment:7"), [("segment.assigned", 1)], "{seen:?}");
    assert_eq!(of("loyalty_card"), [("loyalty_card.linked", 1)], "{seen:?}");
    let profile = of("profile");
    let types: Vec<&str> = profile.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        types,
        ["profile.created", "profile.updated", "profile.updated"],
        "{seen:?}"
    );
    assert!(
        profile.windows(2).all(|w| w[0].1 < w[1].1),
        "the profile's versions rise: {profile:?}"
    );
    // The last one is the ETag the profile's routes show.
    let r = env
        .request("GET", "/users/profile")
        .bearer(&bo())
        .send()
        .await;
    assert_eq!(r.json()["version"], json!(profile[2].1), "{}", r.json());
    drain(&bus).await;
}

/// An email moved by an administrator is `email.changed` on the profile, not a new
/// account: the credential at its new address keeps its count, and its insert there
/// announces nothing.
#[tokio::test]
async fn a_moved_credential_is_no_new_account() {
    let env = TestEnv::new().await;
    let email = format!("mv-{:08x}@example.com", rand::random::<u32>());
    let id =
        integration_tests::verified_account(&env, &email, "securepassword123", ("Mo", "Ve")).await;
    let moved_to = format!("moved-{:08x}@example.com", rand::random::<u32>());
    let r = env
        .request("PATCH", &format!("/api/v1/accounts/users/{id}"))
        .bearer(&user_token_with("usr_admin", &["users:admin"]))
        .json(json!({"email": moved_to}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let items = env.scan_all().await;
    let key = format!("EMAIL#{moved_to}");
    let credential = find(&items, &key, "CREDENTIAL").unwrap();
    assert_eq!(
        credential.get("version"),
        Some(&AttributeValue::N("2".into())),
        "registered, then verified; the move is no change of it"
    );
    let inserted = record(RecordKind::Insert, None, Some(credential));
    assert!(types_and_data(&inserted).is_empty());
}

#[tokio::test]
async fn a_reset_and_one_ended_session_are_announced_with_their_reasons() {
    let env = TestEnv::new().await;
    let email = format!("ev-{:08x}@example.com", rand::random::<u32>());
    let (old, new) = ("securepassword123", "another secure password");
    integration_tests::verified_account(&env, &email, old, ("Ada", "Lovelace")).await;
    let login = |password: &'static str| logged_in(&env, &email, password);
    login(old).await;
    login(old).await;
    let r = env
        .request("POST", "/auth/password/forgot")
        .json(json!({"email": email}))
        .send()
        .await;
    assert_eq!(r.status, 202, "{}", r.json());
    let (_, text) = integration_tests::emails_to(&email).pop().unwrap();
    let code = integration_tests::six_digits(&text);
    let before = env.scan_all().await;
    let r = env
        .request("POST", "/auth/password/reset")
        .json(json!({"email": email, "code": code, "new_password": new}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let after = env.scan_all().await;
    let [changed, revoked] = password_events(&before, &after);
    assert_eq!(
        changed,
        [("password.changed".into(), json!({"reason": "reset"}))]
    );
    assert_eq!(
        revoked,
        [(
            "sessions.revoked".into(),
            json!({"count": 2, "reason": "reset"})
        )]
    );
    let audit = audit_entries(&after);
    assert_eq!(audit.len(), 1, "the reset: {audit:?}");
    assert!(
        audit[0].contains("password") && audit[0].contains("reset"),
        "{audit:?}"
    );
    assert!(!audit[0].contains(new) && !audit[0].contains(&code));

    // One session ended by its holder: counted alone, as the user's.
    let access = login(new).await;
    login(new).await;
    let r = env
        .request("GET", "/users/me/sessions")
        .bearer(&access)
        .send()
        .await;
    let other = r.json()["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .expect("the other session");
    let before_end = env.scan_all().await;
    let r = env
        .request("DELETE", &format!("/users/me/sessions/{other}"))
        .bearer(&access)
        .send()
        .await;
    assert_eq!(r.status, 204, "{}", r.json());
    let last = env.scan_all().await;
    let revoked = types_and_data(&record(
        RecordKind::Modify,
        find(&before_end, "USER#", "SESSIONS"),
        find(&last, "USER#", "SESSIONS"),
    ));
    assert_eq!(
        revoked,
        [(
            "sessions.revoked".into(),
            json!({"count": 1, "reason": "user"})
        )]
    );
}

#[tokio::test]
async fn a_password_change_and_a_sign_out_are_announced_and_audited_without_secrets() {
    let env = TestEnv::new().await;
    let email = format!("ev-{:08x}@example.com", rand::random::<u32>());
    let (old, new) = ("securepassword123", "another secure password");
    integration_tests::verified_account(&env, &email, old, ("Ada", "Lovelace")).await;
    let login = |password: &'static str| logged_in(&env, &email, password);
    let access = login(old).await;
    login(old).await;
    let before = env.scan_all().await;
    let r = env
        .request("POST", "/users/me/password")
        .bearer(&access)
        .json(json!({"current_password": old, "new_password": new}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let after = env.scan_all().await;
    let [changed, revoked] = password_events(&before, &after);
    assert_eq!(
        changed,
        [("password.changed".into(), json!({"reason": "change"}))]
    );
    assert_eq!(
        revoked,
        [(
            "sessions.revoked".into(),
            json!({"count": 1, "reason": "change"})
        )],
        "the other session ended; the caller's goes on"
    );

    let r = env
        .request("DELETE", "/users/me/sessions")
        .bearer(&login(new).await)
        .send()
        .await;
    assert_eq!(r.status, 204);
    let last = env.scan_all().await;
    let revoked = events_of(&record(
        RecordKind::Modify,
        find(&after, "USER#", "SESSIONS"),
        find(&last, "USER#", "SESSIONS"),
    ))
    .unwrap();
    assert_eq!(revoked[0].data, json!({"count": 2, "reason": "user"}));
    assert_eq!(
        (revoked[0].aggregate.to_string(), revoked[0].version),
        ("sessions".into(), 2)
    );
    let audit = audit_entries(&last);
    assert_eq!(audit.len(), 2, "the change and the sign-out: {audit:?}");
    assert!(audit.iter().any(|a| a.contains("password")));
    assert!(audit.iter().any(|a| a.contains("sessions")));
    assert!(
        !format!("{audit:?}").contains(new) && !format!("{audit:?}").contains("argon2"),
        "no password or hash in the audit"
    );
}

#[tokio::test]
async fn disabling_and_enabling_are_announced_without_the_reason() {
    let env = TestEnv::new().await;
    let email = format!("ev-{:08x}@example.com", rand::random::<u32>());
    let user =
        integration_tests::verified_account(&env, &email, "securepassword123", ("Ada", "L")).await;
    let r = env
        .request("POST", "/auth/login")
        .json(json!({"email": email, "password": "securepassword123"}))
        .send()
        .await;
    assert_eq!(r.status, 200);
    let admin = user_token_with("usr_admin", &["users:admin"]);
    let before = env.scan_all().await;
    let r = env
        .request("POST", &format!("/api/v1/accounts/users/{user}/disable"))
        .bearer(&admin)
        .json(json!({"reason": "Ada's card was stolen"}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let disabled = env.scan_all().await;
    let profile = |items: &[Item]| find(items, "USER#", "PROFILE");
    let events = checked(
        events_of(&record(
            RecordKind::Modify,
            profile(&before),
            profile(&disabled),
        ))
        .unwrap(),
    );
    assert_eq!(
        events
            .iter()
            .map(|e| e.event_type.as_str())
            .collect::<Vec<_>>(),
        ["account.disabled"],
        "the profile's fields are as they were"
    );
    assert!(!serde_json::to_string(&events).unwrap().contains("stolen"));
    let revoked = types_and_data(&record(
        RecordKind::Modify,
        find(&before, "USER#", "SESSIONS"),
        find(&disabled, "USER#", "SESSIONS"),
    ));
    assert_eq!(
        revoked,
        [(
            "sessions.revoked".into(),
            json!({"count": 1, "reason": "admin"})
        )]
    );

    let r = env
        .request("POST", &format!("/api/v1/accounts/users/{user}/enable"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(r.status, 200);
    let enabled = env.scan_all().await;
    assert_eq!(
        types_and_data(&record(
            RecordKind::Modify,
            profile(&disabled),
            profile(&enabled),
        )),
        [("account.enabled".into(), json!({}))]
    );
    assert!(
        types_and_data(&record(
            RecordKind::Modify,
            find(&disabled, "USER#", "SESSIONS"),
            find(&enabled, "USER#", "SESSIONS"),
        ))
        .is_empty(),
        "enabling ends nothing"
    );
}

#[tokio::test]
async fn setting_up_and_removing_an_app_are_announced_without_its_secret() {
    let env = TestEnv::new().await;
    let email = format!("ev-{:08x}@example.com", rand::random::<u32>());
    let password = "securepassword123";
    integration_tests::verified_account(&env, &email, password, ("Ada", "L")).await;
    let login = || {
        env.request("POST", "/auth/login")
            .json(json!({"email": email, "password": password}))
            .send()
    };
    let access = login().await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = integration_tests::start_factor(&env, "/users/me/mfa/totp", &access, &email).await;
    let secret = r.json()["secret"].as_str().unwrap().to_owned();
    let factor = r.json()["factor_id"].as_str().unwrap().to_owned();
    let totp = domain::mfa::TotpSecret::from_base32(&secret).unwrap();
    let pending = env.scan_all().await;
    let now = env.clock.now().timestamp();
    let r = env
        .request("POST", "/users/me/mfa/totp/verify")
        .bearer(&access)
        .json(json!({"factor_id": factor, "code": totp.code_at(now)}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let active = env.scan_all().await;
    let app = |items: &[Item]| find(items, "USER#", "MFA#TOTP");
    let enrolled =
        checked(events_of(&record(RecordKind::Modify, app(&pending), app(&active))).unwrap());
    assert_eq!(enrolled.len(), 1);
    assert_eq!(enrolled[0].event_type.as_str(), "mfa.enrolled");
    assert_eq!(
        enrolled[0].data,
        json!({"factor_id": factor, "type": "totp"})
    );
    let text = serde_json::to_string(&enrolled).unwrap();
    assert!(!text.contains(&secret));
    // Setting up alone (before the first code) is no news.
    assert!(
        events_of(&record(RecordKind::Insert, None, app(&pending)))
            .unwrap()
            .is_empty()
    );

    // Removal, with a login that used the app.
    env.clock.advance(chrono::Duration::seconds(30));
    let step = login().await.json()["mfa_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = env.clock.now().timestamp();
    let r = env
        .request("POST", "/auth/mfa/verify")
        .json(json!({"mfa_token": step, "code": totp.code_at(now)}))
        .send()
        .await;
    let strong = r.json()["access_token"].as_str().unwrap().to_owned();
    let before = env.scan_all().await;
    let r = env
        .request("DELETE", &format!("/users/me/mfa/{factor}"))
        .bearer(&strong)
        .send()
        .await;
    assert_eq!(r.status, 204);
    let removed = env.scan_all().await;
    let events =
        checked(events_of(&record(RecordKind::Modify, app(&before), app(&removed))).unwrap());
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type.as_str(), "mfa.removed");
    assert_eq!(events[0].data, json!({"factor_id": factor, "type": "totp"}));
    assert!(
        events[0].version > enrolled[0].version,
        "the second factor's versions rise"
    );
    // The audit trail has both, without secrets.
    let audit = audit_entries(&removed);
    assert!(audit.iter().any(|a| a.contains("enrolled")), "{audit:?}");
    assert!(audit.iter().any(|a| a.contains("removed")), "{audit:?}");
    assert!(!audit.iter().any(|a| a.contains(&secret)));
}
