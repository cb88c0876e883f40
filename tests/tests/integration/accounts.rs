//! The accounts function: its public key documents, and login, refresh and logout.

use integration_tests::{TestEnv, claims, dev_token};
use local_api::GatewayResponse;
use serde_json::{Value, json};

#[tokio::test]
async fn the_key_set_and_the_server_metadata_are_public() {
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

    // RFC 8414: the endpoints where the API was reached, port and all (make dev serves
    // on one), and the issuer the tokens carry.
    let r = env
        .request("GET", "/.well-known/oauth-authorization-server")
        .header("host", "127.0.0.1:4321")
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["cache-control"], "public, max-age=300");
    let metadata: Value = r.json();
    assert_eq!(metadata["issuer"], dev_token::DEV_ISSUER);
    assert_eq!(
        metadata["jwks_uri"],
        "http://127.0.0.1:4321/.well-known/jwks.json"
    );
    assert_eq!(
        metadata["token_endpoint"],
        "http://127.0.0.1:4321/oauth/token"
    );
    assert_eq!(metadata["grant_types_supported"], json!(["refresh_token"]));
    assert_eq!(metadata["response_types_supported"], json!([]));
    let r = env
        .request("GET", "/.well-known/openid-configuration")
        .send()
        .await;
    assert_eq!(
        r.status, 404,
        "no OpenID provider document: there are no ID tokens"
    );
}

fn form<'a>(env: &'a TestEnv, body: &str) -> integration_tests::TestRequest<'a> {
    env.request("POST", "/oauth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .raw(body.as_bytes().to_vec())
}

/// RFC 9068's `client_id`: the app a login names, or first-party apps' when it names
/// none; a refresh keeps it. RFC 6749's token endpoint refreshes as `/auth/refresh` does.
#[tokio::test]
async fn access_tokens_name_their_client_and_the_token_endpoint_refreshes() {
    let env = TestEnv::new().await;
    account(&env, "cid@example.com", "correct horse", true).await;
    let login = json!({"email": "cid@example.com", "password": "correct horse"});
    let r = post(&env, "/auth/login", login.clone()).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let tokens = r.json();
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["client_id"],
        domain::session::DEFAULT_CLIENT_ID
    );

    let mut named = login.clone();
    named["client_id"] = json!(local_api::DEV_CLIENT_ID);
    let r = post(&env, "/auth/login", named.clone()).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let app = r.json();
    assert_eq!(
        claims(app["access_token"].as_str().unwrap())["client_id"],
        local_api::DEV_CLIENT_ID
    );
    let r = post(
        &env,
        "/auth/refresh",
        json!({"refresh_token": app["refresh_token"]}),
    )
    .await;
    assert_eq!(
        claims(r.json()["access_token"].as_str().unwrap())["client_id"],
        local_api::DEV_CLIENT_ID,
        "the session remembers its client"
    );
    // RFC 6749's endpoint refreshes a session's token for its own client only, and a
    // refusal spends nothing.
    let app_refresh = r.json()["refresh_token"].as_str().unwrap().to_owned();
    let r = form(
        &env,
        &format!("grant_type=refresh_token&refresh_token={app_refresh}&client_id=user-profile-app"),
    )
    .send()
    .await;
    assert_eq!(r.status, 400, "{}", r.json());
    assert_eq!(r.json()["error"], "invalid_grant");
    let r = form(
        &env,
        &format!(
            "grant_type=refresh_token&refresh_token={app_refresh}&client_id={}",
            local_api::DEV_CLIENT_ID
        ),
    )
    .send()
    .await;
    assert_eq!(r.status, 200, "its own client refreshes it: {}", r.json());
    named["client_id"] = json!("another-app");
    let r = post(&env, "/auth/login", named).await;
    assert_eq!(r.status, 400, "{}", r.json());
    assert!(r.json()["errors"]["client_id"].is_array(), "{}", r.json());

    let refresh = tokens["refresh_token"].as_str().unwrap();
    let r = form(
        &env,
        &format!("grant_type=refresh_token&refresh_token={refresh}"),
    )
    .send()
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.headers["cache-control"], "no-store");
    let refreshed = r.json();
    assert_eq!(refreshed["token_type"], "Bearer");
    assert_eq!(
        claims(refreshed["access_token"].as_str().unwrap())["client_id"],
        domain::session::DEFAULT_CLIENT_ID,
        "a refresh keeps the session's client"
    );

    env.clock.advance(chrono::Duration::seconds(11));
    let r = form(
        &env,
        &format!("grant_type=refresh_token&refresh_token={refresh}"),
    )
    .send()
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_grant");
    let r = form(
        &env,
        "grant_type=password&username=cid%40example.com&password=x",
    )
    .send()
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "unsupported_grant_type");
    let r = form(
        &env,
        "grant_type=refresh_token&refresh_token=x&client_id=someone-else",
    )
    .send()
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_client");
    let r = env
        .request("POST", "/oauth/token")
        .json(json!({"grant_type": "refresh_token", "refresh_token": refresh}))
        .send()
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_request");
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
    let mut calls = env.calls.take();
    calls.sort();
    assert_eq!(
        calls,
        [
            "GetItem",
            "GetItem",
            "TransactWriteItems",
            "TransactWriteItems"
        ],
        "login: the attempt counted beside the read of its credential, the sign-out \
         generation read while the password hashes, then the session written"
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
    // An unproven address with a wrong password answers as an unknown one: only the
    // right password learns that it waits for its proof.
    let unproven = post(
        &env,
        "/auth/login",
        json!({"email": "grace@example.com", "password": "wrong horse"}),
    )
    .await;
    assert_eq!(unproven.status, 401);
    assert_eq!(unproven.json(), unknown.json());
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

/// An app that refreshes twice at once (a retry on a flaky network) gets the same new
/// pair's refresh token both times, and it goes on refreshing: the family is one line.
#[tokio::test]
async fn two_refreshes_with_one_token_at_once_get_the_same_usable_successor() {
    let env = TestEnv::new().await;
    account(&env, "ada@example.com", "correct horse", true).await;
    let login = json!({"email": "ada@example.com", "password": "correct horse"});
    let first = post(&env, "/auth/login", login).await.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh = |token: &str| post(&env, "/auth/refresh", json!({"refresh_token": token}));
    let (a, b) = futures_util::future::join(refresh(&first), refresh(&first)).await;
    assert_eq!(
        (a.status.as_u16(), b.status.as_u16()),
        (200, 200),
        "{} {}",
        a.json(),
        b.json()
    );
    let (a, b) = (a.json(), b.json());
    assert_eq!(a["refresh_token"], b["refresh_token"], "the same successor");
    let next = a["refresh_token"].as_str().unwrap();
    assert_ne!(next, first);
    env.clock.advance(chrono::Duration::seconds(60));
    let r = refresh(next).await;
    assert_eq!(r.status, 200, "the family lives on: {}", r.json());
}

/// A stranger guessing from one address cannot keep the owner out from another, and an
/// address that has an account answers the guesses as one that has none.
#[tokio::test]
async fn failed_logins_count_per_address_and_source_alike_for_known_and_unknown() {
    let env = TestEnv::new().await;
    account(&env, "ada@example.com", "correct horse", true).await;
    let attempt = |email: &'static str, password: &'static str, ip: &'static str| {
        let env = &env;
        async move {
            env.request("POST", "/auth/login")
                .from_ip(ip)
                .json(json!({"email": email, "password": password}))
                .send()
                .await
                .status
                .as_u16()
        }
    };
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..6 {
        known.push(attempt("ada@example.com", "wrong horse", "203.0.113.7").await);
        unknown.push(attempt("nobody@example.com", "wrong horse", "203.0.113.7").await);
    }
    assert_eq!(known, [401, 401, 401, 401, 401, 429]);
    assert_eq!(unknown, known, "the same sequence, account or none");
    assert_eq!(
        attempt("ada@example.com", "correct horse", "198.51.100.9").await,
        200,
        "the owner, from elsewhere, logs in"
    );
    assert_eq!(
        attempt("ada@example.com", "correct horse", "203.0.113.7").await,
        429,
        "the guessing source stays throttled"
    );
}

/// Twenty wrong passwords at once from one source: five are judged, the rest wait.
#[tokio::test]
async fn concurrent_wrong_logins_take_only_the_five_places() {
    let env = TestEnv::new().await;
    account(&env, "ada@example.com", "correct horse", true).await;
    let tries = (0..20).map(|_| {
        env.request("POST", "/auth/login")
            .from_ip("203.0.113.8")
            .json(json!({"email": "ada@example.com", "password": "wrong horse"}))
            .send()
    });
    let mut statuses: Vec<u16> = futures_util::future::join_all(tries)
        .await
        .iter()
        .map(|r| r.status.as_u16())
        .collect();
    statuses.sort();
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        5,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [401, 429].contains(s)),
        "{statuses:?}"
    );
}
