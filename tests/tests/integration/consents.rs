//! Consents, their audit history, and the profile booleans that view them.

use std::collections::HashSet;

use integration_tests::TestEnv;
use serde_json::{Value, json};

const CHANNELS: [&str; 12] = [
    "email",
    "sms",
    "call",
    "info",
    "mkt",
    "mkt_push",
    "mkt_sms",
    "mkt_kakao",
    "night",
    "night_push",
    "night_sms",
    "night_kakao",
];

async fn get(env: &TestEnv, path: &str) -> Value {
    let r = env.request("GET", path).user("ada").send().await;
    assert_eq!(r.status, 200, "{}", r.json());
    r.json()
}

async fn patch_consents(env: &TestEnv, body: Value) -> (u16, Value) {
    let r = env
        .request("PATCH", "/users/consents")
        .user("ada")
        .json(body)
        .send()
        .await;
    (r.status.as_u16(), r.json())
}

#[tokio::test]
async fn a_new_user_sets_consents_and_sees_them_in_history() {
    let env = TestEnv::new().await;
    let all = get(&env, "/users/consents").await;
    assert_eq!(all.as_object().unwrap().len(), 12);
    for channel in CHANNELS {
        assert_eq!(all[channel]["status"], "undefined", "{channel}");
        assert_eq!(all[channel]["updated_at"], Value::Null);
    }

    let (status, body) = patch_consents(
        &env,
        json!({"mkt_sms": "subscribed", "night_sms": "subscribed"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mkt_sms"]["status"], "subscribed");
    assert_eq!(body["night_sms"]["status"], "subscribed");

    let all = get(&env, "/users/consents").await;
    assert_eq!(all["mkt_sms"]["status"], "subscribed");
    assert_eq!(all["info"]["status"], "undefined");

    let history = get(&env, "/users/consents/history").await;
    let items = history["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    for item in items {
        assert_eq!(item["source"], "self");
        assert_eq!(item["actor"], "ada");
        assert_eq!(item["from"], "undefined");
        assert_eq!(item["to"], "subscribed");
        assert!(item["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    }
    assert_eq!(history["next_cursor"], Value::Null);
}

#[tokio::test]
async fn profile_booleans_are_views_of_the_same_store() {
    let env = TestEnv::new().await;
    let r = env
        .request("PATCH", "/users/profile")
        .user("ada")
        .json(json!({"email_allowed": true}))
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["email_allowed"], true);
    assert_eq!(
        get(&env, "/users/consents").await["email"]["status"],
        "subscribed"
    );
    let history = get(&env, "/users/consents/history").await;
    assert_eq!(history["items"].as_array().unwrap().len(), 1);
    assert_eq!(history["items"][0]["channel"], "email");

    // And the other way round: a consent change shows in the profile.
    patch_consents(&env, json!({"sms": "subscribed", "email": "unsubscribed"})).await;
    let profile = get(&env, "/users/profile").await;
    assert_eq!(
        (
            profile["sms_allowed"].clone(),
            profile["email_allowed"].clone()
        ),
        (json!(true), json!(false))
    );
    let history = get(&env, "/users/consents/history").await;
    assert_eq!(history["items"].as_array().unwrap().len(), 3);
    let email_change = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["channel"] == "email" && i["to"] == "unsubscribed")
        .unwrap();
    assert_eq!(
        email_change["from"], "subscribed",
        "from is exact even when the first guess was wrong"
    );
}

#[tokio::test]
async fn a_no_op_patch_adds_no_entry() {
    let env = TestEnv::new().await;
    patch_consents(&env, json!({"mkt": "subscribed"})).await;
    let (status, body) = patch_consents(&env, json!({"mkt": "subscribed"})).await;
    assert_eq!(status, 200);
    assert_eq!(body["mkt"]["status"], "subscribed");
    let r = env
        .request("PATCH", "/users/profile")
        .user("ada")
        .json(json!({"first_name": "Ada"}))
        .send()
        .await;
    assert_eq!(r.status, 200);
    let r = env
        .request("PATCH", "/users/profile")
        .user("ada")
        .json(json!({"email_allowed": false}))
        .send()
        .await;
    assert_eq!(r.status, 200);
    let version = r.json()["version"].clone();
    let r = env
        .request("PATCH", "/users/profile")
        .user("ada")
        .json(json!({"email_allowed": false}))
        .send()
        .await;
    assert_eq!(
        r.json()["version"],
        version,
        "a no-op consent PATCH writes nothing"
    );
    let history = get(&env, "/users/consents/history").await;
    let channels: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels.len(), 2, "{channels:?}");
}

#[tokio::test]
async fn bad_consent_input_is_a_400_naming_the_channel() {
    let env = TestEnv::new().await;
    for (body, field) in [
        (json!({"push": "subscribed"}), "push"),
        (json!({"mkt": "yes"}), "mkt"),
        (json!({"mkt": true}), "mkt"),
        (json!({"mkt": null}), "mkt"),
        (json!({"mkt_flag": "Subscribed"}), "mkt_flag"),
        (json!({}), "body"),
    ] {
        let (status, problem) = patch_consents(&env, body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert!(problem["errors"][field].is_array(), "{body}: {problem}");
    }
    for query in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "cursor=not-a-cursor",
        "cursor=Zm9v",
    ] {
        let r = env
            .request("GET", &format!("/users/consents/history?{query}"))
            .user("ada")
            .send()
            .await;
        assert_eq!(r.status, 400, "{query}");
        let field = query.split('=').next().unwrap();
        assert!(r.json()["errors"][field].is_array(), "{query}");
    }
    assert!(env.scan_all().await.is_empty());
}

#[tokio::test]
async fn forty_changes_page_in_threes_without_gaps_or_duplicates() {
    let env = TestEnv::new().await;
    for i in 0..40 {
        let status = if i % 2 == 0 {
            "subscribed"
        } else {
            "unsubscribed"
        };
        let channel = CHANNELS[(i / 2) % CHANNELS.len()];
        let (code, body) = patch_consents(&env, json!({ channel: status })).await;
        assert_eq!(code, 200, "{body}");
        env.clock.advance(chrono::Duration::milliseconds(5));
    }
    let mut seen = HashSet::new();
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/users/consents/history?limit=15&cursor={c}"),
            None => "/users/consents/history?limit=15".to_owned(),
        };
        let page = get(&env, &path).await;
        let items = page["items"].as_array().unwrap().clone();
        pages.push(items.len());
        for item in &items {
            assert!(
                seen.insert(format!(
                    "{}{}{}",
                    item["at"], item["request_id"], item["channel"]
                )),
                "duplicate {item}"
            );
        }
        let times: Vec<&str> = items.iter().map(|i| i["at"].as_str().unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, [15, 15, 10]);
    assert_eq!(seen.len(), 40);
}

#[tokio::test]
async fn dynamodb_round_trips() {
    let env = TestEnv::new().await;
    get(&env, "/users/consents").await;
    assert_eq!(env.calls.take(), ["GetItem"], "GET consents");

    patch_consents(
        &env,
        json!({"mkt_sms": "subscribed", "night_sms": "subscribed"}),
    )
    .await;
    assert_eq!(
        env.calls.take(),
        ["TransactWriteItems"],
        "PATCH consents on a new user"
    );

    patch_consents(&env, json!({"mkt_sms": "unsubscribed"})).await;
    let calls = env.calls.take();
    assert_eq!(
        calls,
        ["TransactWriteItems", "TransactWriteItems"],
        "a toggle: the guess fails, the exact write follows"
    );

    patch_consents(&env, json!({"mkt_sms": "unsubscribed"})).await;
    assert_eq!(
        env.calls.take(),
        ["TransactWriteItems"],
        "a no-op: one refused guess, no write"
    );
}

#[tokio::test]
async fn concurrent_changes_to_one_channel_leave_a_consistent_trail() {
    let env = TestEnv::new().await;
    let writes = (0..10).map(|i| {
        let env = &env;
        async move {
            let status = if i % 2 == 0 {
                "subscribed"
            } else {
                "unsubscribed"
            };
            let r = env
                .request("PATCH", "/users/consents")
                .user("ada")
                .json(json!({"mkt": status}))
                .send()
                .await;
            assert_eq!(r.status, 200, "{}", r.json());
        }
    });
    futures_util::future::join_all(writes).await;
    let history = get(&env, "/users/consents/history?limit=100").await;
    let mut remaining: Vec<Value> = history["items"].as_array().unwrap().clone();
    // Writes within one millisecond list in request-id order, not commit order, so find
    // an order the timestamps allow in which each entry starts where the previous ended:
    // no transition lost, none invented.
    let mut state = "undefined".to_owned();
    while !remaining.is_empty() {
        let earliest = remaining
            .iter()
            .map(|i| i["at"].as_str().unwrap().to_owned())
            .min()
            .unwrap();
        let next = remaining
            .iter()
            .position(|i| i["at"] == earliest.as_str() && i["from"] == state.as_str())
            .unwrap_or_else(|| {
                panic!("no entry at {earliest} starts from {state}: {remaining:#?}")
            });
        let item = remaining.remove(next);
        assert_ne!(item["from"], item["to"]);
        state = item["to"].as_str().unwrap().to_owned();
    }
    assert_eq!(
        get(&env, "/users/consents").await["mkt"]["status"],
        state.as_str()
    );
}
