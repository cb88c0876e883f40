//! The accounts function: its public key documents, and login, refresh and logout.

use integration_tests::{TestEnv, dev_token};
use local_api::GatewayResponse;
use serde_json::{Value, json};

#[tokio::test]
async fn the_key_set_and_discovery_document_are_public() {
    let env = TestEnv::new().await;
    let r = env.request("GET", "/.well-known/jwks.json").send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["cache-control"], "public, max-age=300");
    let jwks: Value = r.json();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], dev_token::DEV_KID);
    assert_eq!(keys[0]["x"], dev_token::DEV_PUBLIC_KEY.trim());
    assert_eq!(
        (
            &keys[0]["kty"],
            &keys[0]["crv"],
            &keys[0]["alg"],
            &keys[0]["use"]
        ),
        (
            &Value::from("OKP"),
            &Value::from("Ed25519"),
            &Value::from("EdDSA"),
            &Value::from("sig")
        )
    );

    let r = env
        .request("GET", "/.well-known/openid-configuration")
        .send()
        .await;
    assert_eq!(r.status, 200);
    let discovery: Value = r.json();
    assert_eq!(discovery["issuer"], dev_token::DEV_ISSUER);
    assert_eq!(
        discovery["jwks_uri"],
        "http://127.0.0.1/.well-known/jwks.json"
    );
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"][0],
        "EdDSA"
    );
}

/// A registered account, made by the store (registration routes come next), with its
/// email marked verified or not.
async fn account(env: &TestEnv, email: &str, password: &str, verified: bool) -> String {
    use aws_sdk_dynamodb::types::AttributeValue;
    let user = domain::UserId::parse(&format!("u-{:08x}", rand::random::<u32>())).unwrap();
    let address = domain::Email::parse(email).unwrap();
    let hash = domain::password::hash(&domain::password::Password::new(password, None).unwrap());
    integration_tests::store_account(env, &user, &address, &hash, None)
        .await
        .unwrap();
    if verified {
        env.dynamodb
            .update_item()
            .table_name(&env.table)
            .key(
                "pk",
                AttributeValue::S(format!("EMAIL#{}", email.to_lowercase())),
            )
            .key("sk", AttributeValue::S("CREDENTIAL".into()))
            .update_expression("SET email_verified = :yes")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await
            .unwrap();
    }
    user.to_string()
}

async fn post(env: &TestEnv, path: &str, body: Value) -> GatewayResponse {
    env.request("POST", path).json(body).send().await
}

#[tokio::test]
async fn login_refresh_and_logout() {
    let env = TestEnv::new().await;
    let user = account(&env, "ada@example.com", "correct horse", true).await;
    let login = json!({"email": "Ada@Example.com", "password": "correct horse"});
    env.calls.reset();
    let r = post(&env, "/auth/login", login.clone()).await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(
        env.calls.take(),
        ["UpdateItem", "TransactWriteItems"],
        "login: the credential read with the attempt, then the refresh token written"
    );
    assert_eq!(r.headers["cache-control"], "no-store");
    let tokens: Value = r.json();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    let access = tokens["access_token"].as_str().unwrap();
    let me = env
        .request("PATCH", "/users/profile")
        .bearer(access)
        .json(json!({"first_name": "Ada"}))
        .send()
        .await;
    assert_eq!(me.status, 200, "the access token works on the API");
    assert_eq!(me.json()["user_id"], user.as_str());

    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let r = post(&env, "/auth/refresh", json!({"refresh_token": first})).await;
    assert_eq!(r.status, 200);
    let second = r.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);

    env.clock.advance(chrono::Duration::seconds(11));
    let r = post(&env, "/auth/refresh", json!({"refresh_token": first})).await;
    assert_eq!(r.status, 401, "a spent token after the grace");
    assert_eq!(r.json()["code"], "invalid_refresh_token");
    let r = post(&env, "/auth/refresh", json!({"refresh_token": second})).await;
    assert_eq!(
        r.status, 401,
        "reuse revoked the family, its newest token too"
    );

    let r = post(&env, "/auth/login", login).await;
    let third = r.json()["refresh_token"].as_str().unwrap().to_owned();
    let r = post(&env, "/auth/logout", json!({"refresh_token": third})).await;
    assert_eq!(r.status, 204);
    let r = post(&env, "/auth/refresh", json!({"refresh_token": third})).await;
    assert_eq!(r.status, 401, "logged out");
}

#[tokio::test]
async fn wrong_passwords_unknown_emails_and_unverified_accounts() {
    let env = TestEnv::new().await;
    account(&env, "grace@example.com", "correct horse", false).await;
    let r = post(
        &env,
        "/auth/login",
        json!({"email": "grace@example.com", "password": "correct horse"}),
    )
    .await;
    assert_eq!(r.status, 403, "the right password of an unverified account");
    assert_eq!(r.json()["code"], "account_not_verified");

    account(&env, "ada@example.com", "correct horse", true).await;
    let unknown = post(
        &env,
        "/auth/login",
        json!({"email": "nobody@example.com", "password": "correct horse"}),
    )
    .await;
    let wrong = post(
        &env,
        "/auth/login",
        json!({"email": "ada@example.com", "password": "wrong horse"}),
    )
    .await;
    assert_eq!((unknown.status.as_u16(), wrong.status.as_u16()), (401, 401));
    assert_eq!(unknown.json(), wrong.json(), "the same answer for both");
    // With the wrong try above, five attempts in this window.
    for _ in 0..4 {
        let r = post(
            &env,
            "/auth/login",
            json!({"email": "ada@example.com", "password": "wrong horse"}),
        )
        .await;
        assert_eq!(r.status, 401);
    }
    let r = post(
        &env,
        "/auth/login",
        json!({"email": "ada@example.com", "password": "correct horse"}),
    )
    .await;
    assert_eq!(
        r.status, 429,
        "the sixth attempt in 15 minutes, even with the right password"
    );
    assert!(r.headers.contains_key("retry-after"));

    let r = post(&env, "/auth/login", json!({"email": "ada@example.com"})).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["errors"]["password"].is_array());
    let r = post(
        &env,
        "/auth/login",
        json!({"email": "a@b.c", "password": "x", "admin": true}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["errors"]["admin"].is_array());
}
