//! Seed 001's accounts by id: who may read and change an account, in seed 001's shapes;
//! the user's phone through a code, an administrator's email and phone directly, audited.

use integration_tests::{TestEnv, api_token, fresh_phone, last_code_to, user_token_with};
use local_api::GatewayResponse;
use serde_json::{Value, json};

fn unique_email(name: &str) -> String {
    format!("{name}-{:08x}@example.com", rand::random::<u32>())
}

/// A seed-001 account; returns its id.
async fn signed_up(env: &TestEnv, email: &str) -> String {
    let r = env
        .request("POST", "/api/v1/accounts/users")
        .json(json!({
            "email": email, "password": "securepassword123", "confirm_password": "securepassword123",
            "first_name": "John", "last_name": "Doe", "gender": "M", "country": "US"
        }))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
    r.json()["data"]["id"].as_str().unwrap().to_owned()
}

async fn get(env: &TestEnv, id: &str, token: &str) -> GatewayResponse {
    env.request("GET", &format!("/api/v1/accounts/users/{id}"))
        .bearer(token)
        .send()
        .await
}

async fn patch(env: &TestEnv, id: &str, token: &str, body: Value) -> GatewayResponse {
    env.request("PATCH", &format!("/api/v1/accounts/users/{id}"))
        .bearer(token)
        .json(body)
        .send()
        .await
}

fn user(id: &str) -> String {
    user_token_with(id, &[])
}

fn admin() -> String {
    user_token_with("usr_admin", &["users:admin"])
}

#[tokio::test]
async fn only_the_user_an_admin_or_a_scoped_api_token_sees_an_account() {
    let env = TestEnv::new().await;
    let email = unique_email("john");
    let id = signed_up(&env, &email).await;
    let other = signed_up(&env, &unique_email("mallory")).await;

    env.calls.reset();
    let r = get(&env, &id, &user(&id)).await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(env.calls.take(), ["GetItem"]);
    let body = r.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "id",
        "email",
        "first_name",
        "last_name",
        "phone",
        "photo",
        "address",
        "gender",
        "country",
        "birthday",
        "has_initial_profile",
        "disabled",
        "created_at",
        "updated_at",
    ];
    expected.sort();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, expected);
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["email"], email.as_str());
    assert_eq!(body["gender"], "M");
    assert_eq!(body["country"], "US");
    assert_eq!(body["has_initial_profile"], false, "no birthday yet");
    assert_eq!(body["disabled"], false);

    let hidden = get(&env, &id, &user(&other)).await;
    let missing = get(&env, "usr_nobody", &user(&other)).await;
    let malformed = get(&env, "not%20an%20id", &user(&other)).await;
    for r in [&hidden, &missing, &malformed] {
        assert_eq!(r.status, 404);
        assert_eq!(r.json(), json!({"error": "User not found"}));
    }
    assert_eq!(hidden.body, missing.body, "another's account looks missing");
    let read_scopes = user_token_with(&other, &["users:read", "users:write", "profiles:read"]);
    assert_eq!(
        get(&env, &id, &read_scopes).await.status,
        404,
        "a user token reaches others only with users:admin"
    );

    assert_eq!(get(&env, &id, &admin()).await.json(), body);
    let reader = api_token(&env, &["users:read"]).await;
    assert_eq!(get(&env, &id, &reader).await.json(), body);
    let unscoped = api_token(&env, &["profiles:read"]).await;
    assert_eq!(get(&env, &id, &unscoped).await.status, 404);
    assert_eq!(
        patch(&env, &id, &reader, json!({"first_name": "X"}))
            .await
            .status,
        404,
        "users:read does not write"
    );
}

#[tokio::test]
async fn the_user_changes_fields_and_proves_a_new_number() {
    let env = TestEnv::new().await;
    let id = signed_up(&env, &unique_email("john")).await;
    let token = user(&id);
    let r = patch(
        &env,
        &id,
        &token,
        json!({"first_name": "Johnny", "gender": "F", "birthday": "1990-01-01",
               "address": "123 Main Street, Some City"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let body = r.json();
    assert_eq!(body["first_name"], "Johnny");
    assert_eq!(body["gender"], "F");
    assert_eq!(body["birthday"], "1990-01-01");
    assert_eq!(body["has_initial_profile"], true);
    let profile = env
        .request("GET", "/users/profile")
        .bearer(&token)
        .send()
        .await
        .json();
    assert_eq!(profile["gender"], "female", "one profile, two views");
    assert_eq!(profile["address"], "123 Main Street, Some City");

    let r = patch(
        &env,
        &id,
        &token,
        json!({"birthday": "2999-01-01", "id": "x", "role": "admin", "email": "new@example.com"}),
    )
    .await;
    assert_eq!(r.status, 400);
    let errors = r.json();
    for field in ["birthday", "id", "role"] {
        assert!(errors[field].is_array(), "{field}: {errors}");
    }

    let r = patch(&env, &id, &token, json!({"email": unique_email("new")})).await;
    assert_eq!(
        r.status,
        400,
        "an unproven email cannot confirm a change of itself: {}",
        r.json()
    );
    assert!(r.json()["email"].is_array(), "{}", r.json());

    let phone = fresh_phone();
    let r = patch(&env, &id, &token, json!({"phone": phone})).await;
    assert_eq!(r.status, 202, "{}", r.json());
    let code = last_code_to(&phone);
    let r = patch(&env, &id, &token, json!({"phone": phone, "code": code})).await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["phone"], phone.as_str());

    let server = api_token(&env, &["users:write"]).await;
    let r = patch(&env, &id, &server, json!({"phone": fresh_phone()})).await;
    assert_eq!(r.status, 403, "API tokens do not set numbers");
    assert!(r.json()["phone"].is_array());
    let r = patch(&env, &id, &server, json!({"email": unique_email("x")})).await;
    assert_eq!(r.status, 403, "nor emails");
    assert!(r.json()["email"].is_array());
    let r = patch(&env, &id, &server, json!({"last_name": "Roe"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["last_name"], "Roe");
    let items = env.scan_all().await;
    let audit: Vec<_> = items
        .iter()
        .filter(|i| i["sk"].as_s().unwrap().starts_with("AUDIT#"))
        .collect();
    assert_eq!(audit.len(), 1, "only the API token's change is on record");
    assert_eq!(audit[0]["source"].as_s().unwrap(), "api");
    assert!(audit[0]["actor"].as_s().unwrap().starts_with("tok_"));
    let record: Value = serde_dynamo::from_item(audit[0].clone()).unwrap();
    assert_eq!(
        record["changes"],
        json!({"last_name": {"from": "Doe", "to": "Roe"}}),
        "what changed, from what it was"
    );
    assert_eq!(
        patch(&env, "usr_nobody", &server, json!({"last_name": "Roe"}))
            .await
            .json(),
        json!({"error": "User not found"}),
        "a write never creates an account"
    );
}

#[tokio::test]
async fn an_admin_sets_email_and_phone_directly_with_an_audit_entry() {
    let env = TestEnv::new().await;
    let (old_email, new_email) = (unique_email("john"), unique_email("johnny"));
    let id = signed_up(&env, &old_email).await;
    let taken = unique_email("taken");
    signed_up(&env, &taken).await;
    let phone = fresh_phone();

    let r = patch(
        &env,
        &id,
        &admin(),
        json!({"email": new_email, "phone": phone, "first_name": "Johnny"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let body = r.json();
    assert_eq!(
        (&body["email"], &body["phone"], &body["first_name"]),
        (&json!(new_email), &json!(phone), &json!("Johnny"))
    );
    assert_eq!(get(&env, &id, &admin()).await.json(), body);

    let login = |email: &str| {
        env.request("POST", "/auth/login")
            .json(json!({"email": email, "password": "securepassword123"}))
            .send()
    };
    assert_eq!(login(&new_email).await.status, 200, "the password moved");
    assert_eq!(
        login(&old_email).await.status,
        401,
        "the old address is free"
    );

    let items = env.scan_all().await;
    let audit: Vec<_> = items
        .iter()
        .filter(|i| i["sk"].as_s().unwrap().starts_with("AUDIT#"))
        .collect();
    assert_eq!(audit.len(), 1, "{items:?}");
    let entry = audit[0];
    assert_eq!(entry["actor"].as_s().unwrap(), "usr_admin");
    assert_eq!(entry["source"].as_s().unwrap(), "admin");
    let changes = entry["changes"].as_m().unwrap();
    assert!(changes.contains_key("email") && changes.contains_key("phone"));
    assert!(
        changes.contains_key("first_name"),
        "the other fields of the same change too"
    );
    assert!(
        items
            .iter()
            .any(|i| i["pk"].as_s().unwrap() == &format!("PHONE#{phone}")),
        "the number is claimed"
    );

    let r = patch(&env, &id, &admin(), json!({"email": taken.to_uppercase()})).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["email"].is_array(), "{}", r.json());
    let other = signed_up(&env, &unique_email("other")).await;
    let r = patch(&env, &other, &admin(), json!({"phone": phone})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "phone_taken");
    assert_eq!(
        env.scan_all()
            .await
            .iter()
            .filter(|i| i["sk"].as_s().unwrap().starts_with("AUDIT#"))
            .count(),
        1,
        "refused changes leave no audit entry"
    );
}

#[tokio::test]
async fn an_operator_grant_reaches_the_token_and_its_revocation_ends_the_sessions() {
    let env = TestEnv::new().await;
    let admin_email = unique_email("admin");
    let admin_id = signed_up(&env, &admin_email).await;
    let id = signed_up(&env, &unique_email("john")).await;
    let address = domain::Email::parse(&admin_email).unwrap();
    let accounts = store::AccountStore::new(env.dynamodb.clone(), &env.table);
    // Verified by the store, as `profilectl` is an operator's tool, not a route.
    env.dynamodb
        .update_item()
        .table_name(&env.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("EMAIL#{}", address.normalized())),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("CREDENTIAL".into()),
        )
        .update_expression("SET email_verified = :t")
        .expression_attribute_values(":t", aws_sdk_dynamodb::types::AttributeValue::Bool(true))
        .send()
        .await
        .unwrap();
    let login = || {
        env.request("POST", "/auth/login")
            .json(json!({"email": admin_email, "password": "securepassword123"}))
            .send()
    };
    let before = login().await.json();
    let token = before["access_token"].as_str().unwrap();
    assert_eq!(get(&env, &id, token).await.status, 404, "no grant yet");

    let granted = accounts
        .set_grants(&address, domain::api_token::USERS_ADMIN_SCOPE)
        .await
        .unwrap();
    assert_eq!(granted.map(|u| u.to_string()), Some(admin_id.clone()));
    let after = login().await.json();
    let token = after["access_token"].as_str().unwrap();
    assert_eq!(
        get(&env, &id, token).await.status,
        200,
        "the grant is in the token"
    );
    let refreshed = env
        .request("POST", "/auth/refresh")
        .json(json!({"refresh_token": after["refresh_token"]}))
        .send()
        .await
        .json();
    let token = refreshed["access_token"].as_str().unwrap();
    assert_eq!(
        get(&env, &id, token).await.status,
        200,
        "a refreshed token keeps the session's grant"
    );

    accounts.set_grants(&address, "").await.unwrap();
    let operator = domain::Actor {
        source: domain::Source::Admin,
        actor: "profilectl".into(),
        request_id: "test-revoke".into(),
    };
    let ended = store::SessionStore::new(env.dynamodb.clone(), &env.table)
        .end_every(
            &domain::UserId::parse(&admin_id).unwrap(),
            store::EndedBy::Admin,
            &operator,
            env.clock.now(),
        )
        .await
        .unwrap();
    assert_eq!(ended, 2, "both logins' sessions");
    let r = env
        .request("POST", "/auth/refresh")
        .json(json!({"refresh_token": refreshed["refresh_token"]}))
        .send()
        .await;
    assert_eq!(
        r.status, 401,
        "a revoked grant ends the sessions that carried it"
    );
    assert_eq!(
        accounts
            .set_grants(&domain::Email::parse("nobody@example.com").unwrap(), "")
            .await
            .unwrap(),
        None
    );
}

/// An administrator sets a number for a user whose typed, unproven number another
/// account has proven since: the typed number holds no marker of theirs to give up.
#[tokio::test]
async fn an_admin_sets_a_number_over_a_typed_one_another_account_proved() {
    let env = TestEnv::new().await;
    let (typed, own) = (fresh_phone(), fresh_phone());
    let r = env
        .request("POST", "/api/v1/accounts/users")
        .json(json!({
            "email": unique_email("typist"), "password": "securepassword123",
            "confirm_password": "securepassword123", "phone": typed
        }))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
    let typist = r.json()["data"]["id"].as_str().unwrap().to_owned();
    let prove = |body: Value| {
        env.request("PATCH", "/users/profile")
            .user("prover")
            .json(body)
            .send()
    };
    assert_eq!(prove(json!({"phone": typed})).await.status, 202);
    let r = prove(json!({"phone": typed, "code": last_code_to(&typed)})).await;
    assert_eq!(r.status, 200, "{}", r.json());

    let r = patch(&env, &typist, &admin(), json!({"phone": own})).await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["phone"], own.as_str());
}
