//! An address belongs to whoever proves it: a sign-up with an address another account
//! claimed and never proved takes the claim over. The earlier account is deleted when it
//! held nothing else, or keeps everything but the address (and logs in by its number);
//! the earlier claim's code stops working; of many sign-ups at once, one holds it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::{
    TestEnv, emails_to, fresh_phone, last_code_to, phone_account, six_digits, user_token_with,
};
use serde_json::{Value, json};
use store::stream::{RecordKind, StreamRecord, events_of};

type Item = HashMap<String, AttributeValue>;

const PASSWORD: &str = "securepassword123";

fn unique_email(name: &str) -> String {
    format!("{name}-{:08x}@example.com", rand::random::<u32>())
}

fn s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

fn item(items: &[Item], pk: &str, sk: &str) -> Option<Item> {
    items
        .iter()
        .find(|i| s(i, "pk") == Some(pk) && s(i, "sk") == Some(sk))
        .cloned()
}

fn record(kind: RecordKind, old: Option<Item>, new: Option<Item>) -> StreamRecord {
    StreamRecord {
        id: "49000000000000000000000000000000000000000000000000000000".into(),
        kind,
        time: "2026-12-07T16:00:00Z".into(),
        old,
        new,
    }
}

fn types(record: &StreamRecord) -> Vec<(String, String, Value)> {
    events_of(record)
        .unwrap()
        .into_iter()
        .map(|e| (e.event_type.as_str().to_owned(), e.user_id, e.data))
        .collect()
}

async fn email_sign_up(env: &TestEnv, email: &str) -> local_api::GatewayResponse {
    // Each from its own address: the source's sign-up budget is not what is tested.
    let source = format!("198.51.100.{}", rand::random::<u8>());
    env.request("POST", "/api/v1/accounts/users")
        .from_ip(&source)
        .json(
            json!({"email": email, "password": PASSWORD, "confirm_password": PASSWORD,
                     "first_name": "Grace"}),
        )
        .send()
        .await
}

async fn login(env: &TestEnv, body: Value) -> u16 {
    env.request("POST", "/auth/login")
        .json(body)
        .send()
        .await
        .status
        .as_u16()
}

async fn verify(env: &TestEnv, email: &str, code: &str) -> u16 {
    env.request("POST", "/users/verify")
        .json(json!({"email": email, "code": code}))
        .send()
        .await
        .status
        .as_u16()
}

/// The review's squatting story: a stranger types the owner's address at a sign-up by
/// phone. It is no login of theirs, and the owner signs up with it, proves it and logs
/// in; the stranger keeps their account and number, without the address.
#[tokio::test]
async fn the_owner_takes_over_an_address_a_stranger_typed_at_a_phone_sign_up() {
    let env = TestEnv::new().await;
    let (owners, strangers_phone) = (unique_email("owner"), fresh_phone());
    let stranger = phone_account(&env, &owners, &strangers_phone, "stranger password 1").await;
    let by_email = json!({"email": owners, "password": "stranger password 1"});
    assert_ne!(
        login(&env, by_email.clone()).await,
        200,
        "no login by an unproven email"
    );
    let before = env.scan_all().await;
    let credential_key = format!("EMAIL#{owners}");

    let r = email_sign_up(&env, &owners).await;
    assert_eq!(r.status, 201, "the owner signs up: {}", r.json());
    let owner = r.json()["data"]["id"].as_str().unwrap().to_owned();
    let code = six_digits(&emails_to(&owners).last().unwrap().1);
    assert_eq!(verify(&env, &owners, &code).await, 200);
    let owner_login = json!({"email": owners, "password": PASSWORD});
    assert_eq!(login(&env, owner_login).await, 200);
    assert_eq!(
        login(&env, by_email).await,
        401,
        "the stranger's password is no login"
    );

    // The stranger keeps the account and the number, and logs in by the number.
    let profile = env
        .request("GET", "/users/profile")
        .bearer(&user_token_with(&stranger, &[]))
        .send()
        .await;
    assert_eq!(profile.status, 200);
    assert_eq!(profile.json()["email"], Value::Null, "{}", profile.json());
    assert_eq!(profile.json()["phone"], strangers_phone.as_str());
    let by_phone = json!({"phone": strangers_phone, "password": "stranger password 1"});
    assert_eq!(
        login(&env, by_phone).await,
        200,
        "the password moved with the account"
    );

    // The record: the credential changed hands (a registration of the owner), the
    // stranger's profile lost the address, and an audit entry says why.
    let after = env.scan_all().await;
    let (old, new) = (
        item(&before, &credential_key, "CREDENTIAL"),
        item(&after, &credential_key, "CREDENTIAL"),
    );
    assert_eq!(s(new.as_ref().unwrap(), "user_id"), Some(owner.as_str()));
    let registered = types(&record(RecordKind::Modify, old, new));
    assert_eq!(registered.len(), 1, "{registered:?}");
    assert_eq!(
        (registered[0].0.as_str(), registered[0].1.as_str()),
        ("account.registered", owner.as_str())
    );
    let profile_key = format!("USER#{stranger}");
    let changed = types(&record(
        RecordKind::Modify,
        item(&before, &profile_key, "PROFILE"),
        item(&after, &profile_key, "PROFILE"),
    ));
    assert_eq!(
        changed,
        [(
            "email.changed".to_owned(),
            stranger.clone(),
            json!({"from": owners, "to": null})
        )]
    );
    let audit = after
        .iter()
        .find(|i| s(i, "pk") == Some(&profile_key) && s(i, "sk").unwrap().starts_with("AUDIT#"))
        .expect("an audit entry on the stranger's account");
    assert_eq!(s(audit, "source"), Some("system"));
    assert_eq!(s(audit, "actor"), Some("unproven_address_taken_over"));

    // The stranger may still add an address, confirmed from the number.
    let theirs = unique_email("stranger");
    let patch = |body: Value| {
        env.request("PATCH", "/users/profile")
            .bearer(&user_token_with(&stranger, &[]))
            .json(body)
            .send()
    };
    assert_eq!(patch(json!({"email": theirs})).await.status, 202);
    let (token, checksum) = (
        six_digits(&emails_to(&theirs)[0].1),
        last_code_to(&strangers_phone),
    );
    let r = patch(json!({"email": theirs, "token": token, "token_checksum": checksum})).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let theirs_login = json!({"email": theirs, "password": "stranger password 1"});
    assert_eq!(login(&env, theirs_login).await, 200);
}

/// An account that lost its unproven address proves itself by its password, found
/// through its number, as at login: the holder can still erase it.
#[tokio::test]
async fn an_account_without_an_address_proves_its_erasure_by_password() {
    let env = TestEnv::new().await;
    let (owners, phone) = (unique_email("owner"), fresh_phone());
    let kept = phone_account(&env, &owners, &phone, "kept password 1").await;
    assert_eq!(email_sign_up(&env, &owners).await.status, 201);
    let erase = |password: &'static str| {
        let (env, kept) = (&env, kept.clone());
        async move {
            env.request("DELETE", "/users/me")
                .bearer(&user_token_with(&kept, &[]))
                .json(json!({"password": password}))
                .send()
                .await
        }
    };
    assert_eq!(erase("wrong password 1").await.status, 401);
    let r = erase("kept password 1").await;
    assert!(r.status.is_success(), "{}", r.json());
    let items = env.scan_all().await;
    let tombstone = item(&items, &format!("USER#{kept}"), "PROFILE").unwrap();
    assert_eq!(s(&tombstone, "erasure"), Some("erased"));
}

/// An email sign-up never proven holds nothing but its claim: the next sign-up with the
/// address deletes it (the erasure's tombstone, `account.deleted`), and the code it was
/// sent stops working.
#[tokio::test]
async fn a_pending_email_sign_up_is_replaced_and_its_code_stops_working() {
    let env = TestEnv::new().await;
    let email = unique_email("pending");
    let r = email_sign_up(&env, &email).await;
    assert_eq!(r.status, 201);
    let first = r.json()["data"]["id"].as_str().unwrap().to_owned();
    let first_code = six_digits(&emails_to(&email)[0].1);
    let before = env.scan_all().await;

    // While its code lives, its claimant may be typing it: nobody takes the address.
    let r = email_sign_up(&env, &email).await;
    assert_eq!(r.status, 400, "{}", r.json());
    env.clock.advance(chrono::Duration::seconds(181));
    let r = email_sign_up(&env, &email).await;
    assert_eq!(r.status, 201, "{}", r.json());
    let second = r.json()["data"]["id"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert_eq!(
        verify(&env, &email, &first_code).await,
        406,
        "the first claim's code is dead"
    );
    let after = env.scan_all().await;
    let first_pk = format!("USER#{first}");
    let left: Vec<&str> = after
        .iter()
        .filter(|i| s(i, "pk") == Some(&first_pk))
        .map(|i| s(i, "sk").unwrap())
        .collect();
    assert_eq!(left, ["PROFILE"], "only the tombstone is left");
    let tombstone = item(&after, &first_pk, "PROFILE").unwrap();
    assert_eq!(s(&tombstone, "erasure"), Some("erased"));
    assert_eq!(s(&tombstone, "email"), None);
    let deleted = types(&record(
        RecordKind::Modify,
        item(&before, &first_pk, "PROFILE"),
        Some(tombstone),
    ));
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].0, "account.deleted");

    let code = six_digits(&emails_to(&email).last().unwrap().1);
    assert_eq!(verify(&env, &email, &code).await, 200);
    assert_eq!(
        login(&env, json!({"email": email, "password": PASSWORD})).await,
        200
    );
    // Proven now: nobody takes it.
    let r = email_sign_up(&env, &email).await;
    assert_eq!(r.status, 400, "{}", r.json());
    assert_eq!(
        r.json()["email"],
        json!(["A user with this email already exists."])
    );
}

/// Many sign-ups at once with one unproven address, by email and by phone, through the
/// routes: afterwards exactly one live account shows it, the one the credential names.
/// (Argon2 spaces them out here; `accounts_store` runs the race without it.)
#[tokio::test]
async fn concurrent_sign_ups_with_one_unproven_address_leave_one_holder() {
    let env = TestEnv::new().await;
    let email = unique_email("contested");
    assert_eq!(email_sign_up(&env, &email).await.status, 201);
    env.clock.advance(chrono::Duration::seconds(181));
    let phones: Vec<String> = (0..3).map(|_| fresh_phone()).collect();
    let mut with_codes = Vec::new();
    for (n, phone) in phones.iter().enumerate() {
        let body = json!({"first_name": "Ada", "last_name": "Lovelace", "email": email,
            "password": PASSWORD, "phone": phone, "date_of_birth": "1990-12-10"});
        let source = format!("203.0.113.{n}");
        let r = env
            .request("POST", "/users/register")
            .from_ip(&source)
            .json(body.clone())
            .send()
            .await;
        assert_eq!(r.status, 202, "{}", r.json());
        let mut body = body;
        body["code"] = json!(last_code_to(phone));
        with_codes.push(body);
    }
    let by_email = (0..5).map(|_| email_sign_up(&env, &email));
    let by_phone = with_codes.iter().enumerate().map(|(n, body)| {
        env.request("POST", "/users/register")
            .from_ip(&format!("203.0.113.{n}"))
            .json(body.clone())
            .send()
    });
    let (emails, phones_answered) = tokio::join!(
        futures_util::future::join_all(by_email),
        futures_util::future::join_all(by_phone)
    );
    let statuses: Vec<u16> = emails
        .iter()
        .chain(&phones_answered)
        .map(|r| r.status.as_u16())
        .collect();
    assert!(
        statuses.iter().all(|s| [201, 400].contains(s)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&201), "{statuses:?}");

    let items = env.scan_all().await;
    let holder = s(
        &item(&items, &format!("EMAIL#{email}"), "CREDENTIAL").unwrap(),
        "user_id",
    )
    .unwrap()
    .to_owned();
    let showing: Vec<&str> = items
        .iter()
        .filter(|i| s(i, "sk") == Some("PROFILE") && s(i, "email") == Some(email.as_str()))
        .map(|i| s(i, "user_id").unwrap())
        .collect();
    assert_eq!(showing, [holder.as_str()], "{statuses:?}");
}

/// An account that holds more than its unproven claim and has no proven number keeps the
/// claim: without the address it would have no way in, for its holder to use, change or
/// erase what it holds.
#[tokio::test]
async fn an_account_with_data_and_no_other_way_in_keeps_its_claim() {
    let env = TestEnv::new().await;
    let email = unique_email("entangled");
    let r = email_sign_up(&env, &email).await;
    assert_eq!(r.status, 201);
    let first = r.json()["data"]["id"].as_str().unwrap().to_owned();
    let token = integration_tests::api_token(&env, &["ci:write"]).await;
    let r = env
        .request("POST", "/api/v1/users/ci/update")
        .bearer(&token)
        .json(json!({"user_ci_properties": [
            {"user_id": first, "properties": {"kakao_id": "0123456789"}}
        ]}))
        .send()
        .await;
    assert_eq!(
        r.json()["result_data"]["successful_user_ids"],
        json!([first]),
        "{}",
        r.json()
    );
    env.clock.advance(chrono::Duration::seconds(181));
    let r = email_sign_up(&env, &email).await;
    assert_eq!(r.status, 400, "{}", r.json());
    let items = env.scan_all().await;
    let credential = item(&items, &format!("EMAIL#{email}"), "CREDENTIAL").unwrap();
    assert_eq!(s(&credential, "user_id"), Some(first.as_str()));
}

/// An email change proves the new address by its token: it takes over another account's
/// unproven claim on it, even one whose code is live, as a sign-up that proved it would.
#[tokio::test]
async fn an_email_change_that_proves_the_address_takes_an_unproven_claim_over() {
    let env = TestEnv::new().await;
    let (contested, current) = (unique_email("contested"), unique_email("current"));
    let r = email_sign_up(&env, &contested).await;
    assert_eq!(r.status, 201);
    let pending = r.json()["data"]["id"].as_str().unwrap().to_owned();
    let holder = integration_tests::verified_account(&env, &current, PASSWORD, ("Vera", "V")).await;
    let patch = |body: Value| {
        env.request("PATCH", "/users/profile")
            .bearer(&user_token_with(&holder, &[]))
            .json(body)
            .send()
    };
    let r = patch(json!({"email": contested})).await;
    assert_eq!(
        r.status,
        202,
        "an unproven claim refuses no change: {}",
        r.json()
    );
    let mail = emails_to(&contested);
    let token = six_digits(&mail.last().unwrap().1);
    let checksum = six_digits(&emails_to(&current).last().unwrap().1);
    let r = patch(json!({"email": contested, "token": token, "token_checksum": checksum})).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let items = env.scan_all().await;
    let credential = item(&items, &format!("EMAIL#{contested}"), "CREDENTIAL").unwrap();
    assert_eq!(s(&credential, "user_id"), Some(holder.as_str()));
    let tombstone = item(&items, &format!("USER#{pending}"), "PROFILE").unwrap();
    assert_eq!(
        s(&tombstone, "erasure"),
        Some("erased"),
        "the pending sign-up is gone"
    );
    assert_eq!(
        login(&env, json!({"email": contested, "password": PASSWORD})).await,
        200
    );
}
