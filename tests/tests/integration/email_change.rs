//! Email change through PATCH /users/profile: a token by email to the new
//! address and a checksum in the 202; both are needed to apply; the credential moves
//! with the address; the old address is told.

use integration_tests::{TestEnv, emails_to, user_token_with};
use local_api::GatewayResponse;
use serde_json::{Value, json};

fn unique_email(name: &str) -> String {
    format!("{name}-{:08x}@example.com", rand::random::<u32>())
}

fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a 6-digit token")
        .to_owned()
}

async fn signed_up(env: &TestEnv, email: &str) -> String {
    let r = env
        .request("POST", "/api/v1/accounts/users")
        .json(json!({"email": email, "password": "securepassword123",
                     "confirm_password": "securepassword123", "first_name": "John"}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
    r.json()["data"]["id"].as_str().unwrap().to_owned()
}

async fn patch(env: &TestEnv, user: &str, body: Value) -> GatewayResponse {
    env.request("PATCH", "/users/profile")
        .bearer(&user_token_with(user, &[]))
        .json(body)
        .send()
        .await
}

#[tokio::test]
async fn token_and_checksum_together_move_the_address() {
    let env = TestEnv::new().await;
    let (old, new) = (unique_email("old"), unique_email("new"));
    let id = signed_up(&env, &old).await;

    let r = patch(&env, &id, json!({"email": new, "first_name": "Johnny"})).await;
    assert_eq!(r.status, 202, "{}", r.json());
    let checksum = r.json()["token_checksum"].as_str().unwrap().to_owned();
    assert_eq!(r.json()["expires_in"], 180);
    let mail = emails_to(&new);
    assert_eq!(mail.len(), 1);
    let token = code_in(&mail[0].1);
    assert!(
        !mail[0].1.contains(&checksum),
        "the checksum is never emailed"
    );

    let wrong_token = format!("{:06}", (token.parse::<u32>().unwrap() + 1) % 1_000_000);
    let r = patch(
        &env,
        &id,
        json!({"email": new, "token": wrong_token, "token_checksum": checksum}),
    )
    .await;
    assert_eq!(r.status, 406);
    assert_eq!(r.json()["code"], "otp_invalid");
    let other_checksum = "AAAAAAAAAAAAAAAAAAAAAA";
    let r = patch(
        &env,
        &id,
        json!({"email": new, "token": token, "token_checksum": other_checksum}),
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
        ["BatchGetItem", "GetItem", "TransactWriteItems"],
        "one read of what the change needs, the old credential, one transaction"
    );
    assert_eq!(r.json()["email"], new.as_str());
    assert_eq!(r.json()["first_name"], "Johnny");

    let login = |email: String| {
        env.request("POST", "/auth/login")
            .json(json!({"email": email, "password": "securepassword123"}))
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
            .any(|(subject, _)| subject.contains("changed")),
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

#[tokio::test]
async fn a_taken_address_or_an_identity_provider_account_is_refused() {
    let env = TestEnv::new().await;
    let taken = unique_email("taken");
    signed_up(&env, &taken).await;
    let id = signed_up(&env, &unique_email("john")).await;
    let r = patch(&env, &id, json!({"email": taken.to_uppercase()})).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["errors"]["email"].is_array(), "{}", r.json());
    assert!(
        emails_to(&taken.to_uppercase()).is_empty() && emails_to(&taken).len() == 1,
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

/// The same change through seed 001's `PATCH /api/v1/accounts/users/{id}` (found by
/// `make contract`: the token used to be refused there as "only valid together with
/// email" although the email was sent).
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
    let checksum = r.json()["token_checksum"].as_str().unwrap().to_owned();
    let token = code_in(&emails_to(&new)[0].1);
    let r = patch_account(json!({"email": new, "token": token, "token_checksum": checksum})).await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["email"], new.as_str());
}
