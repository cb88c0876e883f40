//! Self-service profile routes through the gateway, against the emulator.

use integration_tests::{TestEnv, dev_token, user_token};
use serde_json::{Value, json};

async fn create(env: &TestEnv, sub: &str, body: Value) -> Value {
    let r = env
        .request("PATCH", "/users/profile")
        .user(sub)
        .json(body)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    r.json()
}

#[tokio::test]
async fn requests_without_or_with_a_bad_token_are_refused() {
    let env = TestEnv::new().await;
    let r = env.request("GET", "/users/profile").send().await;
    assert_eq!(r.status, 401);

    let mut tampered = user_token("ada");
    tampered.push('x');
    assert_eq!(
        env.request("GET", "/users/profile")
            .bearer(&tampered)
            .send()
            .await
            .status,
        403
    );

    let expired = dev_token::mint("ada", &[], -3600, chrono::Utc::now().timestamp());
    assert_eq!(
        env.request("GET", "/users/profile")
            .bearer(&expired)
            .send()
            .await
            .status,
        403
    );
    assert_eq!(
        env.request("GET", "/users/profile")
            .header("authorization", "Basic YWRhOnB3")
            .send()
            .await
            .status,
        403
    );
    assert!(
        env.calls.take().is_empty(),
        "refused requests never reach DynamoDB"
    );
}

#[tokio::test]
async fn profile_lifecycle_as_in_the_acceptance_script() {
    let env = TestEnv::new().await;
    let r = env
        .request("GET", "/users/profile")
        .user("ada")
        .send()
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.headers["content-type"], "application/problem+json");

    let created = create(
        &env,
        "ada",
        json!({"first_name": "Ada", "attributes": {"tier": "gold"}}),
    )
    .await;
    assert_eq!(created["version"], 1);
    assert_eq!(created["user_id"], "ada");
    assert_eq!(created["attributes"], json!({"tier": "gold"}));

    let r = env
        .request("GET", "/users/profile")
        .user("ada")
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["etag"], "\"1\"");
    assert_eq!(r.json()["first_name"], "Ada");

    let r = env
        .request("PATCH", "/users/profile")
        .user("ada")
        .header("if-match", "\"0\"")
        .json(json!({"last_name": "Lovelace"}))
        .send()
        .await;
    assert_eq!(r.status, 412);
    assert_eq!(r.json()["code"], "version_conflict");

    let r = env
        .request("PATCH", "/users/profile")
        .user("ada")
        .header("if-match", "\"1\"")
        .json(json!({"last_name": "Lovelace"}))
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["etag"], "\"2\"");

    let r = env
        .request("PATCH", "/users/profile")
        .user("ada")
        .json(json!({"user_id": "x"}))
        .send()
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errors"]["user_id"][0], "is read-only");

    let r = env
        .request("PATCH", "/users/profile")
        .user("ada")
        .json(json!({"date_of_birth": "2999-01-01"}))
        .send()
        .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["errors"]["date_of_birth"].is_array());

    let updated = create(&env, "ada", json!({"attributes": {"tier": null}})).await;
    assert_eq!(updated["attributes"], json!({}));
    assert_eq!(updated["version"], 3);

    let r = env.request("GET", "/users/user").user("ada").send().await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"user_id": "ada", "username": "ada", "email": null, "first_name": "Ada",
               "last_name": "Lovelace", "full_name": "Ada Lovelace"})
    );
}

#[tokio::test]
async fn every_field_round_trips_and_null_clears() {
    let env = TestEnv::new().await;
    let body = json!({
        "first_name": "Ada", "last_name": "Lovelace", "gender": "female",
        "date_of_birth": "1815-12-10", "language_code": "en", "timezone": "Europe/London",
        "currency": "GBP", "email_allowed": true, "sms_allowed": false, "call_allowed": true,
        "attributes": {"n": 3, "f": 2.5, "b": true, "s": "x"}
    });
    let r = env
        .request("PATCH", "/users/profile")
        .user("ada")
        .json(body.clone())
        .send()
        .await;
    assert_eq!(r.status, 400, "1815 is before 1900-01-01");
    let mut body = body;
    body["date_of_birth"] = json!("1990-12-10");
    let p = create(&env, "ada", body.clone()).await;
    for key in [
        "first_name",
        "last_name",
        "gender",
        "date_of_birth",
        "language_code",
        "timezone",
        "currency",
        "email_allowed",
        "sms_allowed",
        "call_allowed",
        "attributes",
    ] {
        assert_eq!(p[key], body[key], "{key}");
    }
    let p = create(
        &env,
        "ada",
        json!({"gender": null, "last_name": null, "timezone": null}),
    )
    .await;
    assert_eq!(
        (
            p["gender"].clone(),
            p["last_name"].clone(),
            p["timezone"].clone()
        ),
        (Value::Null, Value::Null, Value::Null)
    );
    assert_eq!(p["first_name"], "Ada");
}

#[tokio::test]
async fn bad_input_is_a_4xx_naming_the_field_and_changes_nothing() {
    let env = TestEnv::new().await;
    create(
        &env,
        "ada",
        json!({"first_name": "Ada", "attributes": {"tier": "gold"}}),
    )
    .await;
    let before = env.scan_all().await;

    let many: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("k{i}"), json!(i))).collect();
    let cases: Vec<(&str, Vec<u8>, u16, Option<&str>)> = vec![
        ("malformed json", b"{\"first_name\":".to_vec(), 400, None),
        ("not an object", b"[1,2]".to_vec(), 400, None),
        ("empty body", Vec::new(), 400, None),
        ("empty object", b"{}".to_vec(), 400, Some("body")),
        (
            "wrong type",
            br#"{"first_name": 5}"#.to_vec(),
            400,
            Some("first_name"),
        ),
        (
            "bool as string",
            br#"{"email_allowed": "yes"}"#.to_vec(),
            400,
            Some("email_allowed"),
        ),
        (
            "over-long name",
            serde_json::to_vec(&json!({"last_name": "x".repeat(256)})).unwrap(),
            400,
            Some("last_name"),
        ),
        (
            "51 attributes",
            serde_json::to_vec(&json!({"attributes": many})).unwrap(),
            400,
            Some("attributes"),
        ),
        (
            "nested attribute",
            br#"{"attributes": {"a": {"b": 1}}}"#.to_vec(),
            400,
            Some("attributes.a"),
        ),
        (
            "long attribute",
            serde_json::to_vec(&json!({"attributes": {"a": "x".repeat(2049)}})).unwrap(),
            400,
            Some("attributes.a"),
        ),
        (
            "bad attribute key",
            br#"{"attributes": {"a b": 1}}"#.to_vec(),
            400,
            Some("attributes.a b"),
        ),
        (
            "unknown field",
            br#"{"nickname": "a"}"#.to_vec(),
            400,
            Some("nickname"),
        ),
        (
            "phone not E.164",
            br#"{"phone": "05321234567"}"#.to_vec(),
            400,
            Some("phone"),
        ),
        (
            "code without phone",
            br#"{"code": "123456"}"#.to_vec(),
            400,
            Some("code"),
        ),
        (
            "version is read-only",
            br#"{"version": 9}"#.to_vec(),
            400,
            Some("version"),
        ),
        (
            "bad language",
            br#"{"language_code": "xx"}"#.to_vec(),
            400,
            Some("language_code"),
        ),
        (
            "bad timezone",
            br#"{"timezone": "Mars/Base"}"#.to_vec(),
            400,
            Some("timezone"),
        ),
        (
            "bad currency",
            br#"{"currency": "ABC"}"#.to_vec(),
            400,
            Some("currency"),
        ),
        (
            "bad gender",
            br#"{"gender": "M"}"#.to_vec(),
            400,
            Some("gender"),
        ),
        (
            "one bad among good",
            br#"{"first_name": "Bob", "gender": "x"}"#.to_vec(),
            400,
            Some("gender"),
        ),
        (
            "65 KiB body",
            serde_json::to_vec(&json!({"first_name": "a".repeat(65 * 1024)})).unwrap(),
            413,
            None,
        ),
        ("invalid utf-8", vec![b'{', 0xff, b'}'], 400, None),
    ];
    for (name, body, status, field) in cases {
        let r = env
            .request("PATCH", "/users/profile")
            .user("ada")
            .raw(body)
            .send()
            .await;
        assert_eq!(r.status.as_u16(), status, "{name}: {}", r.json());
        assert_eq!(
            r.headers["content-type"], "application/problem+json",
            "{name}"
        );
        if let Some(field) = field {
            assert!(
                r.json()["errors"][field].is_array(),
                "{name} names {field}: {}",
                r.json()
            );
        }
    }
    let r = env
        .request("PATCH", "/users/profile")
        .user("ada")
        .header("if-match", "yesterday")
        .json(json!({"first_name": "B"}))
        .send()
        .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["errors"]["If-Match"].is_array());

    assert_eq!(
        env.scan_all().await,
        before,
        "bad input changed stored data"
    );
}

#[tokio::test]
async fn fifty_concurrent_patches_on_distinct_keys_all_survive() {
    let env = TestEnv::new().await;
    create(&env, "ada", json!({"first_name": "Ada"})).await;
    let patches = (0..50).map(|i| {
        let env = &env;
        async move {
            let r = env
                .request("PATCH", "/users/profile")
                .user("ada")
                .json(json!({"attributes": {format!("key{i}"): i}}))
                .send()
                .await;
            assert_eq!(r.status, 200, "{}", r.json());
        }
    });
    futures_util::future::join_all(patches).await;
    let r = env
        .request("GET", "/users/profile")
        .user("ada")
        .send()
        .await;
    let p = r.json();
    assert_eq!(p["attributes"].as_object().unwrap().len(), 50);
    assert_eq!(p["version"], 51);
    assert_eq!(r.headers["etag"], "\"51\"");
}

#[tokio::test]
async fn the_attribute_cap_holds_across_requests() {
    let env = TestEnv::new().await;
    let fifty: serde_json::Map<String, Value> =
        (0..50).map(|i| (format!("k{i}"), json!(i))).collect();
    create(&env, "ada", json!({"attributes": fifty})).await;

    let r = env
        .request("PATCH", "/users/profile")
        .user("ada")
        .json(json!({"attributes": {"k50": 1}}))
        .send()
        .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["errors"]["attributes"].is_array());

    // Overwriting a key and swapping one out keep the count at 50: allowed.
    let p = create(&env, "ada", json!({"attributes": {"k0": "new"}})).await;
    assert_eq!(p["attributes"]["k0"], "new");
    let p = create(&env, "ada", json!({"attributes": {"k1": null, "k50": 50}})).await;
    assert_eq!(p["attributes"].as_object().unwrap().len(), 50);
    assert!(p["attributes"].get("k1").is_none());
}

#[tokio::test]
async fn dynamodb_round_trips_per_request() {
    let env = TestEnv::new().await;
    create(&env, "ada", json!({"first_name": "Ada"})).await;
    env.calls.reset();

    assert_eq!(
        env.request("GET", "/users/profile")
            .user("ada")
            .send()
            .await
            .status,
        200
    );
    assert_eq!(env.calls.take(), ["GetItem"]);

    create(
        &env,
        "ada",
        json!({"last_name": "Lovelace", "attributes": {"tier": "gold"}}),
    )
    .await;
    assert_eq!(env.calls.take(), ["UpdateItem"]);

    create(&env, "ada", json!({"attributes": {"tier": null}})).await;
    assert_eq!(env.calls.take(), ["UpdateItem"]);

    // First write without attributes: still one call.
    create(&env, "bob", json!({"first_name": "Bob"})).await;
    assert_eq!(env.calls.take(), ["UpdateItem"]);
}

#[tokio::test]
async fn if_match_star_needs_an_existing_profile() {
    let env = TestEnv::new().await;
    let r = env
        .request("PATCH", "/users/profile")
        .user("ada")
        .header("if-match", "*")
        .json(json!({"first_name": "A"}))
        .send()
        .await;
    assert_eq!(r.status, 412);
    assert!(env.scan_all().await.is_empty());
    create(&env, "ada", json!({"first_name": "A"})).await;
    let r = env
        .request("PATCH", "/users/profile")
        .user("ada")
        .header("if-match", "*")
        .json(json!({"first_name": "B"}))
        .send()
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn a_user_only_ever_sees_their_own_profile() {
    let env = TestEnv::new().await;
    create(&env, "ada", json!({"first_name": "Ada"})).await;
    assert_eq!(
        env.request("GET", "/users/profile")
            .user("bob")
            .send()
            .await
            .status,
        404
    );
    let r = env
        .request("GET", "/users/profile?user_id=ada")
        .user("bob")
        .send()
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn dynamodb_unreachable_is_a_503_with_retry_after() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let env = TestEnv::unreachable(&format!("http://{closed}")).await;
    for (method, body) in [("GET", None), ("PATCH", Some(json!({"first_name": "Ada"})))] {
        let mut req = env.request(method, "/users/profile").user("ada");
        if let Some(body) = body {
            req = req.json(body);
        }
        let r = req.send().await;
        assert_eq!(r.status, 503, "{method}");
        assert!(r.headers.contains_key("retry-after"), "{method}");
        assert_eq!(r.json()["code"], "service_unavailable");
    }
}
