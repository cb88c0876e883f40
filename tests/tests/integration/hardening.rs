//! What a security review found, each with the test that failed before
//! its fix.

use domain::otp::OtpPolicy;
use domain::sms::SmsPolicy;
use integration_tests::{TestEnv, api_token};
use serde_json::{Value, json};

const SERVER_SCOPES: &[&str] = &[
    "profiles:read",
    "profiles:write",
    "ci:read",
    "ci:write",
    "segments:write",
];

/// Every server route, with a body it accepts.
fn server_routes() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "POST",
            "/api/v1/users/profile",
            json!({"user_ids": ["ada"]}),
        ),
        (
            "POST",
            "/api/v1/users/profile/update",
            json!({"user_properties": [{"user_id": "ada", "properties": {"age": "3"}}]}),
        ),
        (
            "POST",
            "/api/v1/users/ci",
            json!({"user_ids": ["ada"], "user_ci_property_names": ["kakao_id"]}),
        ),
        (
            "POST",
            "/api/v1/users/ci/update",
            json!({"user_ci_properties": [{"user_id": "ada", "properties": {"kakao_id": "1234567890"}}]}),
        ),
        (
            "POST",
            "/api/v1/users/ci/delete",
            json!({"user_ids": ["ada"], "user_ci_property_names": ["kakao_id"]}),
        ),
        ("GET", "/api/v1/segments", Value::Null),
        (
            "PUT",
            "/api/v1/segments/7",
            json!({"name": "gold", "priority": 1, "self_assignable": true}),
        ),
    ]
}

#[tokio::test]
async fn server_routes_take_api_tokens_only_whatever_a_user_token_claims() {
    let env = TestEnv::new().await;
    let r = env
        .request("PATCH", "/users/profile")
        .user("ada")
        .json(json!({"first_name": "Ada"}))
        .send()
        .await;
    assert_eq!(r.status, 200);
    let user = integration_tests::user_token_with("mallory", SERVER_SCOPES);
    let server = api_token(&env, SERVER_SCOPES).await;
    for (method, path, body) in server_routes() {
        let send = |token: String| {
            let mut request = env.request(method, path).bearer(&token);
            if !body.is_null() {
                request = request.json(body.clone());
            }
            request.send()
        };
        let as_user = send(user.clone()).await;
        assert_eq!(
            as_user.status,
            403,
            "{method} {path} as a user: {}",
            as_user.json()
        );
        let as_server = send(server.clone()).await;
        assert!(
            as_server.status.is_success(),
            "{method} {path} as an API token: {}",
            as_server.json()
        );
    }
}

#[tokio::test]
async fn items_restored_after_a_failed_send_keep_their_expiry() {
    let env = TestEnv::new().await;
    let phone = integration_tests::fresh_phone();
    let ask = || {
        env.request("PATCH", "/users/profile")
            .user("ada")
            .json(json!({"phone": phone}))
            .send()
    };
    assert_eq!(ask().await.status, 202);
    env.clock.advance(chrono::Duration::seconds(61));
    integration_tests::fail_sms_to(&phone, true);
    let failed = ask().await;
    integration_tests::fail_sms_to(&phone, false);
    assert_eq!(failed.status, 503);
    let code_items: Vec<_> = env
        .scan_all()
        .await
        .into_iter()
        .filter(|i| {
            let sk = i["sk"].as_s().unwrap();
            sk.starts_with("OTP")
        })
        .collect();
    assert_eq!(
        code_items.len(),
        2,
        "the challenge and the number's send log"
    );
    for item in &code_items {
        assert!(
            item.contains_key("expires_at"),
            "a restored item holding a number and a digest expires: {item:?}"
        );
    }
}

#[tokio::test]
async fn probing_whether_numbers_are_taken_costs_the_send_budget() {
    let env = TestEnv::new().await;
    // Twenty numbers, each held by another account.
    let mut numbers = Vec::new();
    for i in 0..20 {
        let phone = integration_tests::fresh_phone();
        let owner = format!("owner-{i}");
        let ask = |body: Value| {
            env.request("PATCH", "/users/profile")
                .user(&owner)
                .json(body)
                .send()
        };
        assert_eq!(ask(json!({"phone": phone})).await.status, 202);
        let code = integration_tests::last_code_to(&phone);
        assert_eq!(ask(json!({"phone": phone, "code": code})).await.status, 200);
        numbers.push(phone);
    }
    let mut statuses = Vec::new();
    for phone in &numbers {
        let r = env
            .request("PATCH", "/users/profile")
            .user("prober")
            .json(json!({"phone": phone}))
            .send()
            .await;
        statuses.push(r.status.as_u16());
    }
    let answered = statuses.iter().take_while(|s| **s == 400).count();
    assert!(answered < 6, "429 before the sixth probe: {statuses:?}");
    assert!(
        statuses[answered..].iter().all(|s| *s == 429),
        "the rest are refused: {statuses:?}"
    );
    // A probe with a made-up code learns nothing either.
    let r = env
        .request("PATCH", "/users/profile")
        .user("other-prober")
        .json(json!({"phone": numbers[0], "code": "123456"}))
        .send()
        .await;
    assert_eq!(r.status, 406, "no live code, whoever holds the number");
}

#[tokio::test]
async fn bad_input_is_a_named_4xx_that_stores_nothing_and_logs_no_error() {
    let logs = integration_tests::LogCapture::start();
    let env = TestEnv::new().await;
    let r = env
        .request("PATCH", "/users/profile")
        .user("ada")
        .json(json!({"first_name": "Ada"}))
        .send()
        .await;
    assert_eq!(r.status, 200);
    let before = env.scan_all().await;
    let token = api_token(&env, SERVER_SCOPES).await;
    let partner = |path: &'static str, body: Value| {
        env.request("POST", path).bearer(&token).json(body).send()
    };

    // One consent named twice, as a profile boolean and as a partner flag.
    let r = partner(
        "/api/v1/users/profile/update",
        json!({"user_properties": [{"user_id": "ada",
            "properties": {"email_allowed": true, "email_flag": "Unsubscribed"}}]}),
    )
    .await;
    assert_eq!(r.status, 200);
    let failure = &r.json()["result_data"]["failure_details"][0];
    assert_eq!(failure["code"], 4005, "{}", r.json());
    assert!(failure["msg"].as_str().unwrap().contains("email"));

    // One CI name twice.
    let r = partner(
        "/api/v1/users/ci/delete",
        json!({"user_ids": ["ada"], "user_ci_property_names": ["kakao_id", "kakao_id"]}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.json());
    assert_eq!(r.json()["result_code"], 4003);

    // Numbers DynamoDB cannot hold, or the parser rounded.
    for number in ["1e200", "9007199254740993"] {
        let body = format!(r#"{{"attributes": {{"n": {number}}}}}"#);
        let r = env
            .request("PATCH", "/users/profile")
            .user("ada")
            .header("content-type", "application/json")
            .raw(body)
            .send()
            .await;
        assert_eq!(r.status, 400, "{number}: {}", r.json());
        assert!(
            r.json()["errors"]["attributes.n"].is_array(),
            "{}",
            r.json()
        );
        let body = format!(
            r#"{{"user_properties": [{{"user_id": "ada", "properties": {{"n": {number}}}}}]}}"#
        );
        let r = env
            .request("POST", "/api/v1/users/profile/update")
            .bearer(&token)
            .header("content-type", "application/json")
            .raw(body)
            .send()
            .await;
        assert_eq!(
            r.json()["result_data"]["failure_details"][0]["code"],
            4005,
            "{number}: {}",
            r.json()
        );
    }

    // A forged history cursor past DynamoDB's sort-key size.
    use base64::Engine;
    let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("CONSENTLOG#{}", "9".repeat(1100)));
    let r = env
        .request("GET", &format!("/users/consents/history?cursor={cursor}"))
        .user("ada")
        .send()
        .await;
    assert_eq!(r.status, 400, "{}", r.json());
    assert!(r.json()["errors"]["cursor"].is_array(), "{}", r.json());

    assert_eq!(
        env.scan_all().await.len(),
        before.len() + 1,
        "only the API token was added"
    );
    // The capture is the whole binary's: stream consumers other tests run at the same time
    // log their own dead letters; this test's routes are the HTTP functions.
    let text = logs.text();
    let errors: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("\"ERROR\""))
        .filter(|line| {
            !line.contains("\"target\":\"events\"") && !line.contains("\"target\":\"loyalty_sync\"")
        })
        .collect();
    assert!(errors.is_empty(), "no ERROR line: {errors:#?}");
}

/// `local-api serve` answers a body over API Gateway's 10 MiB limit with 413, as API
/// Gateway does, instead of handing the function an empty body.
#[tokio::test]
async fn the_dev_gateway_refuses_an_oversized_body_with_413() {
    let env = TestEnv::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let gateway = local_api::gateway(&integration_tests::template(), &env.platform).unwrap();
    tokio::spawn(local_api::server::serve(
        std::sync::Arc::new(gateway),
        listener,
    ));
    let url = format!("http://{addr}/users/profile/image");
    let status = |body: Vec<u8>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            agent
                .post(&url)
                .content_type("application/octet-stream")
                .send(&body[..])
                .unwrap()
                .status()
                .as_u16()
        })
    };
    assert_eq!(status(vec![0; 10 * 1024 * 1024 + 1024]).await.unwrap(), 413);
    // Within the limit it reaches the route (and its authorizer).
    assert_eq!(status(vec![0; 16]).await.unwrap(), 401);
}

/// SMS pumping: codes go to mobile numbers only, in the countries configured.
#[tokio::test]
async fn codes_are_texted_to_mobile_numbers_in_served_countries_only() {
    let env = TestEnv::builder()
        .policy(OtpPolicy {
            sms: SmsPolicy {
                countries: SmsPolicy::parse_countries("TR").unwrap(),
                ..SmsPolicy::default()
            },
            ..OtpPolicy::default()
        })
        .build()
        .await;
    for (phone, why) in [
        ("+902123456789", "must be a mobile number"),
        ("+902122345678", "must be a mobile number"),
        (
            "+447400123456",
            "is in a country this service does not send codes to",
        ),
    ] {
        let before = env.scan_all().await.len();
        let r = env
            .request("PATCH", "/users/profile")
            .user("ada")
            .json(json!({"phone": phone}))
            .send()
            .await;
        assert_eq!(r.status, 400, "{phone}");
        assert_eq!(r.json()["errors"]["phone"][0], why, "{phone}");
        assert!(integration_tests::sms_to(phone).is_empty(), "{phone}");
        assert_eq!(env.scan_all().await.len(), before, "nothing stored");
    }
    // Sign-up by phone (seed 000) goes through the same gate.
    let r = env
        .request("POST", "/users/register")
        .json(json!({
            "email": format!("{}@example.com", integration_tests::fresh_phone().trim_start_matches('+')),
            "password": "correct horse battery", "phone": "+902123456789",
            "first_name": "Ada", "last_name": "Lovelace", "date_of_birth": "1990-12-10"
        }))
        .send()
        .await;
    assert_eq!(r.status, 400);
    assert!(r.json().to_string().contains("mobile"), "{}", r.json());
    let mobile = integration_tests::fresh_phone();
    let r = env
        .request("PATCH", "/users/profile")
        .user("ada")
        .json(json!({"phone": mobile}))
        .send()
        .await;
    assert_eq!(r.status, 202, "a Turkish mobile gets its code");
}

/// A global hourly cap on texts: past it every code request is 429 with Retry-After
/// until the next hour, nothing is texted, the requester is not charged, and an ERROR
/// line carries the term the template's alarm counts.
#[tokio::test]
async fn the_hourly_cap_on_texts_pauses_codes_and_raises_the_alarm() {
    let logs = integration_tests::LogCapture::start();
    let env = TestEnv::builder()
        .policy(OtpPolicy {
            sms: SmsPolicy {
                max_per_hour: 2,
                ..SmsPolicy::default()
            },
            ..OtpPolicy::default()
        })
        .build()
        .await;
    env.ten_minutes_into_an_hour();
    let ask = |user: String, phone: String| {
        let env = &env;
        async move {
            env.request("PATCH", "/users/profile")
                .user(&user)
                .json(json!({"phone": phone}))
                .send()
                .await
        }
    };
    let phones: Vec<String> = (0..4).map(|_| integration_tests::fresh_phone()).collect();
    let statuses = futures_util::future::join_all(
        phones
            .iter()
            .enumerate()
            .map(|(i, p)| ask(format!("texter-{i}"), p.clone())),
    )
    .await
    .iter()
    .map(|r| r.status.as_u16())
    .collect::<Vec<_>>();
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [202, 202, 429, 429],
        "two texts an hour: {statuses:?}"
    );
    let texted = phones
        .iter()
        .filter(|p| !integration_tests::sms_to(p).is_empty())
        .count();
    assert_eq!(texted, 2);

    let refused = phones
        .iter()
        .enumerate()
        .find(|(i, _)| statuses[*i] == 429)
        .unwrap();
    let before = env.clock.now().timestamp();
    let again = ask(format!("texter-{}", refused.0), refused.1.clone()).await;
    let after = env.clock.now().timestamp();
    assert_eq!(again.status, 429);
    assert_eq!(again.json()["code"], "sms_paused");
    let retry_after: i64 = again.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // Until the next hour as the server saw it, between these readings of the clock
    // (rounded up to a whole second) however long the request took.
    let to_next_hour = |t: i64| 3600 - t.rem_euclid(3600);
    assert!(
        (to_next_hour(after)..=to_next_hour(before) + 1).contains(&retry_after),
        "{retry_after} s until the next hour ({} to {} s when asked)",
        to_next_hour(after),
        to_next_hour(before)
    );
    assert!(
        logs.text().contains(usecases::SMS_CAP_ALARM),
        "the alarm's log line"
    );
    let template =
        std::fs::read_to_string(integration_tests::workspace_root().join("template.yaml")).unwrap();
    assert!(
        template.contains(&format!("FilterPattern: '\"{}\"'", usecases::SMS_CAP_ALARM)),
        "the template's metric filter counts that line"
    );

    // The next hour texts again, and the refused user was not charged a cooldown.
    env.clock.advance(chrono::Duration::seconds(retry_after));
    let r = ask(format!("texter-{}", refused.0), refused.1.clone()).await;
    assert_eq!(r.status, 202);
}

/// Texts to numbers no account has proved (sign-ups, a change of number) have a cap of
/// their own inside the global one: strangers with addresses to spare exhaust it, and the
/// code an account holder asks for at their own number still goes out.
#[tokio::test]
async fn texts_to_new_numbers_cannot_take_the_holders_texts() {
    let env = TestEnv::builder()
        .policy(OtpPolicy {
            sms: SmsPolicy {
                max_per_hour: 5,
                max_per_hour_to_new_numbers: 2,
                ..SmsPolicy::default()
            },
            ..OtpPolicy::default()
        })
        .build()
        .await;
    env.ten_minutes_into_an_hour();
    let patch = |user: &'static str, body: Value| {
        let env = &env;
        async move {
            env.request("PATCH", "/users/profile")
                .user(user)
                .json(body)
                .send()
                .await
        }
    };
    // A holder proves a number at sign-up (one text to a new number); a number proven by
    // a change would wait a day before it receives an erasure's code.
    let held = integration_tests::fresh_phone();
    let email = format!("holder-{:08x}@example.com", rand::random::<u32>());
    let holder =
        integration_tests::phone_account(&env, &email, &held, "correct horse battery").await;
    // Strangers' new numbers: one more fits the cap of two, then none.
    assert_eq!(
        patch(
            "stranger-1",
            json!({"phone": integration_tests::fresh_phone()})
        )
        .await
        .status,
        202
    );
    let r = patch(
        "stranger-2",
        json!({"phone": integration_tests::fresh_phone()}),
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.json());
    assert_eq!(r.json()["code"], "sms_paused");
    // The holder's own number is texted the erasure's code all the same.
    let texts = integration_tests::sms_to(&held).len();
    let r = env
        .request("DELETE", "/users/me")
        .user(&holder)
        .send()
        .await;
    assert_eq!(r.status, 202, "{}", r.json());
    assert_eq!(integration_tests::sms_to(&held).len(), texts + 1);
}

/// A revoked API token works until the authorizer's cached decision expires, so every
/// route that takes API tokens sits behind `PartnerAuthorizer`, cached for
/// `PartnerAuthorizerCacheTtl` (default 30 s) rather than the user routes' 300 s. Which
/// routes take them is asked of the functions: an API token with every scope the
/// authorizer knows, answered anything but 401/403.
#[tokio::test]
async fn routes_that_take_api_tokens_are_behind_the_short_cached_authorizer() {
    let env = TestEnv::new().await;
    // Every scope the authorizer knows, so no route is missed for want of one.
    let token = api_token(&env, domain::api_token::SCOPES).await;
    let template = integration_tests::template();
    let mut taking = Vec::new();
    let mut misplaced = Vec::new();
    // Local info is reference data any caller may read: whose token it was reveals
    // nothing, so how long a decision is cached there does not matter.
    let holds_data = |r: &&local_api::template::RouteDef| r.function != "LocalInfoFunction";
    for route in template
        .routes
        .iter()
        .filter(|r| !r.public)
        .filter(holds_data)
    {
        let path = route
            .path
            .replace("{user_id}", "ada")
            .replace("{segment_id}", "7")
            .replace("{proxy+}", "");
        let r = env
            .request(&route.method, &path)
            .header("authorization", &format!("Bearer {token}"))
            .json(json!({}))
            .send()
            .await;
        let takes_api_tokens = ![401, 403].contains(&r.status.as_u16());
        let partner = route.authorizer.as_deref() == Some("PartnerAuthorizer");
        if takes_api_tokens {
            taking.push(route.key());
        }
        if takes_api_tokens != partner {
            misplaced.push(format!(
                "{} ({}, partner: {partner})",
                route.key(),
                r.status
            ));
        }
    }
    assert!(taking.len() >= 9, "{taking:#?}");
    assert!(misplaced.is_empty(), "{misplaced:#?}");

    let text =
        std::fs::read_to_string(integration_tests::workspace_root().join("template.yaml")).unwrap();
    let doc: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let ttl = &doc["Resources"]["HttpApi"]["Properties"]["Auth"]["Authorizers"]["PartnerAuthorizer"]
        ["Identity"]["ReauthorizeEvery"];
    assert_eq!(
        ttl,
        &serde_norway::from_str::<serde_norway::Value>("!Ref PartnerAuthorizerCacheTtl").unwrap()
    );
    assert_eq!(
        doc["Parameters"]["PartnerAuthorizerCacheTtl"]["Default"].as_u64(),
        Some(30)
    );
}

/// Anonymous sign-ups have no user budget, and each answer says whether an email or a
/// number is registered: every code asked for without an account (seed 000's and seed
/// 001's sign-ups alike) spends the source address's hourly budget, and a sign-up with a
/// made-up code learns nothing of who holds what.
#[tokio::test]
async fn anonymous_sign_up_probes_spend_the_source_budget() {
    let env = TestEnv::builder().signups_per_source(5).build().await;
    env.ten_minutes_into_an_hour();
    let taken_email = domain::Email::parse("held@example.com").unwrap();
    let taken_phone = domain::PhoneNumber::parse(&integration_tests::fresh_phone()).unwrap();
    integration_tests::store_account(
        &env,
        &domain::UserId::parse("holder").unwrap(),
        &taken_email,
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
        Some(&taken_phone),
    )
    .await
    .unwrap();
    // Proven: an unproven address is taken over by a sign-up instead of refusing it.
    integration_tests::prove_email(&env, taken_email.as_str()).await;
    let seed000 = |email: &str, phone: &str| {
        json!({
            "email": email, "password": "correct horse battery", "phone": phone,
            "first_name": "Eve", "last_name": "Prober", "date_of_birth": "1990-12-10"
        })
    };
    let mut statuses = Vec::new();
    for i in 0..20 {
        let probe = if i % 2 == 0 {
            env.request("POST", "/users/register").json(seed000(
                taken_email.as_str(),
                &integration_tests::fresh_phone(),
            ))
        } else {
            env.request("POST", "/api/v1/accounts/users").json(json!({
                "email": taken_email.as_str(), "password": "correct horse battery",
                "confirm_password": "correct horse battery", "first_name": "Eve",
                "last_name": "Prober", "gender": "F"
            }))
        };
        // One IPv6 subscriber rotating addresses within its /64.
        let r = probe.from_ip(&format!("2001:db8:7:7::{i:x}")).send().await;
        statuses.push(r.status.as_u16());
    }
    assert_eq!(&statuses[..5], [400; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");

    // Another address is not held back.
    let fresh = integration_tests::fresh_phone();
    let r = env
        .request("POST", "/users/register")
        .from_ip("203.0.113.8")
        .json(seed000("new.user@example.com", &fresh))
        .send()
        .await;
    assert_eq!(r.status, 202, "{}", r.json());

    // A made-up code is judged before anyone's email or number is looked at.
    let mut with_code = seed000(taken_email.as_str(), taken_phone.e164());
    with_code["code"] = json!("123456");
    let r = env
        .request("POST", "/users/register")
        .from_ip("203.0.113.9")
        .json(with_code)
        .send()
        .await;
    assert_eq!(r.status, 406, "{}", r.json());
}

/// A sign-up's code is judged against the number's one pending challenge, five tries and
/// it is spent: a stranger's wrong codes would burn the holder's sign-up for free. Each
/// code sent in, right or wrong, spends the source's budget like a code asked for.
#[tokio::test]
async fn wrong_sign_up_codes_spend_the_source_budget() {
    let env = TestEnv::builder().signups_per_source(3).build().await;
    env.ten_minutes_into_an_hour();
    let phone = integration_tests::fresh_phone();
    let holder = json!({
        "email": "holder-signup@example.com", "password": "correct horse battery", "phone": phone,
        "first_name": "Hal", "last_name": "Holder", "date_of_birth": "1990-12-10"
    });
    let r = env
        .request("POST", "/users/register")
        .from_ip("203.0.113.20")
        .json(holder.clone())
        .send()
        .await;
    assert_eq!(r.status, 202, "{}", r.json());

    let mut statuses = Vec::new();
    for i in 0..6 {
        let mut guess = holder.clone();
        guess["email"] = json!(format!("stranger-{i}@example.com"));
        guess["code"] = json!(format!("{:06}", 100_000 + i));
        let r = env
            .request("POST", "/users/register")
            .from_ip("198.51.100.66")
            .json(guess)
            .send()
            .await;
        statuses.push(r.status.as_u16());
    }
    assert_eq!(&statuses[..3], [406; 3], "{statuses:?}");
    assert!(statuses[3..].iter().all(|s| *s == 429), "{statuses:?}");

    let mut with_code = holder;
    with_code["code"] = json!(integration_tests::last_code_to(&phone));
    let r = env
        .request("POST", "/users/register")
        .from_ip("203.0.113.20")
        .json(with_code)
        .send()
        .await;
    assert_eq!(
        r.status,
        201,
        "the holder's code was not burned: {}",
        r.json()
    );
}

/// Each text carries SNS's per-message price cap (`SmsMaxPrice`): SNS drops a message
/// that would cost more, whatever a pumping scheme routes it to.
#[tokio::test]
async fn texts_carry_the_price_cap() {
    let env = TestEnv::builder()
        .sms(adapters::sms::SmsConfig::new(None, None, Some("0.35".into())).unwrap())
        .build()
        .await;
    let phone = integration_tests::fresh_phone();
    let r = env
        .request("PATCH", "/users/profile")
        .user("ada")
        .json(json!({"phone": phone}))
        .send()
        .await;
    assert_eq!(r.status, 202);
    let sent = integration_tests::sms_attributes_to(&phone);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["AWS.SNS.SMS.MaxPrice"], "0.35");
    assert_eq!(sent[0]["AWS.SNS.SMS.SMSType"], "Transactional");
    for bad in ["0", "-1", "cheap", "1e3", "1000"] {
        assert!(
            adapters::sms::SmsConfig::new(None, None, Some(bad.into())).is_err(),
            "{bad}"
        );
    }
}
