//! Phone change verified by SMS OTP, through the gateway, against the
//! emulator's DynamoDB, SNS and Secrets Manager.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Duration;
use domain::otp::OtpPolicy;
use integration_tests::{LogCapture, TestEnv, fail_sms_to, fresh_phone, last_code_to, sms_to};
use serde_json::{Value, json};

async fn patch(env: &TestEnv, user: &str, body: Value) -> (u16, Value, http::HeaderMap) {
    let r = env
        .request("PATCH", "/users/profile")
        .user(user)
        .json(body)
        .send()
        .await;
    (r.status.as_u16(), r.json(), r.headers)
}

async fn request_code(env: &TestEnv, user: &str, phone: &str) -> String {
    let (status, body, _) = patch(env, user, json!({"phone": phone})).await;
    assert_eq!(status, 202, "{body}");
    last_code_to(phone)
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

#[tokio::test]
async fn code_by_sms_then_verified_change_applies_the_whole_patch() {
    let env = TestEnv::new().await;
    let phone = fresh_phone();
    patch(&env, "ada", json!({"first_name": "Ada"})).await;

    let (status, body, _) = patch(
        &env,
        "ada",
        json!({"phone": phone, "last_name": "Lovelace"}),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(body["expires_in"], 180);
    assert_eq!(body["resend_after"], 60);
    assert!(body["detail"].as_str().unwrap().contains("+90"));
    assert!(
        !body["detail"].as_str().unwrap().contains(&phone),
        "the 202 masks the number"
    );
    let sms = sms_to(&phone);
    assert_eq!(sms.len(), 1, "one SMS in the emulator");
    let code = last_code_to(&phone);

    let r = env
        .request("GET", "/users/profile")
        .user("ada")
        .send()
        .await;
    assert_eq!(r.json()["last_name"], Value::Null, "a 202 applies nothing");
    assert_eq!(r.json()["phone"], Value::Null);

    let (status, body, headers) = patch(
        &env,
        "ada",
        json!({"phone": phone, "code": code, "last_name": "Lovelace"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["phone"], phone);
    assert_eq!(body["phone_verified"], true);
    assert_eq!(body["last_name"], "Lovelace");
    assert_eq!(body["first_name"], "Ada");
    assert_eq!(body["version"], 2);
    assert_eq!(headers["etag"], "\"2\"");
    let stored = env
        .request("GET", "/users/profile")
        .user("ada")
        .send()
        .await
        .json();
    assert_eq!(stored, body, "the response is what was stored");

    let (status, body, _) = patch(&env, "ada", json!({"phone": phone, "code": code})).await;
    assert_eq!(status, 406, "a code is single use");
    assert_eq!(body["code"], "otp_expired");

    // The verified number again, without a code: nothing to verify, the rest applies.
    let (status, body, _) = patch(
        &env,
        "ada",
        json!({"phone": phone, "first_name": "Augusta"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["first_name"], "Augusta");
    assert_eq!(sms_to(&phone).len(), 1);
}

#[tokio::test]
async fn five_wrong_codes_burn_the_code() {
    let env = TestEnv::new().await;
    let phone = fresh_phone();
    let code = request_code(&env, "ada", &phone).await;
    for attempt in 1..=5 {
        let (status, body, _) =
            patch(&env, "ada", json!({"phone": phone, "code": wrong(&code)})).await;
        assert_eq!(status, 406);
        let expected = if attempt < 5 {
            "otp_invalid"
        } else {
            "otp_attempts_exceeded"
        };
        assert_eq!(body["code"], expected, "attempt {attempt}");
    }
    let (status, body, _) = patch(&env, "ada", json!({"phone": phone, "code": code})).await;
    assert_eq!(status, 406);
    assert_eq!(
        body["code"], "otp_attempts_exceeded",
        "the right code no longer works"
    );
    assert_eq!(
        env.request("GET", "/users/profile")
            .user("ada")
            .send()
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn expired_missing_and_other_number_codes_are_refused() {
    let env = TestEnv::new().await;
    let (first, other) = (fresh_phone(), fresh_phone());
    let (status, body, _) = patch(&env, "ada", json!({"phone": first, "code": "123456"})).await;
    assert_eq!(
        (status, body["code"].clone()),
        (406, json!("otp_expired")),
        "no code was ever sent"
    );

    let code = request_code(&env, "ada", &first).await;
    let (status, _, _) = patch(&env, "ada", json!({"phone": other, "code": code})).await;
    assert_eq!(status, 406, "a code for another number");

    env.clock.advance(Duration::seconds(181));
    let (status, body, _) = patch(&env, "ada", json!({"phone": first, "code": code})).await;
    assert_eq!((status, body["code"].clone()), (406, json!("otp_expired")));
}

#[tokio::test]
async fn cooldown_and_hourly_caps_answer_429_with_retry_after() {
    let env = TestEnv::new().await;
    let phone = fresh_phone();
    request_code(&env, "ada", &phone).await;
    let (status, body, headers) = patch(&env, "ada", json!({"phone": phone, "resend": true})).await;
    assert_eq!(status, 429);
    assert_eq!(body["code"], "rate_limited");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");

    for _ in 2..=5 {
        env.clock.advance(Duration::seconds(61));
        let (status, _, _) = patch(&env, "ada", json!({"phone": phone, "resend": true})).await;
        assert_eq!(status, 202);
    }
    env.clock.advance(Duration::seconds(61));
    let (status, _, headers) = patch(&env, "ada", json!({"phone": phone, "resend": true})).await;
    assert_eq!(status, 429, "the sixth send inside an hour");
    let retry: i64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 60 && retry <= 3600, "{retry}");
    assert_eq!(sms_to(&phone).len(), 5);
}

#[tokio::test]
async fn sends_to_one_number_are_capped_across_accounts() {
    let env = TestEnv::builder()
        .policy(OtpPolicy {
            resend_cooldown_secs: 0,
            ..OtpPolicy::default()
        })
        .build()
        .await;
    let phone = fresh_phone();
    for user in ["u1", "u2", "u3", "u4", "u5"] {
        request_code(&env, user, &phone).await;
    }
    let (status, _, headers) = patch(&env, "u6", json!({"phone": phone})).await;
    assert_eq!(status, 429);
    assert!(headers.contains_key("retry-after"));
}

#[tokio::test]
async fn two_users_racing_for_one_number_end_with_one_owner() {
    let env = TestEnv::new().await;
    let phone = fresh_phone();
    let code_a = request_code(&env, "ada", &phone).await;
    let code_b = request_code(&env, "bob", &phone).await;

    let (a, b) = tokio::join!(
        patch(&env, "ada", json!({"phone": phone, "code": code_a})),
        patch(&env, "bob", json!({"phone": phone, "code": code_b})),
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 400], "{} / {}", a.1, b.1);
    let (winner, loser) = if a.0 == 200 { ("ada", &b) } else { ("bob", &a) };
    assert_eq!(loser.1["code"], "phone_taken");

    let items = env.scan_all().await;
    let markers: Vec<_> = items
        .iter()
        .filter(|i| i["sk"] == AttributeValue::S("OWNER".into()))
        .collect();
    assert_eq!(markers.len(), 1);
    assert_eq!(
        markers[0]["pk"],
        AttributeValue::S(format!("PHONE#{phone}"))
    );
    assert_eq!(markers[0]["user_id"], AttributeValue::S(winner.into()));
    for user in ["ada", "bob"] {
        let r = env.request("GET", "/users/profile").user(user).send().await;
        let holds = r.status == 200 && r.json()["phone"] == phone;
        assert_eq!(holds, user == winner, "{user}");
    }

    // The number is taken when a third account asks for a code, too.
    let (status, body, _) = patch(&env, "cyd", json!({"phone": phone})).await;
    assert_eq!((status, body["code"].clone()), (400, json!("phone_taken")));
}

#[tokio::test]
async fn changing_number_releases_the_old_marker() {
    let env = TestEnv::new().await;
    let (first, second) = (fresh_phone(), fresh_phone());
    let code = request_code(&env, "ada", &first).await;
    assert_eq!(
        patch(&env, "ada", json!({"phone": first, "code": code}))
            .await
            .0,
        200
    );
    env.clock.advance(Duration::seconds(61));
    let code = request_code(&env, "ada", &second).await;
    assert_eq!(
        patch(&env, "ada", json!({"phone": second, "code": code}))
            .await
            .0,
        200
    );
    let owners: Vec<_> = env
        .scan_all()
        .await
        .into_iter()
        .filter(|i| i["sk"] == AttributeValue::S("OWNER".into()))
        .map(|i| i["pk"].clone())
        .collect();
    assert_eq!(owners, [AttributeValue::S(format!("PHONE#{second}"))]);
    // The old number is free for someone else.
    env.clock.advance(Duration::seconds(61));
    let code = request_code(&env, "bob", &first).await;
    assert_eq!(
        patch(&env, "bob", json!({"phone": first, "code": code}))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn sms_failure_is_503_changes_nothing_and_charges_no_cooldown() {
    let logs = LogCapture::start();
    let env = TestEnv::new().await;
    patch(&env, "ada", json!({"first_name": "Ada"})).await;
    let phone = fresh_phone();
    let before = env.scan_all().await;

    fail_sms_to(&phone, true);
    let (status, body, headers) = patch(&env, "ada", json!({"phone": phone})).await;
    fail_sms_to(&phone, false);
    assert_eq!(status, 503, "{body}");
    assert!(headers.contains_key("retry-after"));
    assert_eq!(
        env.scan_all().await,
        before,
        "no challenge, no send charged"
    );

    let (status, _, _) = patch(&env, "ada", json!({"phone": phone})).await;
    assert_eq!(status, 202, "asking again at once works");
    // SNS's error text can name the number; the log keeps its error code only.
    let text = logs.text();
    assert!(
        text.contains("SMS publish failed"),
        "the capture holds this test's lines"
    );
    assert!(
        !text.contains(&phone[1..]),
        "a log line holds the full number"
    );
}

#[tokio::test]
async fn sns_unreachable_is_503() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let env = TestEnv::builder()
        .sns_endpoint(&format!("http://{closed}"))
        .build()
        .await;
    let before = env.scan_all().await;
    let (status, _, headers) = patch(&env, "ada", json!({"phone": fresh_phone()})).await;
    assert_eq!(status, 503);
    assert!(headers.contains_key("retry-after"));
    assert_eq!(env.scan_all().await, before);
}

#[tokio::test]
async fn no_code_in_the_table_or_logs_and_no_full_number_in_logs() {
    let logs = LogCapture::start();
    let env = TestEnv::new().await;
    let phone = fresh_phone();
    let code = request_code(&env, "ada", &phone).await;
    patch(&env, "ada", json!({"phone": phone, "code": wrong(&code)})).await;

    for item in env.scan_all().await {
        for (name, value) in item {
            let text = match &value {
                AttributeValue::S(s) | AttributeValue::N(s) => s.clone(),
                other => format!("{other:?}"),
            };
            let tokens: Vec<&str> = text.split(|c: char| !c.is_ascii_alphanumeric()).collect();
            assert!(!tokens.contains(&code.as_str()), "{name} holds the code");
        }
    }
    assert_eq!(
        patch(&env, "ada", json!({"phone": phone, "code": code}))
            .await
            .0,
        200
    );

    let text = logs.text();
    let masked = domain::PhoneNumber::parse(&phone).unwrap().masked();
    assert!(
        text.contains(&masked),
        "the capture holds this test's lines"
    );
    let leaks: Vec<&str> = text
        .lines()
        .filter(|line| line.contains(&phone[1..]) || line.contains(&code))
        .collect();
    assert!(
        leaks.is_empty(),
        "log lines hold the code or the full number: {leaks:#?}"
    );
}

#[tokio::test]
async fn dynamodb_round_trips_for_request_and_verification() {
    let env = TestEnv::new().await;
    patch(&env, "ada", json!({"first_name": "Ada"})).await;
    let phone = fresh_phone();
    env.calls.reset();

    let code = request_code(&env, "ada", &phone).await;
    assert_eq!(
        env.calls.take(),
        [
            "BatchGetItem",
            "TransactWriteItems",
            "UpdateItem",
            "UpdateItem"
        ],
        "code request: the read, the code's reservation, the hour's count of texts to new \
         numbers, then of all texts"
    );

    assert_eq!(
        patch(&env, "ada", json!({"phone": phone, "code": code}))
            .await
            .0,
        200
    );
    assert_eq!(
        env.calls.take(),
        ["BatchGetItem", "TransactWriteItems"],
        "verification (a profile with an email adds one GetItem: whether it is proven, for \
         the new number's notice)"
    );
}

#[tokio::test]
async fn bad_phone_input_is_a_400_naming_the_field() {
    let env = TestEnv::new().await;
    for (body, field) in [
        (json!({"phone": "05321234567"}), "phone"),
        (json!({"phone": "+90532"}), "phone"),
        (json!({"phone": 905321234567u64}), "phone"),
        (json!({"phone": "+905321234567", "code": "12345"}), "code"),
        (json!({"phone": "+905321234567", "resend": "yes"}), "resend"),
        (json!({"resend": true}), "resend"),
    ] {
        let (status, problem, _) = patch(&env, "ada", body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert!(problem["errors"][field].is_array(), "{body}: {problem}");
    }
    assert!(env.scan_all().await.is_empty());
}

/// A number typed at a sign-up claims nothing: once another account proves it, the
/// typist still changes to a number of their own with its code (it answered 503 forever,
/// releasing a marker it never held).
#[tokio::test]
async fn a_number_typed_at_sign_up_and_proven_by_another_blocks_no_change() {
    let env = TestEnv::new().await;
    let (typed, own) = (fresh_phone(), fresh_phone());
    let email = format!("typist-{}@example.com", rand::random::<u32>());
    let r = env
        .request("POST", "/api/v1/accounts/users")
        .json(json!({
            "email": email, "password": "securepassword123",
            "confirm_password": "securepassword123", "phone": typed
        }))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
    let typist = r.json()["data"]["id"].as_str().unwrap().to_owned();

    let code = request_code(&env, "prover", &typed).await;
    let (status, body, _) = patch(&env, "prover", json!({"phone": typed, "code": code})).await;
    assert_eq!(status, 200, "{body}");

    let code = request_code(&env, &typist, &own).await;
    let (status, body, _) = patch(&env, &typist, json!({"phone": own, "code": code})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["phone"].as_str(), body["phone_verified"].as_bool()),
        (Some(own.as_str()), Some(true))
    );
    let items = env.scan_all().await;
    let owner = |phone: &str| {
        let pk = format!("PHONE#{phone}");
        items
            .iter()
            .find(|i| {
                i["pk"].as_s().is_ok_and(|p| *p == pk) && i["sk"].as_s().is_ok_and(|s| s == "OWNER")
            })
            .map(|i| i["user_id"].as_s().unwrap().clone())
    };
    assert_eq!(
        owner(&typed).as_deref(),
        Some("prover"),
        "the prover keeps it"
    );
    assert_eq!(owner(&own).as_deref(), Some(typist.as_str()));
}
