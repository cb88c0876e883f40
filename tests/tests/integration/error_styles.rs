//! One error path: a refusal in each API style is answered in that style and logged with
//! its stable code on the request's single line (a partner's, seed 001's, seed 002's and
//! the token endpoint's refusals included).

use integration_tests::{LogCapture, TestEnv, api_token};
use serde_json::json;

/// The request log line of `route` that names `code`.
fn logged(logs: &LogCapture, route: &str, code: &str) -> bool {
    let (route, code) = (
        format!(r#""route":"{route}""#),
        format!(r#""error_code":"{code}""#),
    );
    logs.text()
        .lines()
        .any(|line| line.contains(&route) && line.contains(&code))
}

#[tokio::test]
async fn a_refusal_in_every_style_is_answered_its_way_and_logged_with_its_code() {
    let logs = LogCapture::start();
    let env = TestEnv::new().await;

    // The partner envelope.
    let token = api_token(&env, &["ci:write"]).await;
    let r = env
        .request("POST", "/api/v1/users/ci/delete")
        .bearer(&token)
        .json(json!({"user_ids": ["ada"], "user_ci_property_names": ["kakao_id", "kakao_id"]}))
        .send()
        .await;
    assert_eq!(r.status, 400, "{}", r.json());
    assert_eq!(r.json()["result_code"], 4003, "{}", r.json());
    assert!(logged(
        &logs,
        "POST /api/v1/users/ci/delete",
        "invalid_parameter"
    ));

    // Seed 001's bare bodies.
    let r = env
        .request("GET", "/api/v1/accounts/users/nobody-here")
        .user("styles-ada")
        .send()
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json(), json!({"error": "User not found"}));
    assert!(logged(
        &logs,
        "GET /api/v1/accounts/users/{user_id}",
        "not_found"
    ));

    // Seed 002's envelope.
    let r = env
        .request("GET", "/user/get/profile")
        .user("styles-nobody")
        .send()
        .await;
    assert_eq!(r.status, 404, "{}", r.json());
    assert_eq!(r.json()["status_code"], 404, "{}", r.json());
    assert!(logged(&logs, "GET /user/get/profile", "not_found"));

    // RFC 6749's error body.
    let r = env
        .request("POST", "/oauth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .raw("grant_type=password&username=a&password=b")
        .send()
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "unsupported_grant_type", "{}", r.json());
    assert!(logged(&logs, "POST /oauth/token", "unsupported_grant_type"));

    // Problem details.
    let r = env
        .request("GET", "/users/profile")
        .user("styles-nobody")
        .send()
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], "not_found");
    assert!(logged(&logs, "GET /users/profile", "not_found"));
}
