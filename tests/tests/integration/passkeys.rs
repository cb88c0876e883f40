//! Passkeys through the WebAuthn crate's software authenticator: registering one with a
//! recent login, signing in with it without a password or a name (`acr: aal2`), a
//! ceremony answered once, removal behind step-up, export and erasure. The browser's
//! side is `tools/account-page`'s test.

use integration_tests::{TestEnv, claims, start_factor, verified_account};
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

const PASSWORD: &str = "correct horse battery";
const ORIGIN: &str = "http://localhost:3000";

async fn post(
    env: &TestEnv,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> local_api::GatewayResponse {
    let r = env.request("POST", path).json(body);
    match token {
        Some(t) => r.bearer(t).send().await,
        None => r.send().await,
    }
}

async fn login(env: &TestEnv, email: &str) -> String {
    let r = post(
        env,
        "/auth/login",
        None,
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    r.json()["access_token"].as_str().unwrap().to_owned()
}

/// A passkey registered by `authenticator` on the account of `access`: its id, and the
/// user handle the options named (a resident key hands it back at sign-in; the software
/// authenticator keeps no resident keys, so the test hands it back for it).
async fn register(
    env: &TestEnv,
    (access, email): (&str, &str),
    authenticator: &mut SoftPasskey,
) -> (String, String) {
    let r = start_factor(env, "/users/me/passkeys/options", access, email).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let options = r.json();
    let selection = &options["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required");
    assert_eq!(selection["userVerification"], "required");
    let challenge_id = options["challenge_id"].as_str().unwrap().to_owned();
    let handle = options["publicKey"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ccr: CreationChallengeResponse = serde_json::from_value(options).unwrap();
    // The software authenticator refuses to be asked for a resident key.
    if let Some(s) = ccr.public_key.authenticator_selection.as_mut() {
        s.require_resident_key = false;
        s.resident_key = None;
    }
    let credential = authenticator
        .do_registration(Url::parse(ORIGIN).unwrap(), ccr)
        .expect("the software authenticator registers");
    let r = post(
        env,
        "/users/me/passkeys",
        Some(access),
        json!({"challenge_id": challenge_id, "credential": credential}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json());
    (r.json()["id"].as_str().unwrap().to_owned(), handle)
}

/// The browser's answer to sign-in options, from the software authenticator: the body of
/// `POST /auth/passkey`.
async fn assertion(
    env: &TestEnv,
    authenticator: &mut SoftPasskey,
    id: &str,
    handle: &str,
) -> Value {
    let r = post(env, "/auth/passkey/options", None, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let options = r.json();
    assert!(
        options["publicKey"]
            .get("allowCredentials")
            .is_none_or(|a| a.as_array().is_some_and(|a| a.is_empty())),
        "{options}"
    );
    let challenge_id = options["challenge_id"].as_str().unwrap().to_owned();
    let mut rcr: RequestChallengeResponse = serde_json::from_value(options).unwrap();
    // What a resident key does by itself: the browser names the credential it chose.
    rcr.public_key.allow_credentials =
        vec![serde_json::from_value(json!({"type": "public-key", "id": id})).unwrap()];
    let credential = authenticator
        .do_authentication(Url::parse(ORIGIN).unwrap(), rcr)
        .expect("the software authenticator signs");
    let mut credential = serde_json::to_value(credential).unwrap();
    credential["response"]["userHandle"] = Value::from(handle);
    json!({"challenge_id": challenge_id, "credential": credential})
}

/// A sign-in with the passkey `id` of `authenticator`: the answer.
async fn passkey_sign_in(
    env: &TestEnv,
    authenticator: &mut SoftPasskey,
    id: &str,
    handle: &str,
) -> local_api::GatewayResponse {
    let body = assertion(env, authenticator, id, handle).await;
    post(env, "/auth/passkey", None, body).await
}

#[tokio::test]
async fn a_passkey_signs_in_without_a_password_once_per_ceremony_and_stops_when_removed() {
    let env = TestEnv::new().await;
    let email = format!("pk-{:08x}@example.com", rand::random::<u32>());
    verified_account(&env, &email, PASSWORD, ("Ada", "Lovelace")).await;
    let password_access = login(&env, &email).await;
    let mut authenticator = SoftPasskey::new(true);
    let (id, handle) = register(&env, (&password_access, &email), &mut authenticator).await;
    let notice = integration_tests::emails_to(&email).pop().unwrap();
    assert_eq!(notice.0, "A sign-in method was added to your account");
    assert!(notice.1.contains("A passkey"), "{}", notice.1);
    let r = env
        .request("GET", "/users/me/passkeys")
        .bearer(&password_access)
        .send()
        .await;
    assert_eq!(r.status, 200);
    let listed = r.json()["passkeys"].clone();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["last_used_at"], Value::Null);

    let body = assertion(&env, &mut authenticator, &id, &handle).await;
    let r = post(&env, "/auth/passkey", None, body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let access = r.json()["access_token"].as_str().unwrap().to_owned();
    let c = claims(&access);
    assert_eq!(c["acr"], "aal2");
    assert!(
        c["amr"] == json!(["hwk", "user"]) || c["amr"] == json!(["swk", "user"]),
        "{c}"
    );
    assert_eq!(c["sub"], claims(&password_access)["sub"]);
    assert!(c.get("scope").is_none(), "no grants: {c}");
    // The same answer again: its ceremony is spent.
    let r = post(&env, "/auth/passkey", None, body.clone()).await;
    assert_eq!(r.status, 404, "{}", r.json());
    assert_eq!(r.json()["code"], "webauthn_ceremony_not_found");
    // The same signature under a new ceremony: the challenge differs, it does not verify.
    let fresh = post(&env, "/auth/passkey/options", None, json!({}))
        .await
        .json();
    let r = post(
        &env,
        "/auth/passkey",
        None,
        json!({"challenge_id": fresh["challenge_id"], "credential": body["credential"]}),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.json());
    let r = env
        .request("GET", "/users/me/passkeys")
        .bearer(&access)
        .send()
        .await;
    assert!(r.json()["passkeys"][0]["last_used_at"].is_string());

    // With a passkey, a password-only token is not enough to remove it.
    let path = format!("/users/me/passkeys/{id}");
    let r = env
        .request("DELETE", &path)
        .bearer(&password_access)
        .send()
        .await;
    assert_eq!(r.status, 403, "{}", r.json());
    assert_eq!(r.json()["required"]["acr"], "aal2");
    let r = env.request("DELETE", &path).bearer(&access).send().await;
    assert_eq!(r.status, 204, "{}", r.json());
    let r = passkey_sign_in(&env, &mut authenticator, &id, &handle).await;
    assert_eq!(r.status, 401, "a removed passkey: {}", r.json());
    // The account logs in with its password as before, `aal1`.
    assert_eq!(claims(&login(&env, &email).await)["acr"], "aal1");
}

#[tokio::test]
async fn registering_needs_a_recent_login_and_its_own_ceremony() {
    let env = TestEnv::new().await;
    let email = format!("pk-{:08x}@example.com", rand::random::<u32>());
    verified_account(&env, &email, PASSWORD, ("Ada", "Lovelace")).await;
    let access = login(&env, &email).await;
    env.clock.advance(chrono::Duration::seconds(601));
    let r = post(&env, "/users/me/passkeys/options", Some(&access), json!({})).await;
    assert_eq!(r.status, 403, "{}", r.json());
    assert_eq!(r.json()["code"], "reauthentication_required");
    // Another account cannot answer a ceremony that is not its own.
    let access = login(&env, &email).await;
    let r = start_factor(&env, "/users/me/passkeys/options", &access, &email).await;
    let challenge_id = r.json()["challenge_id"].as_str().unwrap().to_owned();
    let mut ccr: CreationChallengeResponse = serde_json::from_value(r.json()).unwrap();
    if let Some(s) = ccr.public_key.authenticator_selection.as_mut() {
        s.require_resident_key = false;
        s.resident_key = None;
    }
    let credential = SoftPasskey::new(true)
        .do_registration(Url::parse(ORIGIN).unwrap(), ccr)
        .unwrap();
    let stranger = integration_tests::user_token("pk-stranger");
    let r = post(
        &env,
        "/users/me/passkeys",
        Some(&stranger),
        json!({"challenge_id": challenge_id, "credential": credential}),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.json());
    // An answer from another origin does not verify. (Each first passkey's options ask
    // for a new confirmation code, one a minute.)
    env.clock.advance(chrono::Duration::seconds(61));
    let r = start_factor(&env, "/users/me/passkeys/options", &access, &email).await;
    let challenge_id = r.json()["challenge_id"].as_str().unwrap().to_owned();
    let mut ccr: CreationChallengeResponse = serde_json::from_value(r.json()).unwrap();
    if let Some(s) = ccr.public_key.authenticator_selection.as_mut() {
        s.require_resident_key = false;
        s.resident_key = None;
    }
    let credential = SoftPasskey::new(true)
        .do_registration(Url::parse("http://localhost:4000").unwrap(), ccr)
        .unwrap();
    let r = post(
        &env,
        "/users/me/passkeys",
        Some(&access),
        json!({"challenge_id": challenge_id, "credential": credential}),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.json());
    // Bad input names its field.
    let r = post(
        &env,
        "/users/me/passkeys",
        Some(&access),
        json!({"challenge_id": "x", "credential": 1}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["errors"]["challenge_id"].is_array());
    assert!(r.json()["errors"]["credential"].is_array());
}

#[tokio::test]
async fn the_export_lists_passkeys_without_keys_and_erasure_removes_them() {
    let env = TestEnv::new().await;
    let email = format!("pk-{:08x}@example.com", rand::random::<u32>());
    let user = verified_account(&env, &email, PASSWORD, ("Ada", "Lovelace")).await;
    let access = login(&env, &email).await;
    let mut authenticator = SoftPasskey::new(true);
    let (id, handle) = register(&env, (&access, &email), &mut authenticator).await;
    let out = integration_tests::profilectl(&env, &["user", "export", &user]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["passkeys"][0]["id"], id.as_str(), "{doc}");
    let stored = env.scan_all().await;
    let item = stored
        .iter()
        .find(|i| i.get("sk").and_then(|s| s.as_s().ok()) == Some(&format!("PASSKEY#{id}")))
        .expect("the passkey's item");
    let credential = item["credential"].as_s().unwrap();
    assert!(!text.contains(credential.as_str()));
    assert!(!text.contains("\"cred\""), "no key material in the export");

    let r = passkey_sign_in(&env, &mut authenticator, &id, &handle).await;
    let strong = r.json()["access_token"].as_str().unwrap().to_owned();
    let r = env
        .request("DELETE", "/users/me")
        .bearer(&strong)
        .json(json!({"password": PASSWORD}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let left = env.scan_all().await;
    let passkey_items: Vec<_> = left
        .iter()
        .filter(|i| format!("{i:?}").contains(&id))
        .collect();
    assert!(passkey_items.is_empty(), "{passkey_items:?}");
}

#[tokio::test]
async fn support_removes_a_lost_passkey_and_the_password_is_enough_again() {
    let env = TestEnv::new().await;
    let email = format!("pk-{:08x}@example.com", rand::random::<u32>());
    let user = verified_account(&env, &email, PASSWORD, ("Ada", "Lovelace")).await;
    let access = login(&env, &email).await;
    let mut authenticator = SoftPasskey::new(true);
    let (id, handle) = register(&env, (&access, &email), &mut authenticator).await;
    // The holder lost the passkey: a password login cannot step up on this account.
    let fresh = login(&env, &email).await;
    let r = env
        .request("DELETE", "/users/me/sessions")
        .bearer(&fresh)
        .send()
        .await;
    assert_eq!(r.status, 403, "{}", r.json());
    let out = integration_tests::profilectl(&env, &["user", "remove-factors", &user]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 second factor(s) removed"));
    let fresh = login(&env, &email).await;
    let r = env
        .request("DELETE", "/users/me/sessions")
        .bearer(&fresh)
        .send()
        .await;
    assert_eq!(r.status, 204, "{}", r.json());
    let r = passkey_sign_in(&env, &mut authenticator, &id, &handle).await;
    assert_eq!(r.status, 401, "{}", r.json());
}

#[tokio::test]
async fn a_passkey_session_carries_the_accounts_operator_grant() {
    let env = TestEnv::new().await;
    let email = format!("pk-{:08x}@example.com", rand::random::<u32>());
    verified_account(&env, &email, PASSWORD, ("Ada", "Lovelace")).await;
    store::AccountStore::new(env.dynamodb.clone(), &env.table)
        .set_grants(
            &domain::Email::parse(&email).unwrap(),
            domain::api_token::USERS_ADMIN_SCOPE,
        )
        .await
        .unwrap();
    let access = login(&env, &email).await;
    assert_eq!(claims(&access)["scope"], "users:admin");
    let mut authenticator = SoftPasskey::new(true);
    let (id, handle) = register(&env, (&access, &email), &mut authenticator).await;
    let r = passkey_sign_in(&env, &mut authenticator, &id, &handle).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let c = claims(r.json()["access_token"].as_str().unwrap());
    assert_eq!(c["scope"], "users:admin");
}
