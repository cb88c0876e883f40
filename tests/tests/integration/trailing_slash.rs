//! Every path a seed documents with a trailing `/` answers as without it, through the
//! local gateway, which matches routes as API Gateway does: the slash twin is a greedy
//! route, so anything after the slash is 404, and a path no seed documents with a slash
//! is not served with one.

use integration_tests::{TestEnv, user_token_with};
use serde_json::{Value, json};

async fn send(
    env: &TestEnv,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut request = env.request(method, path).bearer(token);
    if let Some(body) = body {
        request = request.json(body.clone());
    }
    let r = request.send().await;
    (r.status.as_u16(), r.json())
}

#[tokio::test]
async fn seed_paths_with_a_trailing_slash_answer_as_without() {
    let env = TestEnv::new().await;
    let token = user_token_with("slash-user", &[]);
    let admin = user_token_with("slash-admin", &["users:admin"]);
    let patch = json!({"first_name": "Ada"});
    let (status, _) = send(&env, "PATCH", "/users/profile/", &token, Some(&patch)).await;
    assert_eq!(status, 200, "PATCH /users/profile/ writes");
    let cases: &[(&str, &str, &str, Option<Value>)] = &[
        ("GET", "/users/profile", &token, None),
        (
            "PATCH",
            "/users/profile",
            &token,
            Some(json!({"last_name": "Lovelace"})),
        ),
        ("GET", "/users/user", &token, None),
        ("GET", "/users/segments", &token, None),
        ("POST", "/users/segments/3/set", &token, None),
        ("GET", "/api/v1/accounts/users/slash-user", &token, None),
        ("GET", "/api/v1/accounts/users/slash-user", &admin, None),
        (
            "PATCH",
            "/api/v1/accounts/users/slash-user",
            &admin,
            Some(json!({"country": "GB"})),
        ),
        (
            "POST",
            "/api/v1/accounts/users",
            "",
            Some(json!({"password": "x"})),
        ),
    ];
    for (method, path, token, body) in cases {
        let without = send(&env, method, path, token, body.as_ref()).await;
        let with = send(&env, method, &format!("{path}/"), token, body.as_ref()).await;
        let strip = |mut v: Value| {
            // Timestamps move between the two writes; everything else must agree.
            if let Some(o) = v.as_object_mut() {
                o.remove("updated_at");
                o.remove("version");
            }
            v
        };
        assert_eq!(
            (with.0, strip(with.1)),
            (without.0, strip(without.1)),
            "{method} {path}/ answers as {method} {path}"
        );
        assert_ne!(with.0, 404, "{method} {path}/ is served");
    }
}

#[tokio::test]
async fn nothing_after_the_slash_and_no_slash_where_no_seed_has_one() {
    let env = TestEnv::new().await;
    let token = user_token_with("slash-user", &[]);
    for path in [
        "/users/profile/extra",
        "/users/profile/extra/more",
        "/users/segments/3/set/x",
        "/api/v1/accounts/users/slash-user/x",
    ] {
        let (status, body) = send(&env, "GET", path, &token, None).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    // Routes no seed documents with a slash are not served with one, as in AWS.
    for path in [
        "/users/consents/",
        "/local-info/",
        "/users/consents/history/",
    ] {
        let (status, body) = send(&env, "GET", path, &token, None).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(
            body,
            json!({"message": "Not Found"}),
            "{path}: the gateway's 404"
        );
    }
}
