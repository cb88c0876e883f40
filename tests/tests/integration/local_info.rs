//! GET /local-info: public, from the maintained code lists, cacheable.

use integration_tests::TestEnv;
use serde_json::json;

fn keys(list: &serde_json::Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn answers_without_a_token_from_the_maintained_lists() {
    let env = TestEnv::new().await;
    let r = env.request("GET", "/local-info").send().await;
    assert_eq!(r.status, 200);
    let body = r.json();
    assert!(keys(&body["languages"]).contains(&"en"));
    assert!(keys(&body["currencies"]).contains(&"EUR"));
    assert!(keys(&body["timezones"]).contains(&"Europe/Istanbul"));
    assert!(
        body["languages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == &json!({"key": "tr", "name": "Turkish"}))
    );
    assert!(
        r.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    assert!(env.calls.take().is_empty(), "no DynamoDB call");

    let etag = r.headers["etag"].to_str().unwrap().to_owned();
    let again = env
        .request("GET", "/local-info")
        .header("if-none-match", &etag)
        .send()
        .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.headers["etag"].to_str().unwrap(), etag);
    let stale = env
        .request("GET", "/local-info")
        .header("if-none-match", "\"other\"")
        .send()
        .await;
    assert_eq!(stale.status, 200);
}

#[tokio::test]
async fn configured_lists_narrow_both_local_info_and_profile_validation() {
    let env = TestEnv::builder()
        .supported_locales(&["en", "tr"], &["TRY", "EUR"])
        .build()
        .await;
    let body = env.request("GET", "/local-info").send().await.json();
    assert_eq!(keys(&body["languages"]), ["en", "tr"]);
    assert_eq!(keys(&body["currencies"]), ["EUR", "TRY"]);

    let r = env
        .request("PATCH", "/users/profile")
        .user("ada")
        .json(json!({"language_code": "de"}))
        .send()
        .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["errors"]["language_code"].is_array());
    let r = env
        .request("PATCH", "/users/profile")
        .user("ada")
        .json(json!({"currency": "USD"}))
        .send()
        .await;
    assert_eq!(r.status, 400);
    let r = env
        .request("PATCH", "/users/profile")
        .user("ada")
        .json(json!({"language_code": "tr", "currency": "TRY"}))
        .send()
        .await;
    assert_eq!(r.status, 200);
}
