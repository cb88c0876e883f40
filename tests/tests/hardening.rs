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
