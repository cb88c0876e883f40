//! An operator disables an account: its sessions end, and until it is enabled it can
//! neither log in, refresh, recover its password nor read or change itself with an
//! access token it still holds; partners find no such user. Enabling lets it log in.

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::{
    TestEnv, api_token, emails_to, six_digits, user_token_with, verified_account,
};
use local_api::GatewayResponse;
use serde_json::{Value, json};

const PASSWORD: &str = "securepassword123";
const NEW_PASSWORD: &str = "another-long-passphrase-9";

fn unique_email(name: &str) -> String {
    format!("{name}-{:08x}@example.com", rand::random::<u32>())
}

fn admin() -> String {
    user_token_with("usr_admin", &["users:admin"])
}

async fn act(env: &TestEnv, token: &str, user: &str, action: &str, body: Value) -> GatewayResponse {
    env.request("POST", &format!("/api/v1/accounts/users/{user}/{action}"))
        .bearer(token)
        .json(body)
        .send()
        .await
}

async fn enable(env: &TestEnv, user: &str) -> GatewayResponse {
    env.request("POST", &format!("/api/v1/accounts/users/{user}/enable"))
        .bearer(&admin())
        .send()
        .await
}

async fn login(env: &TestEnv, email: &str, password: &str) -> GatewayResponse {
    env.request("POST", "/auth/login")
        .json(json!({"email": email, "password": password}))
        .send()
        .await
}

async fn refresh(env: &TestEnv, token: &str) -> u16 {
    env.request("POST", "/auth/refresh")
        .json(json!({"refresh_token": token}))
        .send()
        .await
        .status
        .as_u16()
}

fn problem_code(r: &GatewayResponse) -> (u16, Value) {
    (r.status.as_u16(), r.json()["code"].clone())
}

fn disabled() -> (u16, Value) {
    (403, json!("account_disabled"))
}

async fn audit_of(env: &TestEnv, user: &str) -> Vec<String> {
    env.scan_all()
        .await
        .into_iter()
        .filter(|i| {
            matches!(i.get("pk"), Some(AttributeValue::S(pk)) if *pk == format!("USER#{user}"))
                && matches!(i.get("sk"), Some(AttributeValue::S(sk)) if sk.starts_with("AUDIT#"))
        })
        .map(|i| format!("{i:?}"))
        .collect()
}

#[tokio::test]
async fn a_disabled_account_can_do_nothing_until_an_operator_enables_it() {
    let env = TestEnv::new().await;
    let email = unique_email("disabled");
    let user = verified_account(&env, &email, PASSWORD, ("Ada", "L")).await;
    let mut refresh_tokens = Vec::new();
    for _ in 0..2 {
        let r = login(&env, &email, PASSWORD).await;
        assert_eq!(r.status, 200);
        refresh_tokens.push(r.json()["refresh_token"].as_str().unwrap().to_owned());
    }
    let holder = user_token_with(&user, &[]);
    let reason = json!({"reason": "chargeback fraud"});

    // Nobody but an operator who may write disables: the 404 of a missing user.
    let reader = api_token(&env, &["users:read"]).await;
    for token in [holder.clone(), reader] {
        let r = act(&env, &token, &user, "disable", reason.clone()).await;
        assert_eq!(r.json(), json!({"error": "User not found"}));
    }
    let r = act(&env, &admin(), "usr_nobody", "disable", reason.clone()).await;
    assert_eq!(r.status, 404);
    for body in [
        json!({}),
        json!({"reason": "  "}),
        json!({"reason": "a\nb"}),
    ] {
        let r = act(&env, &admin(), &user, "disable", body.clone()).await;
        assert_eq!(r.status, 400, "{body}");
        assert!(r.json()["reason"].is_array(), "{}", r.json());
    }
    assert_eq!(
        refresh(&env, &refresh_tokens[0]).await,
        200,
        "refusals end nothing"
    );
    let r = login(&env, &email, PASSWORD).await;
    refresh_tokens[0] = r.json()["refresh_token"].as_str().unwrap().to_owned();

    let writer = api_token(&env, &["users:write"]).await;
    let r = act(&env, &writer, &user, "disable", reason.clone()).await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(
        (r.json()["id"].clone(), r.json()["disabled"].clone()),
        (json!(user), json!(true))
    );

    for token in &refresh_tokens {
        assert_eq!(refresh(&env, token).await, 401, "every session ended");
    }
    assert_eq!(
        problem_code(&login(&env, &email, PASSWORD).await),
        disabled()
    );
    assert_eq!(
        login(&env, &email, "wrong-password-123").await.status,
        401,
        "a wrong password learns nothing"
    );

    // An access token the holder still has reads and changes nothing.
    let as_holder = |method: &'static str, path: String, body: Option<Value>| {
        let (env, holder) = (&env, holder.clone());
        async move {
            let request = env.request(method, &path).bearer(&holder);
            match body {
                Some(body) => request.json(body).send().await,
                None => request.send().await,
            }
        }
    };
    for (method, path, body) in [
        ("GET", "/users/profile".to_owned(), None),
        (
            "PATCH",
            "/users/profile".to_owned(),
            Some(json!({"first_name": "Eve"})),
        ),
        ("GET", "/users/consents".to_owned(), None),
        (
            "PATCH",
            "/users/consents".to_owned(),
            Some(json!({"email": "subscribed"})),
        ),
        ("GET", format!("/api/v1/accounts/users/{user}"), None),
        (
            "POST",
            "/users/me/password".to_owned(),
            Some(json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})),
        ),
        ("GET", "/users/profile-with-loyalty".to_owned(), None),
        // The holder's rights wait too: the token may be a thief's.
        ("POST", "/users/me/export".to_owned(), None),
        ("DELETE", "/users/me".to_owned(), None),
        ("DELETE", "/users/me/sessions".to_owned(), None),
    ] {
        let r = as_holder(method, path.clone(), body).await;
        assert_eq!(
            problem_code(&r),
            disabled(),
            "{method} {path}: {}",
            r.json()
        );
    }
    // Operators still read it; its data stays as it was until it is enabled.
    let r = env
        .request("GET", &format!("/api/v1/accounts/users/{user}"))
        .bearer(&admin())
        .send()
        .await;
    assert_eq!(
        (r.json()["first_name"].clone(), r.json()["disabled"].clone()),
        (json!("Ada"), json!(true))
    );
    let r = env
        .request("PATCH", &format!("/api/v1/accounts/users/{user}"))
        .bearer(&admin())
        .json(json!({"first_name": "Eve"}))
        .send()
        .await;
    assert_eq!(problem_code(&r), disabled(), "frozen for operators too");
    let r = env
        .request("PATCH", &format!("/api/v1/accounts/users/{user}"))
        .bearer(&admin())
        .json(json!({"email": unique_email("moved")}))
        .send()
        .await;
    assert_eq!(
        problem_code(&r),
        disabled(),
        "its address too: {}",
        r.json()
    );
    // Partners find no such user.
    let partner = api_token(&env, &["profiles:write"]).await;
    let r = env
        .request("POST", "/api/v1/users/profile/update")
        .bearer(&partner)
        .json(json!({"user_properties": [{"user_id": user, "properties": {"user_name": "eve"}}]}))
        .send()
        .await;
    assert_eq!(
        r.json()["result_data"]["failure_details"][0]["code"],
        4004,
        "{}",
        r.json()
    );
    // The request for a reset code answers as ever, and nothing is sent.
    let sent = emails_to(&email).len();
    let r = env
        .request("POST", "/auth/password/forgot")
        .json(json!({"email": email}))
        .send()
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(
        emails_to(&email).len(),
        sent,
        "no reset code to a disabled account"
    );

    let audit = audit_of(&env, &user).await;
    assert!(
        audit
            .iter()
            .any(|e| e.contains("chargeback fraud") && e.contains("\"api\"")),
        "the reason and who, on the audit: {audit:?}"
    );
    let r = act(&env, &admin(), &user, "disable", json!({"reason": "again"})).await;
    assert_eq!(
        (r.status.as_u16(), r.json()["disabled"].clone()),
        (200, json!(true))
    );
    assert!(
        !audit_of(&env, &user)
            .await
            .iter()
            .any(|e| e.contains("again")),
        "disabling a disabled account changes nothing"
    );

    let r = enable(&env, &user).await;
    assert_eq!(
        (r.status.as_u16(), r.json()["disabled"].clone()),
        (200, json!(false))
    );
    let r = login(&env, &email, PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.json());
    for token in &refresh_tokens {
        assert_eq!(refresh(&env, token).await, 401, "ended sessions stay ended");
    }
    let r = as_holder("GET", "/users/profile".to_owned(), None).await;
    assert_eq!(r.status, 200);
}

/// Codes sent before the account was disabled (here a reset's) are void: whoever asked
/// for them may be whom it was disabled against, and enabling does not revive them.
#[tokio::test]
async fn codes_sent_before_a_disabling_are_void() {
    let env = TestEnv::new().await;
    let email = unique_email("reset");
    let user = verified_account(&env, &email, PASSWORD, ("Ada", "L")).await;
    let r = env
        .request("POST", "/auth/password/forgot")
        .json(json!({"email": email}))
        .send()
        .await;
    assert_eq!(r.status, 202);
    let code = six_digits(&emails_to(&email).last().unwrap().1);
    let r = act(
        &env,
        &admin(),
        &user,
        "disable",
        json!({"reason": "stolen"}),
    )
    .await;
    assert_eq!(r.status, 200);
    let reset = || {
        env.request("POST", "/auth/password/reset")
            .json(json!({"email": email, "code": code, "new_password": NEW_PASSWORD}))
            .send()
    };
    let r = reset().await;
    assert_eq!(
        problem_code(&r),
        (406, json!("otp_expired")),
        "{}",
        r.json()
    );
    let r = enable(&env, &user).await;
    assert_eq!(r.status, 200);
    let r = reset().await;
    assert_eq!(
        problem_code(&r),
        (406, json!("otp_expired")),
        "{}",
        r.json()
    );
    assert_eq!(
        login(&env, &email, PASSWORD).await.status,
        200,
        "the password stands"
    );
}

/// Logins racing a disabling: whichever session a login got, the disabling ends it.
#[tokio::test]
async fn no_session_outlives_a_disabling_it_raced() {
    let env = TestEnv::new().await;
    let email = unique_email("race");
    let user = verified_account(&env, &email, PASSWORD, ("Ada", "L")).await;
    let logins = (0..6).map(|i| {
        let (env, email) = (&env, &email);
        async move {
            env.request("POST", "/auth/login")
                .from_ip(&format!("198.51.100.{i}"))
                .json(json!({"email": email, "password": PASSWORD}))
                .send()
                .await
        }
    });
    let disabling = async {
        tokio::task::yield_now().await;
        act(&env, &admin(), &user, "disable", json!({"reason": "race"})).await
    };
    let (answers, disabled_answer) =
        tokio::join!(futures_util::future::join_all(logins), disabling);
    assert_eq!(disabled_answer.status, 200);
    let mut got = 0;
    for r in answers {
        match r.status.as_u16() {
            200 => {
                got += 1;
                let token = r.json()["refresh_token"].as_str().unwrap().to_owned();
                assert_eq!(
                    refresh(&env, &token).await,
                    401,
                    "a session outlived the disabling"
                );
            }
            status => assert!(matches!(status, 401 | 403), "{status}: {}", r.json()),
        }
    }
    eprintln!("{got} of 6 logins got a session before the disabling");
}

/// Support staff do the same with `profilectl user disable|enable`.
#[tokio::test]
async fn support_staff_disable_and_enable_with_profilectl() {
    let env = TestEnv::new().await;
    let email = unique_email("cli-disable");
    let user = verified_account(&env, &email, PASSWORD, ("Ada", "L")).await;
    let refresh_token = login(&env, &email, PASSWORD).await.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = |args: &[&str]| integration_tests::profilectl(&env, args);
    assert!(
        !run(&["user", "disable", &user]).status.success(),
        "--reason is required"
    );
    let out = run(&["user", "disable", &user, "--reason", "support ticket 42"]);
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{said}");
    assert!(said.contains("disabled: 1 session(s) ended"), "{said}");
    let found: Value =
        serde_json::from_slice(&run(&["user", "find", "--email", &email]).stdout).unwrap();
    assert_eq!(found["disabled"], true, "support sees it disabled");
    assert_eq!(refresh(&env, &refresh_token).await, 401);
    assert_eq!(
        problem_code(&login(&env, &email, PASSWORD).await),
        disabled()
    );
    let out = run(&["user", "enable", &user]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(login(&env, &email, PASSWORD).await.status, 200);
    assert!(!run(&["user", "enable", "usr_nobody"]).status.success());
}

/// The holder's reads that never touch the profile item answer 403 too: the consent
/// history, the segment list and the session list.
#[tokio::test]
async fn a_disabled_accounts_token_lists_nothing() {
    let env = TestEnv::new().await;
    let email = unique_email("lists");
    let user = verified_account(&env, &email, PASSWORD, ("Ada", "L")).await;
    let holder = user_token_with(&user, &[]);
    let paths = [
        "/users/consents/history",
        "/users/segments",
        "/users/me/sessions",
    ];
    for path in paths {
        let r = env.request("GET", path).bearer(&holder).send().await;
        assert_eq!(r.status, 200, "{path}: {}", r.json());
    }
    let r = act(&env, &admin(), &user, "disable", json!({"reason": "lists"})).await;
    assert_eq!(r.status, 200);
    for path in paths {
        let r = env.request("GET", path).bearer(&holder).send().await;
        assert_eq!(problem_code(&r), disabled(), "{path}: {}", r.json());
    }
}

/// Whoever repeats the right password of a disabled account locks nobody out: only wrong
/// passwords count toward the login limits, so the owner logs in once it is enabled.
#[tokio::test]
async fn the_right_password_of_a_disabled_account_counts_toward_no_limit() {
    let env = TestEnv::new().await;
    let email = unique_email("repeated");
    let user = verified_account(&env, &email, PASSWORD, ("Ada", "L")).await;
    let r = act(
        &env,
        &admin(),
        &user,
        "disable",
        json!({"reason": "stolen"}),
    )
    .await;
    assert_eq!(r.status, 200);
    let limits = domain::login::LoginLimits::default();
    for attempt in 0..=limits.per_address_and_source {
        let r = env
            .request("POST", "/auth/login")
            .from_ip("198.51.100.77")
            .json(json!({"email": email, "password": PASSWORD}))
            .send()
            .await;
        assert_eq!(
            problem_code(&r),
            disabled(),
            "attempt {attempt}: {}",
            r.json()
        );
    }
    let r = enable(&env, &user).await;
    assert_eq!(r.status, 200);
    let r = env
        .request("POST", "/auth/login")
        .from_ip("198.51.100.77")
        .json(json!({"email": email, "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
}
