//! Seed 000's sign-up (`POST /users/register`), tried as its clients would: 202 and a
//! code by SMS, then 201 with the account and its tokens; uniqueness of email and
//! number; the code's rules; nothing half-written.

use integration_tests::{TestEnv, fail_sms_to, fresh_phone, last_code_to, sms_to};
use local_api::GatewayResponse;
use serde_json::{Value, json};

async fn post(env: &TestEnv, path: &str, body: Value) -> GatewayResponse {
    env.request("POST", path).json(body).send().await
}

fn unique_email() -> String {
    format!("ada-{:08x}@example.com", rand::random::<u32>())
}

fn body(email: &str, phone: &str) -> Value {
    json!({
        "first_name": "Ada", "last_name": "Lovelace", "email": email,
        "password": "correct horse battery", "phone": phone, "date_of_birth": "1990-12-10",
        "gender": "female", "language_code": "en", "sms_allowed": true, "email_allowed": false,
        "attributes": {"source": "app"}
    })
}

fn with(mut body: Value, key: &str, value: Value) -> Value {
    body[key] = value;
    body
}

fn other_code(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

#[tokio::test]
async fn code_then_account_with_tokens_that_work() {
    let env = TestEnv::new().await;
    let (email, phone) = (unique_email(), fresh_phone());
    let r = post(&env, "/users/register", body(&email, &phone)).await;
    assert_eq!(r.status, 202, "{}", r.json());
    assert_eq!(r.json()["expires_in"], 180);
    assert_eq!(sms_to(&phone).len(), 1);
    let items = env.scan_all().await;
    assert!(
        items
            .iter()
            .all(|i| i["pk"].as_s().unwrap().starts_with("PHONE#")
                || i["pk"].as_s().unwrap().starts_with("SOURCE#")
                || i["pk"].as_s().unwrap() == store::keys::SMS_QUOTA_PK),
        "nothing but the code and the hour's counters is stored: {items:?}"
    );
    assert!(
        !format!("{items:?}").contains(&last_code_to(&phone)),
        "the code is stored only as a digest"
    );

    let code = last_code_to(&phone);
    let r = post(
        &env,
        "/users/register",
        with(body(&email, &phone), "code", json!(other_code(&code))),
    )
    .await;
    assert_eq!(r.status, 406);
    assert_eq!(r.json()["code"], "otp_invalid");

    // The code proves the number for the email it was asked for, not another.
    let r = post(
        &env,
        "/users/register",
        with(body(&unique_email(), &phone), "code", json!(code)),
    )
    .await;
    assert_eq!(r.status, 406, "{}", r.json());

    env.calls.reset();
    let r = post(
        &env,
        "/users/register",
        with(body(&email, &phone), "code", json!(code)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json());
    assert_eq!(
        env.calls.take(),
        ["UpdateItem", "BatchGetItem", "TransactWriteItems"],
        "the source's budget, one read, then the account, the code and the session in one \
         transaction"
    );
    assert_eq!(
        r.headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let created = r.json();
    let profile = &created["profile"];
    assert!(profile["user_id"].as_str().unwrap().starts_with("usr_"));
    assert_eq!(profile["phone"], phone.as_str());
    assert_eq!(profile["phone_verified"], true);
    assert_eq!(profile["email"], email.as_str());
    assert_eq!(profile["sms_allowed"], true);
    assert_eq!(profile["email_allowed"], false);
    assert_eq!(profile["attributes"]["source"], "app");
    assert_eq!(created["token_type"], "Bearer");

    let access = created["access_token"].as_str().unwrap();
    let read = env
        .request("GET", "/users/profile")
        .bearer(access)
        .send()
        .await;
    assert_eq!(read.status, 200);
    assert_eq!(&read.json(), profile, "the answer is what was stored");
    let history = env
        .request("GET", "/users/consents/history")
        .bearer(access)
        .send()
        .await;
    assert_eq!(
        history.json()["items"].as_array().map(Vec::len),
        Some(2),
        "the sign-up's consents are audited: {}",
        history.json()
    );

    let refreshed = post(
        &env,
        "/auth/refresh",
        json!({"refresh_token": created["refresh_token"]}),
    )
    .await;
    assert_eq!(refreshed.status, 200, "the first session is open");
    let login = post(
        &env,
        "/auth/login",
        json!({"phone": phone, "password": "correct horse battery"}),
    )
    .await;
    assert_eq!(login.status, 200, "a proven number logs the account in");
    // The email was typed, never proven: it is no login of this account.
    let login = post(
        &env,
        "/auth/login",
        json!({"email": email, "password": "correct horse battery"}),
    )
    .await;
    assert_eq!(
        (login.status.as_u16(), login.json()["code"].clone()),
        (403, json!("account_not_verified"))
    );
    let login = post(
        &env,
        "/auth/login",
        json!({"email": email, "password": "not the password"}),
    )
    .await;
    assert_eq!(login.status, 401, "a wrong password is only wrong");
    let nobody = post(
        &env,
        "/auth/login",
        json!({"phone": fresh_phone(), "password": "correct horse battery"}),
    )
    .await;
    let wrong = post(
        &env,
        "/auth/login",
        json!({"phone": phone, "password": "not the password"}),
    )
    .await;
    assert_eq!(nobody.status, 401);
    assert_eq!(
        nobody.json(),
        wrong.json(),
        "an unknown number answers as a wrong password"
    );

    let again = post(
        &env,
        "/users/register",
        with(body(&email, &phone), "code", json!(code)),
    )
    .await;
    assert_eq!(
        again.status, 406,
        "the code was spent; it is judged before the email is looked at"
    );
}

#[tokio::test]
async fn a_taken_number_or_email_is_refused_before_any_code() {
    let env = TestEnv::new().await;
    let (email, phone) = (unique_email(), fresh_phone());
    post(&env, "/users/register", body(&email, &phone)).await;
    let code = last_code_to(&phone);
    let r = post(
        &env,
        "/users/register",
        with(body(&email, &phone), "code", json!(code)),
    )
    .await;
    assert_eq!(r.status, 201);

    let r = post(&env, "/users/register", body(&unique_email(), &phone)).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "phone_taken");
    // The email is unproven: it refuses nothing (another sign-up takes it over). Proven,
    // it refuses before any code.
    let other_phone = fresh_phone();
    let r = post(&env, "/users/register", body(&email, &other_phone)).await;
    assert_eq!(r.status, 202, "{}", r.json());
    integration_tests::prove_email(&env, &email).await;
    let r = post(&env, "/users/register", body(&email, &fresh_phone())).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["errors"]["email"].is_array(), "{}", r.json());
    assert_eq!(sms_to(&phone).len(), 1, "no code for a refused sign-up");
}

#[tokio::test]
async fn two_sign_ups_racing_for_one_number_make_one_account() {
    // Eleven requests from one address: more than a source's hourly budget allows, which
    // is not what this test is about.
    let env = TestEnv::builder().signups_per_source(100).build().await;
    let phone = fresh_phone();
    let email = unique_email();
    post(&env, "/users/register", body(&email, &phone)).await;
    let code = last_code_to(&phone);
    let same = with(body(&email, &phone), "code", json!(code));
    let attempts = (0..10).map(|_| post(&env, "/users/register", same.clone()));
    let results = futures_util::future::join_all(attempts).await;
    let statuses: Vec<u16> = results.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [201, 400, 406].contains(s)),
        "{statuses:?}"
    );
    let profiles = env
        .scan_all()
        .await
        .into_iter()
        .filter(|i| i["sk"].as_s().unwrap() == "PROFILE")
        .count();
    assert_eq!(profiles, 1);
}

#[tokio::test]
async fn bad_input_names_every_field_and_stores_nothing() {
    let env = TestEnv::new().await;
    let r = post(
        &env,
        "/users/register",
        json!({"email": "not-an-email", "password": "short", "phone": "12", "role": "admin",
               "date_of_birth": "2999-01-01", "resend": "yes"}),
    )
    .await;
    assert_eq!(r.status, 400);
    let errors = &r.json()["errors"];
    for field in [
        "email",
        "password",
        "phone",
        "role",
        "date_of_birth",
        "first_name",
        "last_name",
        "resend",
    ] {
        assert!(errors[field].is_array(), "{field}: {errors}");
    }
    let r = post(
        &env,
        "/users/register",
        with(
            body(&unique_email(), &fresh_phone()),
            "confirm_password",
            json!("something else"),
        ),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["errors"]["confirm_password"].is_array());
    assert!(env.scan_all().await.is_empty(), "nothing stored");
}

#[tokio::test]
async fn resend_cooldown_sms_failure_and_burned_codes() {
    let env = TestEnv::new().await;
    let (email, phone) = (unique_email(), fresh_phone());
    fail_sms_to(&phone, true);
    let r = post(&env, "/users/register", body(&email, &phone)).await;
    fail_sms_to(&phone, false);
    assert_eq!(r.status, 503);
    assert!(r.headers.contains_key("retry-after"));
    let stored = env.scan_all().await;
    assert!(
        stored
            .iter()
            .all(|i| i["pk"].as_s().unwrap().starts_with("SOURCE#")),
        "no cooldown for an unsent code; the request counts against its source (it learnt \
         the email and number are free): {stored:?}"
    );

    let r = post(&env, "/users/register", body(&email, &phone)).await;
    assert_eq!(r.status, 202);
    let r = post(
        &env,
        "/users/register",
        with(body(&email, &phone), "resend", json!(true)),
    )
    .await;
    assert_eq!(r.status, 429);
    assert!(r.headers.contains_key("retry-after"));

    let code = last_code_to(&phone);
    let wrong = with(body(&email, &phone), "code", json!(other_code(&code)));
    for _ in 0..4 {
        assert_eq!(
            post(&env, "/users/register", wrong.clone()).await.status,
            406
        );
    }
    let r = post(&env, "/users/register", wrong).await;
    assert_eq!(r.json()["code"], "otp_attempts_exceeded");
    let r = post(
        &env,
        "/users/register",
        with(body(&email, &phone), "code", json!(code)),
    )
    .await;
    assert_eq!(r.status, 406, "a burned code stays burned");
    assert_eq!(r.json()["code"], "otp_attempts_exceeded");
}
