//! The emulator's general DynamoDB fault hook (erasure tests kill erasures half-way with
//! it): `POST /_emulator/fail-dynamodb?op=&after=N&table=` lets N calls of an operation
//! through, then fails each with a 500 until healed. A write refused that way answers 503
//! with `Retry-After` and changes nothing.

use integration_tests::{TestEnv, fail_dynamodb, heal_dynamodb, user_token_with};
use serde_json::json;

#[tokio::test]
async fn a_failing_operation_answers_503_changes_nothing_and_heals() {
    let env = TestEnv::new().await;
    let token = user_token_with("faulty", &[]);
    let patch = |body: serde_json::Value| {
        let (env, token) = (&env, &token);
        async move {
            env.request("PATCH", "/users/profile")
                .bearer(token)
                .json(body)
                .send()
                .await
        }
    };
    assert_eq!(patch(json!({"first_name": "Ada"})).await.status, 200);

    // One more UpdateItem goes through, then every one fails.
    fail_dynamodb(&env.table, "UpdateItem", 1);
    assert_eq!(patch(json!({"last_name": "Lovelace"})).await.status, 200);
    let r = patch(json!({"last_name": "Byron"})).await;
    assert_eq!(r.status, 503, "{}", r.json());
    assert!(r.headers.contains_key("retry-after"));
    let read = env
        .request("GET", "/users/profile")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(read.status, 200, "reads still work");
    assert_eq!(
        read.json()["last_name"],
        "Lovelace",
        "the refused write changed nothing"
    );
    assert_eq!(read.json()["version"], 2);

    heal_dynamodb(&env.table);
    assert_eq!(patch(json!({"last_name": "Byron"})).await.status, 200);
}

/// A fault on one table leaves the others alone (tests run side by side).
#[tokio::test]
async fn a_fault_is_scoped_to_its_table() {
    let (faulty, other) = (TestEnv::new().await, TestEnv::new().await);
    fail_dynamodb(&faulty.table, "UpdateItem", 0);
    let r = other
        .request("PATCH", "/users/profile")
        .bearer(&user_token_with("neighbour", &[]))
        .json(json!({"first_name": "Ada"}))
        .send()
        .await;
    heal_dynamodb(&faulty.table);
    assert_eq!(r.status, 200);
}
