//! Seed 001's sign-up, tried as its clients would: create, the emailed code, verify,
//! login, and the profile under the new token.

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::{TestEnv, emails_to};
use local_api::GatewayResponse;
use serde_json::{Value, json};

async fn post(env: &TestEnv, path: &str, body: Value) -> GatewayResponse {
    env.request("POST", path).json(body).send().await
}

fn unique_email() -> String {
    format!("john-{:08x}@example.com", rand::random::<u32>())
}

fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a 6-digit code")
        .to_owned()
}

#[tokio::test]
async fn create_verify_login_then_read_the_profile() {
    let env = TestEnv::new().await;
    let email = unique_email();
    let r = post(&env, "/api/v1/accounts/users", json!({
        "email": email, "password": "securepassword123", "confirm_password": "securepassword123",
        "first_name": "John", "last_name": "Doe", "phone": "+12025550123", "gender": "M", "country": "US"
    }))
    .await;
    assert_eq!(r.status, 201, "{}", r.json());
    let body = r.json();
    assert_eq!(body["msg"], "Email sent successfully!");
    let data = &body["data"];
    assert!(data["id"].as_str().unwrap().starts_with("usr_"));
    assert_eq!(
        (
            &data["email"],
            &data["first_name"],
            &data["last_name"],
            &data["gender"],
            &data["country"],
            &data["phone"]
        ),
        (
            &json!(email),
            &json!("John"),
            &json!("Doe"),
            &json!("M"),
            &json!("US"),
            &json!("+12025550123")
        )
    );
    let mail = emails_to(&email);
    assert_eq!(mail.len(), 1);
    let code = code_in(&mail[0].1);

    let login = json!({"email": email, "password": "securepassword123"});
    let r = post(&env, "/auth/login", login.clone()).await;
    assert_eq!(r.status, 403, "login before verifying");
    assert_eq!(r.json()["code"], "account_not_verified");

    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    let r = post(
        &env,
        "/users/verify",
        json!({"email": email, "code": wrong}),
    )
    .await;
    assert_eq!(r.status, 406);
    assert_eq!(r.json()["code"], "otp_invalid");
    let wrong_answer = r.json();
    let r = post(&env, "/users/verify", json!({"email": email, "code": code})).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let r = post(&env, "/users/verify", json!({"email": email, "code": code})).await;
    assert_eq!(r.status, 406, "verified already");
    assert_eq!(
        r.json(),
        wrong_answer,
        "told apart from a wrong code by nothing"
    );

    let r = post(&env, "/auth/login", login).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let access = r.json()["access_token"].as_str().unwrap().to_owned();
    let profile = env
        .request("GET", "/users/profile")
        .bearer(&access)
        .send()
        .await;
    assert_eq!(profile.status, 200);
    let profile = profile.json();
    assert_eq!(profile["first_name"], "John");
    assert_eq!(profile["last_name"], "Doe");
    assert_eq!(profile["email"], email.as_str());
    assert_eq!(profile["phone"], "+12025550123");
    assert_eq!(
        profile["phone_verified"], false,
        "a sign-up number is not verified"
    );
}

#[tokio::test]
async fn field_errors_in_seed_001_shape_and_one_account_per_email() {
    // Twenty-odd sign-ups from one address: past a source's hourly budget, which is not
    // what this test is about.
    let env = TestEnv::builder().signups_per_source(100).build().await;
    let r = post(&env, "/api/v1/accounts/users", json!({"password": "x"})).await;
    assert_eq!(r.status, 400);
    let body = r.json();
    assert_eq!(body["email"], json!(["This field is required."]));
    assert_eq!(body["confirm_password"], json!(["This field is required."]));
    let r = post(
        &env,
        "/api/v1/accounts/users",
        json!({
            "email": "a@example.com", "password": "securepassword123", "confirm_password": "other",
            "gender": "X", "country": "usa", "role": "admin"
        }),
    )
    .await;
    assert_eq!(r.status, 400);
    let body = r.json();
    for field in ["confirm_password", "gender", "country", "role"] {
        assert!(body[field].is_array(), "{field}: {body}");
    }
    assert!(
        env.scan_all().await.is_empty(),
        "nothing stored for a refused sign-up"
    );

    let email = unique_email();
    let signup = |i: u32| {
        let spelled = if i.is_multiple_of(2) {
            email.to_uppercase()
        } else {
            email.clone()
        };
        json!({"email": spelled, "password": "securepassword123", "confirm_password": "securepassword123"})
    };
    let attempts = (0..20).map(|i| post(&env, "/api/v1/accounts/users", signup(i)));
    let results = futures_util::future::join_all(attempts).await;
    // A sign-up after another committed takes its unproven claim over: several may be
    // created, and one account shows the address afterwards.
    let created: Vec<String> = results
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| r.json()["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!created.is_empty(), "20 concurrent sign-ups of one email");
    for r in results.iter().filter(|r| r.status != 201) {
        assert_eq!(r.status, 400);
        assert_eq!(
            r.json()["email"],
            json!(["A user with this email already exists."])
        );
    }
    let live: Vec<String> = env
        .scan_all()
        .await
        .iter()
        .filter(|i| {
            matches!(i.get("sk"), Some(AttributeValue::S(sk)) if sk == "PROFILE")
                && !i.contains_key("erasure")
        })
        .filter_map(|i| match i.get("user_id") {
            Some(AttributeValue::S(u)) => Some(u.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(live.len(), 1, "{live:?}");
    assert!(created.contains(&live[0]));

    // Proven, the address refuses every other sign-up.
    integration_tests::prove_email(&env, &email).await;
    let r = post(&env, "/api/v1/accounts/users", signup(1)).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["email"],
        json!(["A user with this email already exists."])
    );
}

#[tokio::test]
async fn verify_answers_alike_for_every_address_and_is_charged_to_the_source() {
    let env = TestEnv::builder().signups_per_source(11).build().await;
    env.ten_minutes_into_an_hour();
    let (pending, proven) = (unique_email(), unique_email());
    for email in [&pending, &proven] {
        let r = post(
            &env,
            "/api/v1/accounts/users",
            json!({
                "email": email, "password": "securepassword123", "confirm_password": "securepassword123"
            }),
        )
        .await;
        assert_eq!(r.status, 201);
    }
    let code = code_in(&emails_to(&proven)[0].1);
    let r = post(
        &env,
        "/users/verify",
        json!({"email": proven, "code": code}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());

    // A new code: the same 202 for a pending address inside its cooldown (nothing
    // sent), an unknown one and a proven one.
    let resend = |email: &str| {
        post(
            &env,
            "/users/verify",
            json!({"email": email, "resend": true}),
        )
    };
    let answers = [
        resend(&pending).await,
        resend("nobody@example.com").await,
        resend(&proven).await,
    ];
    for r in &answers {
        assert_eq!((r.status.as_u16(), r.json()), (202, answers[0].json()));
    }
    assert_eq!(
        emails_to(&pending).len(),
        1,
        "inside the cooldown nothing is sent"
    );
    env.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(resend(&pending).await.status, 202);
    assert_eq!(emails_to(&pending).len(), 2, "past it, a new code");

    // A code: one 406 for a wrong one, an unknown address and a proven one.
    let code = code_in(&emails_to(&pending)[1].1);
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    let verify = |email: &str| {
        post(
            &env,
            "/users/verify",
            json!({"email": email, "code": wrong}),
        )
    };
    let answers = [
        verify(&pending).await,
        verify("nobody@example.com").await,
        verify(&proven).await,
    ];
    for r in &answers {
        assert_eq!((r.status.as_u16(), r.json()), (406, answers[0].json()));
    }
    assert_eq!(answers[0].json()["code"], "otp_invalid");
    assert!(
        !answers[0].json()["detail"]
            .as_str()
            .unwrap()
            .contains("left"),
        "no count of tries left: {}",
        answers[0].json()
    );

    // Every request above spent the source's budget (of eleven): two sign-ups and eight
    // verifications; the twelfth request is refused before anything is looked up.
    assert_eq!(resend(&pending).await.status, 202, "the eleventh");
    let r = verify(&pending).await;
    assert_eq!(r.status, 429, "{}", r.json());
    assert!(r.headers.contains_key("retry-after"));
    let r = post(
        &env,
        "/users/verify",
        json!({"email": pending, "resend": "yes"}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["errors"]["resend"].is_array(), "{}", r.json());
}
