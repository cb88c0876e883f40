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

fn types_and_data(record: &StreamRecord) -> Vec<(String, Value)> {
    events_of(record)
        .unwrap()
        .into_iter()
        .map(|e| (e.event_type.as_str().to_owned(), e.data))
        .collect()
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
    let events = events_of(&record(RecordKind::Modify, Some(profile), Some(after))).unwrap();
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
    let events = events_of(&record(RecordKind::Insert, None, Some(entry))).unwrap();
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
