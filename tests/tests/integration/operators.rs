//! Operators find an account by its email or number, page through every account, and
//! sign one out everywhere: an administrator's token or a scoped API token, nobody else.

use integration_tests::{
    TestEnv, api_token, fresh_phone, phone_account, user_token_with, verified_account,
};
use local_api::GatewayResponse;
use serde_json::{Value, json};

const PASSWORD: &str = "securepassword123";

fn unique_email(name: &str) -> String {
    format!("{name}-{:08x}@example.com", rand::random::<u32>())
}

fn admin() -> String {
    user_token_with("usr_admin", &["users:admin"])
}

async fn find(env: &TestEnv, token: &str, query: &str) -> GatewayResponse {
    env.request("GET", &format!("/api/v1/accounts/users?{query}"))
        .bearer(token)
        .send()
        .await
}

fn ids(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("results: {body}"))
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn operators_find_an_account_by_email_or_number() {
    let env = TestEnv::new().await;
    let email = unique_email("Found");
    let by_email = verified_account(&env, &email, PASSWORD, ("Ada", "L")).await;
    let phone = fresh_phone();
    let by_phone = phone_account(&env, &unique_email("phoned"), &phone, PASSWORD).await;
    let reader = api_token(&env, &["users:read"]).await;
    for token in [admin(), reader.clone()] {
        let r = find(&env, &token, &format!("email={}", email.to_uppercase())).await;
        assert_eq!(r.status, 200, "{}", r.json());
        assert_eq!(
            ids(&r.json()),
            std::slice::from_ref(&by_email),
            "compared case-insensitively"
        );
        assert_eq!(r.json()["results"][0]["email"], email.as_str());
        let r = find(
            &env,
            &token,
            &format!("phone={}", phone.replace('+', "%2B")),
        )
        .await;
        assert_eq!(ids(&r.json()), std::slice::from_ref(&by_phone));
        let r = find(&env, &token, "email=nobody%40example.com").await;
        assert_eq!(r.json(), json!({"results": []}));
    }
    env.calls.reset();
    find(&env, &admin(), &format!("email={email}")).await;
    assert_eq!(
        env.calls.take(),
        ["GetItem", "GetItem"],
        "no scan: the claim, the profile"
    );

    for query in [
        "email=not-an-email",
        &format!("email={email}&phone=%2B905321234567"),
        &format!("email={email}&limit=5"),
        "limit=0",
        "limit=101",
        "cursor=not-a-cursor",
    ] {
        let r = find(&env, &reader, query).await;
        assert_eq!(r.status, 400, "{query}: {}", r.json());
    }
    let strangers = [
        user_token_with(&by_email, &[]),
        user_token_with("someone", &["users:read", "users:write"]),
        api_token(&env, &["profiles:read"]).await,
    ];
    for token in strangers {
        let r = find(&env, &token, &format!("email={email}")).await;
        assert_eq!(r.status, 403, "{}", r.json());
        assert!(
            !String::from_utf8_lossy(&r.body).contains(&by_email),
            "nothing of the account"
        );
    }
}

#[tokio::test]
async fn an_operator_signs_an_account_out_everywhere() {
    let env = TestEnv::new().await;
    let email = unique_email("signed-in");
    let user = verified_account(&env, &email, PASSWORD, ("Ada", "L")).await;
    let mut refresh_tokens = Vec::new();
    for i in 0..2 {
        let r = env
            .request("POST", "/auth/login")
            .from_ip(&format!("198.51.100.{i}"))
            .json(json!({"email": email, "password": PASSWORD}))
            .send()
            .await;
        assert_eq!(r.status, 200);
        refresh_tokens.push(r.json()["refresh_token"].as_str().unwrap().to_owned());
    }
    let sign_out = |token: String, id: String| {
        let env = &env;
        async move {
            env.request("DELETE", &format!("/api/v1/accounts/users/{id}/sessions"))
                .bearer(&token)
                .send()
                .await
        }
    };
    let reader = api_token(&env, &["users:read"]).await;
    for token in [reader, user_token_with("someone", &[])] {
        let r = sign_out(token, user.clone()).await;
        assert_eq!(r.status, 404, "{}", r.json());
        assert_eq!(r.json(), json!({"error": "User not found"}));
    }
    let writer = api_token(&env, &["users:write"]).await;
    let r = sign_out(writer.clone(), "usr_nobody".to_owned()).await;
    assert_eq!(r.json(), json!({"error": "User not found"}));
    let refresh = |token: String| {
        let env = &env;
        async move {
            env.request("POST", "/auth/refresh")
                .json(json!({"refresh_token": token}))
                .send()
                .await
                .status
        }
    };
    assert_eq!(
        refresh(refresh_tokens[0].clone()).await,
        200,
        "refused calls end nothing"
    );

    let r = sign_out(writer, user.clone()).await;
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    for token in &refresh_tokens[1..] {
        assert_eq!(refresh(token.clone()).await, 401);
    }
    let audit: Vec<_> = env
        .scan_all()
        .await
        .into_iter()
        .filter(|i| {
            matches!(i.get("pk"), Some(aws_sdk_dynamodb::types::AttributeValue::S(pk)) if *pk == format!("USER#{user}"))
                && matches!(i.get("sk"), Some(aws_sdk_dynamodb::types::AttributeValue::S(sk)) if sk.starts_with("AUDIT#"))
        })
        .collect();
    assert!(
        audit.iter().any(|entry| matches!(
            entry.get("source"),
            Some(aws_sdk_dynamodb::types::AttributeValue::S(source)) if source == "api"
        )),
        "the sign-out is on the account's audit trail: {audit:?}"
    );
    let r = sign_out(admin(), user.clone()).await;
    assert_eq!(r.status, 204, "an administrator too");
    let r = env
        .request("POST", "/auth/login")
        .json(json!({"email": email, "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(r.status, 200, "signing out disables nothing");
}

/// Support staff do the same with `profilectl user find|signout`.
#[tokio::test]
async fn support_staff_find_and_sign_out_with_profilectl() {
    let env = TestEnv::new().await;
    let (email, phone) = (unique_email("cli"), fresh_phone());
    let user = phone_account(&env, &email, &phone, PASSWORD).await;
    let run = |args: &[&str]| integration_tests::profilectl(&env, args);
    let out = run(&["user", "find", "--phone", &phone]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(found["user_id"], user.as_str());
    // The email this sign-up typed is unproven: it may be anyone's, and finds nothing.
    for unproven in [email.as_str(), "nobody@example.com"] {
        let out = run(&["user", "find", "--email", unproven]);
        assert!(out.status.success() && out.stdout.is_empty(), "{unproven}");
    }
    assert!(
        !run(&["user", "find"]).status.success(),
        "--email or --phone"
    );

    let login = env
        .request("POST", "/auth/login")
        .json(json!({"phone": phone, "password": PASSWORD}))
        .send()
        .await;
    let refresh_token = login.json()["refresh_token"].as_str().unwrap().to_owned();
    let out = run(&["user", "signout", &user]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 session(s) ended"));
    let r = env
        .request("POST", "/auth/refresh")
        .json(json!({"refresh_token": refresh_token}))
        .send()
        .await;
    assert_eq!(r.status, 401);
    assert!(!run(&["user", "signout", "usr_nobody"]).status.success());
}

/// Every account once, newest first, a page at a time, with no scan: accounts made at the
/// same instant included, and one written before the index existed once backfilled.
#[tokio::test]
async fn operators_page_through_every_account_once_newest_first() {
    let env = TestEnv::new().await;
    let mut made = Vec::new();
    for round in 0..4 {
        // Three accounts at each instant: equal creation times across and within the
        // index's partitions.
        for i in 0..3 {
            let email =
                domain::Email::parse(&unique_email(&format!("listed-{round}-{i}"))).unwrap();
            let user = domain::UserId::parse(&format!("usr_list_{round}_{i}")).unwrap();
            integration_tests::store_account(&env, &user, &email, "!", None)
                .await
                .unwrap();
            made.push(user.to_string());
        }
        env.clock.advance(chrono::Duration::seconds(1));
    }
    let reader = api_token(&env, &["users:read"]).await;
    let page_through = |token: String, limit: usize| {
        let env = &env;
        async move {
            let (mut seen, mut times, mut cursor) = (Vec::new(), Vec::new(), None::<String>);
            loop {
                let mut query = format!("limit={limit}");
                if let Some(cursor) = &cursor {
                    query.push_str(&format!("&cursor={cursor}"));
                }
                let r = find(env, &token, &query).await;
                assert_eq!(r.status, 200, "{}", r.json());
                let body = r.json();
                assert!(ids(&body).len() <= limit);
                for user in body["results"].as_array().unwrap() {
                    seen.push(user["id"].as_str().unwrap().to_owned());
                    times.push(user["created_at"].as_str().unwrap().to_owned());
                }
                match body["next"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => break,
                }
                assert!(seen.len() <= 100, "the pages never end");
            }
            (seen, times)
        }
    };
    for (token, limit) in [
        (admin(), 5),
        (reader.clone(), 2),
        (admin(), 12),
        (admin(), 100),
    ] {
        let (seen, times) = page_through(token, limit).await;
        let mut sorted_seen = seen.clone();
        sorted_seen.sort();
        let mut expected = made.clone();
        expected.sort();
        assert_eq!(sorted_seen, expected, "limit {limit}: every account once");
        assert!(
            times.windows(2).all(|w| w[0] >= w[1]),
            "limit {limit}: newest first: {times:?}"
        );
    }
    env.calls.reset();
    find(&env, &admin(), "limit=5").await;
    let calls = env.calls.take();
    assert!(!calls.iter().any(|c| c == "Scan"), "{calls:?}");
    assert_eq!(
        calls.iter().filter(|c| *c == "Query").count(),
        8,
        "one query per partition of the index: {calls:?}"
    );

    // A profile from before the index: not listed until backfilled.
    let key = |user: &str| {
        std::collections::HashMap::from([
            (
                "pk".to_owned(),
                aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{user}")),
            ),
            (
                "sk".to_owned(),
                aws_sdk_dynamodb::types::AttributeValue::S("PROFILE".into()),
            ),
        ])
    };
    env.dynamodb
        .update_item()
        .table_name(&env.table)
        .set_key(Some(key(&made[0])))
        .update_expression("REMOVE list_shard")
        .send()
        .await
        .unwrap();
    let (seen, _) = page_through(admin(), 100).await;
    assert_eq!(seen.len(), made.len() - 1);
    let out = integration_tests::profilectl(&env, &["user", "index-backfill"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 profile(s) added"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (seen, _) = page_through(admin(), 100).await;
    assert_eq!(seen.len(), made.len());

    // DynamoDB refuses a write whose index key attribute has another type than the
    // index's, on any item (the emulator does not): only strings carry those names,
    // sessions and tokens included.
    let email = unique_email("typed");
    verified_account(&env, &email, PASSWORD, ("Ada", "L")).await;
    let r = env
        .request("POST", "/auth/login")
        .json(json!({"email": email, "password": PASSWORD}))
        .send()
        .await;
    let refresh = r.json()["refresh_token"].as_str().unwrap().to_owned();
    let r = env
        .request("POST", "/auth/refresh")
        .json(json!({"refresh_token": refresh}))
        .send()
        .await;
    assert_eq!(r.status, 200);
    let template = integration_tests::template();
    let index_keys: Vec<&str> = template
        .table
        .indexes
        .iter()
        .flat_map(|i| i.keys.iter().map(|k| k.name.as_str()))
        .collect();
    assert_eq!(index_keys, ["list_shard", "listed_at"]);
    for item in env.scan_all().await {
        for key in &index_keys {
            if let Some(value) = item.get(*key) {
                assert!(value.is_s(), "{key} of {item:?} is not a string");
            }
        }
    }
}
