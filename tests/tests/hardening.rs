//! What the security review of issue 12 found, each with the test that failed before
//! its fix.

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
    let text = logs.text();
    assert!(!text.contains("\"ERROR\""), "no ERROR line: {text}");
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
