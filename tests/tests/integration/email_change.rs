//! Email change through PATCH /users/profile: a token to the new address and a token
//! checksum to the current proven address (or the proven number); both are needed to
//! apply; the credential moves with the address; the old address is told.

use integration_tests::{
    TestEnv, emails_to, fresh_phone, last_code_to, phone_account, six_digits, sms_to,
    user_token_with, verified_account,
};
use local_api::GatewayResponse;
use serde_json::{Value, json};

const PASSWORD: &str = "securepassword123";

fn unique_email(name: &str) -> String {
    format!("{name}-{:08x}@example.com", rand::random::<u32>())
}

async fn signed_up(env: &TestEnv, email: &str) -> String {
    verified_account(env, email, PASSWORD, ("John", "Doe")).await
}

async fn patch(env: &TestEnv, user: &str, body: Value) -> GatewayResponse {
    env.request("PATCH", "/users/profile")
        .bearer(&user_token_with(user, &[]))
        .json(body)
        .send()
        .await
}

/// The code in the last email to `address` whose subject has `about`.
fn code_mailed(address: &str, about: &str) -> String {
    let mail = emails_to(address);
    let (_, text) = mail
        .iter()
        .rev()
        .find(|(subject, _)| subject.contains(about))
        .unwrap_or_else(|| panic!("no email about {about:?} to {address}: {mail:?}"));
    six_digits(text)
}

fn other_than(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

#[tokio::test]
async fn token_and_checksum_together_move_the_address() {
    let env = TestEnv::new().await;
    let (old, new) = (unique_email("old"), unique_email("new"));
    let id = signed_up(&env, &old).await;

    let r = patch(&env, &id, json!({"email": new, "first_name": "Johnny"})).await;
    assert_eq!(r.status, 202, "{}", r.json());
    assert!(
        r.json().get("token_checksum").is_none(),
        "the checksum is never in the answer: {}",
        r.json()
    );
    assert_eq!(r.json()["expires_in"], 180);
    let token = code_mailed(&new, "new email");
    let checksum = code_mailed(&old, "Confirm the change");
    assert_eq!(
        emails_to(&new).len(),
        1,
        "the checksum never goes to the new address"
    );

    let r = patch(
        &env,
        &id,
        json!({"email": new, "token": other_than(&token), "token_checksum": checksum}),
    )
    .await;
    assert_eq!(r.status, 406);
    assert_eq!(r.json()["code"], "otp_invalid");
    let r = patch(
        &env,
        &id,
        json!({"email": new, "token": token, "token_checksum": other_than(&checksum)}),
    )
    .await;
    assert_eq!(r.status, 406, "the right token with a wrong checksum");
    let r = patch(&env, &id, json!({"email": new, "token": token})).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["errors"]["token_checksum"].is_array());
    let profile = env
        .request("GET", "/users/profile")
        .bearer(&user_token_with(&id, &[]))
        .send()
        .await
        .json();
    assert_eq!(profile["email"], old.as_str(), "nothing moved yet");

    env.calls.reset();
    let r = patch(
        &env,
        &id,
        json!({"email": new, "token": token, "token_checksum": checksum, "first_name": "Johnny"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(
        env.calls.take(),
        [
            "BatchGetItem",
            "BatchGetItem",
            "GetItem",
            "TransactWriteItems"
        ],
        "the change's read, the confirmation's read, the old credential, one transaction"
    );
    assert_eq!(r.json()["email"], new.as_str());
    assert_eq!(r.json()["first_name"], "Johnny");

    let login = |email: String| {
        env.request("POST", "/auth/login")
            .json(json!({"email": email, "password": PASSWORD}))
            .send()
    };
    assert_eq!(
        login(new.clone()).await.status,
        200,
        "the password moved, and the new address is proven"
    );
    assert_eq!(login(old.clone()).await.status, 401);
    let notices = emails_to(&old);
    assert!(
        notices
            .iter()
            .any(|(subject, _)| subject.contains("was changed")),
        "the old address is told: {notices:?}"
    );
    let r = patch(
        &env,
        &id,
        json!({"email": new, "token": token, "token_checksum": checksum}),
    )
    .await;
    assert_eq!(
        r.status, 200,
        "the address is the account's: nothing to verify"
    );
}

/// A thief with the holder's access token, who owns the new mailbox, has the token but
/// not the checksum: five guesses burn it, and the address stays.
#[tokio::test]
async fn a_stolen_session_alone_cannot_move_the_address() {
    let env = TestEnv::new().await;
    let (old, thiefs) = (unique_email("owner"), unique_email("thief"));
    let id = signed_up(&env, &old).await;
    assert_eq!(patch(&env, &id, json!({"email": thiefs})).await.status, 202);
    let token = code_mailed(&thiefs, "new email");
    let checksum = code_mailed(&old, "Confirm the change");
    for guess in 0..5 {
        let guess = format!(
            "{:06}",
            (checksum.parse::<u32>().unwrap() + 1 + guess) % 1_000_000
        );
        let r = patch(
            &env,
            &id,
            json!({"email": thiefs, "token": token, "token_checksum": guess}),
        )
        .await;
        assert_eq!(r.status, 406, "{}", r.json());
    }
    let r = patch(
        &env,
        &id,
        json!({"email": thiefs, "token": token, "token_checksum": checksum}),
    )
    .await;
    assert_eq!(r.status, 406, "the checksum is burned: {}", r.json());
    assert_eq!(r.json()["code"], "otp_attempts_exceeded");
    let login = env
        .request("POST", "/auth/login")
        .json(json!({"email": thiefs, "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(login.status, 401, "the thief's address is no login");
    let login = env
        .request("POST", "/auth/login")
        .json(json!({"email": old, "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(login.status, 200, "the owner's is");
}

/// A sign-up by phone has an unproven email: the checksum goes to the proven number. An
/// account with neither proven cannot start a change.
#[tokio::test]
async fn the_checksum_goes_to_the_proven_number_when_the_email_is_unproven() {
    let env = TestEnv::new().await;
    let (typed, new, phone) = (unique_email("typed"), unique_email("new"), fresh_phone());
    let id = phone_account(&env, &typed, &phone, PASSWORD).await;
    let texts_before = sms_to(&phone).len();
    let r = patch(&env, &id, json!({"email": new})).await;
    assert_eq!(r.status, 202, "{}", r.json());
    assert!(
        emails_to(&typed)
            .iter()
            .all(|(s, _)| !s.contains("Confirm")),
        "nothing to the unproven address"
    );
    assert_eq!(sms_to(&phone).len(), texts_before + 1);
    let (token, checksum) = (code_mailed(&new, "new email"), last_code_to(&phone));
    let r = patch(
        &env,
        &id,
        json!({"email": new, "token": token, "token_checksum": checksum}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["email"], new.as_str());

    // Signed up with an email, never proven: nobody can confirm a change.
    let unproven = unique_email("unproven");
    let r = env
        .request("POST", "/api/v1/accounts/users")
        .json(json!({"email": unproven, "password": PASSWORD, "confirm_password": PASSWORD}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
    let unproven_id = r.json()["data"]["id"].as_str().unwrap().to_owned();
    let r = patch(
        &env,
        &unproven_id,
        json!({"email": unique_email("elsewhere")}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.json());
    assert!(r.json()["errors"]["email"].is_array(), "{}", r.json());
}

#[tokio::test]
async fn a_taken_address_or_an_identity_provider_account_is_refused() {
    let env = TestEnv::new().await;
    let taken = unique_email("taken");
    signed_up(&env, &taken).await;
    let id = signed_up(&env, &unique_email("john")).await;
    let mailed_before = emails_to(&taken).len();
    let r = patch(&env, &id, json!({"email": taken.to_uppercase()})).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["errors"]["email"].is_array(), "{}", r.json());
    assert!(
        emails_to(&taken.to_uppercase()).is_empty() && emails_to(&taken).len() == mailed_before,
        "no token to a taken address"
    );

    // A user of an identity provider has a profile but no password login.
    let idp = "idp-user-1";
    assert_eq!(
        patch(&env, idp, json!({"first_name": "Ida"})).await.status,
        200
    );
    let r = patch(&env, idp, json!({"email": unique_email("ida")})).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["errors"]["email"].is_array());

    let r = patch(&env, &id, json!({"token": "123456"})).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["errors"]["token"].is_array());
}

/// The same change through seed 001's `PATCH /api/v1/accounts/users/{id}`.
#[tokio::test]
async fn the_account_route_moves_the_address_with_token_and_checksum_too() {
    let env = TestEnv::new().await;
    let (old, new) = (unique_email("old"), unique_email("new"));
    let id = signed_up(&env, &old).await;
    let patch_account = |body: Value| {
        env.request("PATCH", &format!("/api/v1/accounts/users/{id}"))
            .bearer(&user_token_with(&id, &[]))
            .json(body)
            .send()
    };
    let r = patch_account(json!({"email": new})).await;
    assert_eq!(r.status, 202, "{}", r.json());
    assert!(r.json().get("token_checksum").is_none());
    let (token, checksum) = (code_mailed(&new, "new email"), code_mailed(&old, "Confirm"));
    let r = patch_account(json!({"email": new, "token": token, "token_checksum": checksum})).await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["email"], new.as_str());
}

/// A thief with the holder's session proves a number of their own by a phone change (its
/// code goes to the new number). For a day that number confirms no email change, receives
/// no reset code and proves no erasure or first factor: the session alone still moves
/// nothing.
#[tokio::test]
async fn a_number_a_stolen_session_just_proved_confirms_and_recovers_nothing_for_a_day() {
    let env = TestEnv::new().await;
    let (typed, holders) = (unique_email("typed"), fresh_phone());
    let id = phone_account(&env, &typed, &holders, PASSWORD).await;
    let thiefs = fresh_phone();
    assert_eq!(patch(&env, &id, json!({"phone": thiefs})).await.status, 202);
    let code = last_code_to(&thiefs);
    let r = patch(&env, &id, json!({"phone": thiefs, "code": code})).await;
    assert_eq!(r.status, 200, "{}", r.json());

    let r = patch(&env, &id, json!({"email": unique_email("thief")})).await;
    assert_eq!(r.status, 403, "{}", r.json());
    assert_eq!(r.json()["code"], "number_too_recent");
    let texts = sms_to(&thiefs).len();
    let r = env
        .request("POST", "/auth/password/forgot")
        .json(json!({"phone": thiefs}))
        .send()
        .await;
    assert_eq!(r.status, 202, "the one answer");
    assert_eq!(
        sms_to(&thiefs).len(),
        texts,
        "no reset code to a number this new"
    );
    let r = env
        .request("DELETE", "/users/me")
        .bearer(&user_token_with(&id, &[]))
        .send()
        .await;
    assert_ne!(r.status, 202, "no erasure code either: {}", r.json());
    assert_eq!(sms_to(&thiefs).len(), texts);
    // Nor a first factor's confirmation.
    let r = env
        .request("POST", "/users/me/mfa/totp")
        .user(&id)
        .json(json!({}))
        .send()
        .await;
    assert_eq!(r.status, 403, "{}", r.json());
    assert_eq!(r.json()["code"], "number_too_recent");
    assert_eq!(sms_to(&thiefs).len(), texts);

    // A day later the number is the account's like any other.
    env.clock.advance(chrono::Duration::hours(24));
    let r = patch(&env, &id, json!({"email": unique_email("later")})).await;
    assert_eq!(r.status, 202, "{}", r.json());
    assert_eq!(
        sms_to(&thiefs).len(),
        texts + 1,
        "the checksum goes to the number now"
    );
}

/// A number proven by a change is told to the account's proven email: the holder learns
/// of a thief's number in the day it waits before it recovers anything.
#[tokio::test]
async fn a_new_number_is_told_to_the_proven_email() {
    let env = TestEnv::new().await;
    let email = unique_email("told");
    let id = signed_up(&env, &email).await;
    let phone = fresh_phone();
    assert_eq!(patch(&env, &id, json!({"phone": phone})).await.status, 202);
    assert!(
        emails_to(&email)
            .iter()
            .all(|(s, _)| !s.contains("phone number"))
    );
    let code = last_code_to(&phone);
    let r = patch(&env, &id, json!({"phone": phone, "code": code})).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let notices: Vec<_> = emails_to(&email)
        .into_iter()
        .filter(|(subject, _)| subject == "Your phone number was changed")
        .collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        !notices[0].1.contains(&phone),
        "the number is masked: {}",
        notices[0].1
    );
}
