//! Segments: the partner-managed catalog and users' self-assignment.

use integration_tests::{TestEnv, api_token};
use serde_json::{Value, json};

/// The catalog is managed by partner systems: an API token with `segments:write`.
async fn catalog_token(env: &TestEnv) -> String {
    api_token(env, &["segments:write"]).await
}

/// Nothing but API tokens in the table.
async fn nothing_stored(env: &TestEnv) -> bool {
    env.scan_all()
        .await
        .iter()
        .all(|i| i["pk"].as_s().is_ok_and(|pk| pk == "APITOKENS"))
}

async fn put_segment(env: &TestEnv, id: u64, body: Value) -> (u16, Value) {
    let r = env
        .request("PUT", &format!("/api/v1/segments/{id}"))
        .bearer(&catalog_token(env).await)
        .json(body)
        .send()
        .await;
    (r.status.as_u16(), r.json())
}

async fn set(env: &TestEnv, user: &str, id: &str) -> (u16, Value) {
    let r = env
        .request("POST", &format!("/users/segments/{id}/set"))
        .user(user)
        .send()
        .await;
    (r.status.as_u16(), r.json())
}

async fn seed(env: &TestEnv) {
    assert_eq!(
        put_segment(
            env,
            3,
            json!({"name": "Gold", "priority": 1, "self_assignable": true})
        )
        .await
        .0,
        201
    );
    assert_eq!(
        put_segment(
            env,
            1,
            json!({"name": "Newsletter", "priority": 5, "self_assignable": true})
        )
        .await
        .0,
        201
    );
    assert_eq!(
        put_segment(
            env,
            2,
            json!({"name": "Staff", "priority": 0, "self_assignable": false})
        )
        .await
        .0,
        201
    );
    assert_eq!(
        put_segment(
            env,
            4,
            json!({"name": "Beta", "priority": 1, "self_assignable": true})
        )
        .await
        .0,
        201
    );
}

#[tokio::test]
async fn users_join_self_assignable_segments_in_priority_order() {
    let env = TestEnv::new().await;
    seed(&env).await;
    for id in ["1", "4", "3"] {
        assert_eq!(set(&env, "ada", id).await.0, 200);
    }
    assert_eq!(set(&env, "ada", "3").await.0, 200, "setting twice is fine");
    let r = env
        .request("GET", "/users/segments")
        .user("ada")
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!([
            {"pk": 3, "priority": 1, "name": "Gold"},
            {"pk": 4, "priority": 1, "name": "Beta"},
            {"pk": 1, "priority": 5, "name": "Newsletter"},
        ]),
        "priority ascending, ties by id, one membership per segment"
    );
    let memberships = env
        .scan_all()
        .await
        .into_iter()
        .filter(|i| i["pk"] == aws_sdk_dynamodb::types::AttributeValue::S("USER#ada".into()))
        .count();
    assert_eq!(memberships, 3);
    let r = env
        .request("GET", "/users/segments")
        .user("bob")
        .send()
        .await;
    assert_eq!(r.json(), json!([]));
}

#[tokio::test]
async fn unknown_or_closed_segments_are_406_and_bad_ids_400() {
    let env = TestEnv::new().await;
    seed(&env).await;
    let (status, body) = set(&env, "ada", "99").await;
    assert_eq!(
        (status, body["code"].clone()),
        (406, json!("segment_unknown"))
    );
    let (status, body) = set(&env, "ada", "2").await;
    assert_eq!(
        (status, body["code"].clone()),
        (406, json!("segment_not_self_assignable"))
    );
    for bad in ["0", "-1", "abc", "1.5"] {
        let (status, body) = set(&env, "ada", bad).await;
        assert_eq!(status, 400, "{bad}");
        assert!(body["errors"]["segment_id"].is_array());
    }
    let r = env
        .request("GET", "/users/segments")
        .user("ada")
        .send()
        .await;
    assert_eq!(r.json(), json!([]));
}

#[tokio::test]
async fn catalog_routes_need_the_scope_and_validate_input() {
    let env = TestEnv::new().await;
    let r = env
        .request("PUT", "/api/v1/segments/7")
        .user("ada")
        .json(json!({"name": "Mine", "self_assignable": true}))
        .send()
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        env.request("GET", "/api/v1/segments")
            .user("ada")
            .send()
            .await
            .status,
        403
    );
    assert!(nothing_stored(&env).await);

    for (body, field) in [
        (json!({"priority": 1}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "x", "priority": -1}), "priority"),
        (json!({"name": "x", "priority": "high"}), "priority"),
        (
            json!({"name": "x", "self_assignable": "yes"}),
            "self_assignable",
        ),
        (json!({"name": "x", "colour": "red"}), "colour"),
    ] {
        let (status, problem) = put_segment(&env, 7, body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert!(problem["errors"][field].is_array(), "{body}: {problem}");
    }
    assert!(nothing_stored(&env).await);

    assert_eq!(put_segment(&env, 7, json!({"name": "VIP"})).await.0, 201);
    let (status, body) = put_segment(&env, 7, json!({"name": "VIP+", "priority": 2})).await;
    assert_eq!(status, 200, "replacing an entry");
    assert_eq!(body["self_assignable"], false);
    let r = env
        .request("GET", "/api/v1/segments")
        .bearer(&catalog_token(&env).await)
        .send()
        .await;
    assert_eq!(
        r.json(),
        json!([{"segment_id": 7, "name": "VIP+", "priority": 2, "self_assignable": false}])
    );
}

#[tokio::test]
async fn dynamodb_round_trips() {
    let env = TestEnv::new().await;
    seed(&env).await;
    set(&env, "ada", "3").await;
    set(&env, "ada", "1").await;
    env.calls.reset();
    env.request("GET", "/users/segments")
        .user("ada")
        .send()
        .await;
    let mut calls = env.calls.take();
    calls.sort();
    // Two round trips: the memberships' Query beside the account's GetItem (is it
    // disabled?), then the catalog's BatchGetItem.
    assert_eq!(calls, ["BatchGetItem", "GetItem", "Query"]);
    assert!(
        env.calls.max_in_flight() >= 2,
        "the GetItem runs beside the Query"
    );
    set(&env, "ada", "4").await;
    assert_eq!(env.calls.take(), ["TransactWriteItems"]);
}
