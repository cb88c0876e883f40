//! Recovering and changing a password, and a user's own sessions, as an app would use
//! them: one 202 for every address, a code only to a proven one, every session ended by
//! a reset, every other one by a change, and the session list and its sign-outs.

use integration_tests::{
    TestEnv, emails_to, fresh_phone, last_code_to, six_digits, sms_to, user_token, verified_account,
};
use local_api::GatewayResponse;
use serde_json::{Value, json};

async fn post(env: &TestEnv, path: &str, body: Value) -> GatewayResponse {
    env.request("POST", path).json(body).send().await
}

fn unique_email() -> String {
    format!("pw-{:08x}@example.com", rand::random::<u32>())
}

const OLD: &str = "correct horse battery";
const NEW: &str = "a new staple for the horse";

/// A new account with a proven email and the password `OLD`: its address.
async fn proven_account(env: &TestEnv) -> String {
    let email = unique_email();
    verified_account(env, &email, OLD, ("Ada", "Lovelace")).await;
    email
}

/// Logs in; the refresh and access tokens.
async fn login(env: &TestEnv, email: &str, password: &str) -> (String, String) {
    let r = post(
        env,
        "/auth/login",
        json!({"email": email, "password": password}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let tokens = r.json();
    (
        tokens["refresh_token"].as_str().unwrap().to_owned(),
        tokens["access_token"].as_str().unwrap().to_owned(),
    )
}

async fn change_password(env: &TestEnv, access: &str, body: Value) -> GatewayResponse {
    env.request("POST", "/users/me/password")
        .bearer(access)
        .json(body)
        .send()
        .await
}

async fn refresh(env: &TestEnv, token: &str) -> GatewayResponse {
    post(env, "/auth/refresh", json!({"refresh_token": token})).await
}

/// A sign-up by email (seed 001) with `by_email` as its password, and one by phone
/// (seed 000) with `by_phone`: their answers.
async fn both_sign_ups(env: &TestEnv, by_email: &str, by_phone: &str) -> [GatewayResponse; 2] {
    let email = post(
        env,
        "/api/v1/accounts/users",
        json!({"email": unique_email(), "password": by_email, "confirm_password": by_email}),
    )
    .await;
    let phone = post(
        env,
        "/users/register",
        json!({
            "first_name": "Ada", "last_name": "Lovelace", "email": unique_email(),
            "password": by_phone, "phone": fresh_phone(), "date_of_birth": "1990-12-10",
            "gender": "female", "language_code": "en", "sms_allowed": true, "email_allowed": false,
        }),
    )
    .await;
    [email, phone]
}

fn other_code(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

fn reset_codes_to(email: &str) -> Vec<String> {
    emails_to(email)
        .into_iter()
        .filter(|(subject, _)| subject == "Reset your password")
        .map(|(_, text)| six_digits(&text))
        .collect()
}

#[tokio::test]
async fn forgot_answers_alike_and_reset_ends_every_session() {
    let env = TestEnv::new().await;
    let proven = unique_email();
    verified_account(&env, &proven, OLD, ("Ada", "Lovelace")).await;
    // An account whose address nobody proved.
    let unproven = unique_email();
    let r = post(
        &env,
        "/api/v1/accounts/users",
        json!({"email": unproven, "password": OLD, "confirm_password": OLD}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json());
    let (refresh_a, _) = login(&env, &proven, OLD).await;
    let (refresh_b, _) = login(&env, &proven, OLD).await;

    let mut answers = Vec::new();
    for address in [&proven, &unproven, &unique_email()] {
        let r = post(&env, "/auth/password/forgot", json!({"email": address})).await;
        answers.push((r.status.as_u16(), r.json()));
    }
    let r = post(
        &env,
        "/auth/password/forgot",
        json!({"phone": fresh_phone()}),
    )
    .await;
    answers.push((r.status.as_u16(), r.json()));
    assert_eq!(answers[0].0, 202, "{:?}", answers[0]);
    assert!(
        answers.iter().all(|a| *a == answers[0]),
        "one answer for every address and form: {answers:?}"
    );
    assert_eq!(
        reset_codes_to(&proven).len(),
        1,
        "the proven address gets a code"
    );
    assert!(
        reset_codes_to(&unproven).is_empty(),
        "an unproven address gets nothing"
    );
    // Inside the cooldown: the same 202, nothing sent.
    let r = post(&env, "/auth/password/forgot", json!({"email": proven})).await;
    assert_eq!((r.status.as_u16(), r.json()), answers[0]);
    assert_eq!(reset_codes_to(&proven).len(), 1);

    let code = reset_codes_to(&proven).pop().unwrap();
    let r = post(
        &env,
        "/auth/password/reset",
        json!({"email": proven, "code": code, "new_password": NEW}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let old = post(
        &env,
        "/auth/login",
        json!({"email": proven, "password": OLD}),
    )
    .await;
    assert_eq!(old.status, 401, "the old password no longer logs in");
    login(&env, &proven, NEW).await;
    for token in [&refresh_a, &refresh_b] {
        assert_eq!(
            refresh(&env, token).await.status,
            401,
            "sessions before the reset end"
        );
    }
    assert!(
        emails_to(&proven)
            .iter()
            .any(|(subject, _)| subject == "Your password was changed"),
        "the proven address hears of it"
    );
    // A spent code does not set a password twice.
    let r = post(
        &env,
        "/auth/password/reset",
        json!({"email": proven, "code": code, "new_password": "yet another horse"}),
    )
    .await;
    assert_eq!(r.status, 406, "{}", r.json());
}

#[tokio::test]
async fn five_wrong_codes_burn_a_reset_and_a_refused_password_costs_no_try() {
    let env = TestEnv::new().await;
    let email = proven_account(&env).await;
    post(&env, "/auth/password/forgot", json!({"email": email})).await;
    let code = reset_codes_to(&email).pop().expect("a reset code");
    let reset = |code: String, password: &str| json!({"email": email, "code": code, "new_password": password});
    // A password the rules refuse: 400 naming it, and the code keeps every try.
    for _ in 0..6 {
        let r = post(
            &env,
            "/auth/password/reset",
            reset(other_code(&code), "short"),
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.json());
        assert!(
            r.json()["errors"]["new_password"].is_array(),
            "{}",
            r.json()
        );
    }
    for _ in 0..4 {
        let r = post(&env, "/auth/password/reset", reset(other_code(&code), NEW)).await;
        assert_eq!(
            (r.status.as_u16(), r.json()["code"].clone()),
            (406, json!("otp_invalid"))
        );
    }
    let r = post(&env, "/auth/password/reset", reset(other_code(&code), NEW)).await;
    assert_eq!(r.status, 406);
    let r = post(&env, "/auth/password/reset", reset(code.clone(), NEW)).await;
    assert_eq!(
        (r.status.as_u16(), r.json()["code"].clone()),
        (406, json!("otp_attempts_exceeded")),
        "after the fifth wrong code even the right one is refused"
    );
    login(&env, &email, OLD).await;
}

#[tokio::test]
async fn forgot_is_charged_to_the_source_budget() {
    let env = TestEnv::builder().signups_per_source(3).build().await;
    env.ten_minutes_into_an_hour();
    for _ in 0..3 {
        let r = post(
            &env,
            "/auth/password/forgot",
            json!({"email": unique_email()}),
        )
        .await;
        assert_eq!(r.status, 202);
    }
    let r = post(
        &env,
        "/auth/password/forgot",
        json!({"email": unique_email()}),
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.json());
    assert!(r.headers.contains_key("retry-after"));
    // Trying codes costs the same budget.
    let r = post(
        &env,
        "/auth/password/reset",
        json!({"email": unique_email(), "code": "123456", "new_password": NEW}),
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.json());
}

#[tokio::test]
async fn a_proven_phone_recovers_a_seed_000_account() {
    let env = TestEnv::new().await;
    let (email, phone) = (unique_email(), fresh_phone());
    let body = json!({
        "first_name": "Ada", "last_name": "Lovelace", "email": email, "password": OLD,
        "phone": phone, "date_of_birth": "1990-12-10", "gender": "female",
        "language_code": "en", "sms_allowed": true, "email_allowed": false,
    });
    let r = post(&env, "/users/register", body.clone()).await;
    assert_eq!(r.status, 202, "{}", r.json());
    let mut with_code = body;
    with_code["code"] = json!(last_code_to(&phone));
    let r = post(&env, "/users/register", with_code).await;
    assert_eq!(r.status, 201, "{}", r.json());
    let texts = sms_to(&phone).len();
    // Past the number's cooldown after the sign-up's code.
    env.clock.advance(chrono::Duration::seconds(61));
    let r = post(&env, "/auth/password/forgot", json!({"phone": phone})).await;
    assert_eq!(r.status, 202);
    assert_eq!(
        sms_to(&phone).len(),
        texts + 1,
        "the code goes to the proven number"
    );
    assert!(
        reset_codes_to(&email).is_empty(),
        "the typed, unproven email gets nothing"
    );
    let r = post(
        &env,
        "/auth/password/reset",
        json!({"phone": phone, "code": last_code_to(&phone), "new_password": NEW}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let r = post(
        &env,
        "/auth/login",
        json!({"phone": phone, "password": NEW}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let _ = email;
}

#[tokio::test]
async fn a_change_keeps_the_callers_session_and_ends_the_others() {
    let env = TestEnv::new().await;
    let email = proven_account(&env).await;
    let (mine, my_access) = login(&env, &email, OLD).await;
    let (other, _) = login(&env, &email, OLD).await;
    let change = |current: &str| json!({"current_password": current, "new_password": NEW});
    let r = change_password(&env, &my_access, change("not my password")).await;
    assert_eq!(
        (r.status.as_u16(), r.json()["code"].clone()),
        (403, json!("invalid_credentials"))
    );
    let r = change_password(&env, &my_access, change(OLD)).await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(
        refresh(&env, &other).await.status,
        401,
        "the other session ended"
    );
    let r = refresh(&env, &mine).await;
    assert_eq!(r.status, 200, "the caller's session goes on: {}", r.json());
    let next = r.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(refresh(&env, &next).await.status, 200);
    login(&env, &email, NEW).await;
}

#[tokio::test]
async fn wrong_current_passwords_count_toward_the_login_throttle() {
    let env = TestEnv::new().await;
    let email = proven_account(&env).await;
    let (_, access) = login(&env, &email, OLD).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = change_password(
            &env,
            &access,
            json!({"current_password": "wrong guess", "new_password": NEW}),
        )
        .await;
        statuses.push(r.status.as_u16());
    }
    assert_eq!(statuses, [403, 403, 403, 403, 403, 429]);
    let r = post(
        &env,
        "/auth/login",
        json!({"email": email, "password": OLD}),
    )
    .await;
    assert_eq!(r.status, 429, "the same window throttles the login");
}

#[tokio::test]
async fn an_account_without_a_password_cannot_change_one() {
    let env = TestEnv::new().await;
    let r = change_password(
        &env,
        &user_token("idp-user-1"),
        json!({"current_password": OLD, "new_password": NEW}),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.json()["code"].clone()),
        (400, json!("no_password"))
    );
}

#[tokio::test]
async fn the_session_list_and_its_sign_outs() {
    let env = TestEnv::new().await;
    let email = proven_account(&env).await;
    let (refresh_a, access_a) = login(&env, &email, OLD).await;
    let (refresh_b, _) = login(&env, &email, OLD).await;
    let (refresh_c, _) = login(&env, &email, OLD).await;
    let list = |access: String| {
        let env = &env;
        async move {
            let r = env
                .request("GET", "/users/me/sessions")
                .bearer(&access)
                .send()
                .await;
            assert_eq!(r.status, 200, "{}", r.json());
            r.json()["sessions"].as_array().unwrap().clone()
        }
    };
    let sessions = list(access_a.clone()).await;
    assert_eq!(sessions.len(), 3, "{sessions:?}");
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(
        current.len(),
        1,
        "exactly the caller's is current: {sessions:?}"
    );
    let mine = current[0]["id"].as_str().unwrap().to_owned();
    let other = sessions
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .find(|id| *id != mine)
        .unwrap();

    // Another user cannot end it, nor learn it exists.
    let r = env
        .request("DELETE", &format!("/users/me/sessions/{other}"))
        .bearer(&user_token("someone-else"))
        .send()
        .await;
    assert_eq!(
        (r.status.as_u16(), r.json()["code"].clone()),
        (404, json!("session_not_found"))
    );
    let r = env
        .request("DELETE", &format!("/users/me/sessions/{other}"))
        .bearer(&access_a)
        .send()
        .await;
    assert_eq!(r.status, 204);
    let left = list(access_a.clone()).await;
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.iter().all(|s| s["id"] != other.as_str()));
    let statuses = [
        refresh(&env, &refresh_a).await.status.as_u16(),
        refresh(&env, &refresh_b).await.status.as_u16(),
        refresh(&env, &refresh_c).await.status.as_u16(),
    ];
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        1,
        "ending one session ends only it: {statuses:?}"
    );
    let r = env
        .request("DELETE", &format!("/users/me/sessions/{other}"))
        .bearer(&access_a)
        .send()
        .await;
    assert_eq!(r.status, 404, "an ended session is not found again");

    let (fresh, fresh_access) = login(&env, &email, OLD).await;
    let r = env
        .request("DELETE", "/users/me/sessions")
        .bearer(&fresh_access)
        .send()
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        refresh(&env, &fresh).await.status,
        401,
        "the caller's ends too"
    );
    assert!(list(fresh_access).await.is_empty(), "no session is live");
    login(&env, &email, OLD).await;
}

/// The paths the test's stand-in range API was asked.
fn ranges_asked(env: &TestEnv) -> Vec<String> {
    let url = format!("{}/_standin/ranges", env.standins);
    ureq::get(&url)
        .call()
        .unwrap()
        .body_mut()
        .read_json::<Vec<String>>()
        .unwrap()
}

#[tokio::test]
async fn common_or_breached_passwords_are_refused_wherever_one_is_set() {
    let env = TestEnv::new().await;
    // A sign-up (seed 001), by the field the route names.
    for r in both_sign_ups(&env, "password1234", "qwertyuiop").await {
        assert_eq!(r.status, 400, "{}", r.json());
        assert!(r.json().to_string().contains("breach"), "{}", r.json());
    }

    let email = proven_account(&env).await;
    let (_, access) = login(&env, &email, OLD).await;
    let r = change_password(
        &env,
        &access,
        json!({"current_password": OLD, "new_password": "12345678"}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.json());
    assert!(
        r.json()["errors"]["new_password"].is_array(),
        "{}",
        r.json()
    );
    post(&env, "/auth/password/forgot", json!({"email": email})).await;
    let code = reset_codes_to(&email).pop().unwrap();
    let r = post(
        &env,
        "/auth/password/reset",
        json!({"email": email, "code": code, "new_password": "Password1234"}),
    )
    .await;
    assert_eq!(r.status, 200, "not on the list: {}", r.json());
    // NFKC: the full-width form of a listed password is that password.
    let r = change_password(&env, &login(&env, &email, "Password1234").await.1, json!({"current_password": "Password1234", "new_password": "\u{ff50}\u{ff41}\u{ff53}\u{ff53}\u{ff57}\u{ff4f}\u{ff52}\u{ff44}1234"})).await;
    assert_eq!(r.status, 400, "{}", r.json());

    let asked = ranges_asked(&env);
    assert!(!asked.is_empty());
    assert!(
        asked.iter().all(|path| path.len() == "/range/".len() + 5),
        "only five hex digits of a hash leave: {asked:?}"
    );
}

#[tokio::test]
async fn an_unanswered_breach_check_allows_or_refuses_as_configured() {
    let closed = "http://127.0.0.1:9";
    for (refuse, status) in [(false, 201), (true, 503)] {
        let env = TestEnv::builder()
            .pwned_passwords(closed, refuse)
            .build()
            .await;
        let r = post(
            &env,
            "/api/v1/accounts/users",
            json!({"email": unique_email(), "password": OLD, "confirm_password": OLD}),
        )
        .await;
        assert_eq!(r.status, status, "refuse={refuse}: {}", r.json());
        if refuse {
            assert!(r.headers.contains_key("retry-after"));
        }
    }
}

/// Logins with the old password racing a reset: whichever way each race goes, no session
/// of the old password outlives the reset.
#[tokio::test]
async fn logins_racing_a_reset_leave_no_session_of_the_old_password() {
    let env = TestEnv::new().await;
    let email = proven_account(&env).await;
    post(&env, "/auth/password/forgot", json!({"email": email})).await;
    let code = reset_codes_to(&email).pop().unwrap();
    let logins = (0..4).map(|i| {
        let (env, email) = (&env, email.clone());
        async move {
            env.request("POST", "/auth/login")
                .from_ip(&format!("198.51.100.{i}"))
                .json(json!({"email": email, "password": OLD}))
                .send()
                .await
        }
    });
    let reset = post(
        &env,
        "/auth/password/reset",
        json!({"email": email, "code": code, "new_password": NEW}),
    );
    let (answers, reset) = tokio::join!(futures_util::future::join_all(logins), reset);
    assert_eq!(reset.status, 200, "{}", reset.json());
    for answer in answers {
        let status = answer.status.as_u16();
        assert!([200, 401].contains(&status), "{status}");
        if status == 200 {
            let token = answer.json()["refresh_token"].as_str().unwrap().to_owned();
            assert_eq!(
                refresh(&env, &token).await.status,
                401,
                "a session of the old password outlived the reset"
            );
        }
    }
    login(&env, &email, NEW).await;
}

/// A hash of other parameters than ours (an older deployment's, an import's), or one made
/// before passwords were normalized, is made again by the first login that proves the
/// password, in the login's own transaction: no round trip added, and the next login
/// finds a current hash.
#[tokio::test]
async fn a_login_makes_a_stale_hash_again_in_its_own_transaction() {
    use argon2::password_hash::{PasswordHasher, SaltString};
    use argon2::{Algorithm, Argon2, Params, Version};
    use aws_sdk_dynamodb::types::AttributeValue;
    let env = TestEnv::new().await;
    let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
    let ours = |m, t| {
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(m, t, 1, None).unwrap(),
        )
    };
    let typed = "cafe\u{301} au lait, please";
    let mut cases = vec![
        // Weaker parameters than ours.
        (
            "weaker".to_owned(),
            OLD.to_owned(),
            ours(8 * 1024, 1)
                .hash_password(OLD.as_bytes(), &salt)
                .unwrap()
                .to_string(),
        ),
        // Our parameters, but the bytes as typed, before normalizing.
        (
            "typed".to_owned(),
            typed.to_owned(),
            ours(19 * 1024, 2)
                .hash_password(typed.as_bytes(), &salt)
                .unwrap()
                .to_string(),
        ),
    ];
    // Hashes other systems made (Django, Python's bcrypt, argon2-cffi), as an import
    // stores them: tests/fixtures/imported_hashes.json.
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            integration_tests::workspace_root().join("tests/fixtures/imported_hashes.json"),
        )
        .unwrap(),
    )
    .unwrap();
    for (kind, hash) in fixture["hashes"].as_object().unwrap() {
        let name: String = kind
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let password = fixture["password"].as_str().unwrap().to_owned();
        cases.push((name, password, hash.as_str().unwrap().to_owned()));
    }
    assert_eq!(cases.len(), 12);
    for (name, password, stale) in cases {
        let (name, password) = (name.as_str(), password.as_str());
        let email = format!("{name}-{:08x}@example.com", rand::random::<u32>());
        let user = domain::UserId::parse(&format!("u-{name}")).unwrap();
        let address = domain::Email::parse(&email).unwrap();
        integration_tests::store_account(&env, &user, &address, &stale, None)
            .await
            .unwrap();
        integration_tests::prove_email(&env, &email).await;
        let key = format!("EMAIL#{email}");
        let stored = || async {
            env.scan_all()
                .await
                .into_iter()
                .find(|i| matches!(i.get("pk"), Some(AttributeValue::S(pk)) if *pk == key))
                .and_then(|i| match i.get("password_hash") {
                    Some(AttributeValue::S(h)) => Some(h.clone()),
                    _ => None,
                })
                .unwrap()
        };
        let try_login = |source: &'static str| {
            let (env, email) = (&env, email.clone());
            async move {
                env.request("POST", "/auth/login")
                    .from_ip(source)
                    .json(json!({"email": email, "password": password}))
                    .send()
                    .await
                    .status
            }
        };
        let wrong = env
            .request("POST", "/auth/login")
            .from_ip("198.51.100.9")
            .json(json!({"email": email, "password": "not the password 42"}))
            .send()
            .await;
        assert_eq!(wrong.status, 401, "{name}");
        assert_eq!(
            stored().await,
            stale,
            "{name}: a wrong password changes nothing"
        );
        env.calls.reset();
        assert_eq!(try_login("198.51.100.1").await, 200, "{name}");
        let upgrading = env.calls.take();
        let current = stored().await;
        assert_ne!(current, stale, "{name}: made again");
        assert!(
            current.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{current}"
        );
        env.calls.reset();
        assert_eq!(
            try_login("198.51.100.2").await,
            200,
            "{name}: the new hash works"
        );
        assert_eq!(env.calls.take(), upgrading, "{name}: no round trip added");
        assert_eq!(stored().await, current, "{name}: a current hash stays");
    }
}

/// Two logins at once against a stale hash: each makes it again, one writes it first, and
/// the other opens its session on the hash that is there now. Both are signed in.
#[tokio::test]
async fn two_logins_at_once_against_a_stale_hash_are_both_signed_in() {
    use argon2::password_hash::{PasswordHasher, SaltString};
    use argon2::{Algorithm, Argon2, Params, Version};
    let env = TestEnv::new().await;
    let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
    let weaker = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(8 * 1024, 1, 1, None).unwrap(),
    );
    let stale = weaker
        .hash_password(OLD.as_bytes(), &salt)
        .unwrap()
        .to_string();
    let email = unique_email();
    let user = domain::UserId::parse("u-twice").unwrap();
    let address = domain::Email::parse(&email).unwrap();
    integration_tests::store_account(&env, &user, &address, &stale, None)
        .await
        .unwrap();
    integration_tests::prove_email(&env, &email).await;
    let login = |source: &'static str| {
        let (env, email) = (&env, email.clone());
        async move {
            env.request("POST", "/auth/login")
                .from_ip(source)
                .json(json!({"email": email, "password": OLD}))
                .send()
                .await
                .status
        }
    };
    let (first, second) = tokio::join!(login("198.51.100.1"), login("198.51.100.2"));
    assert_eq!((first.as_u16(), second.as_u16()), (200, 200));
}

#[tokio::test]
async fn a_reset_lifts_the_lock_strangers_put_on_the_address() {
    let env = TestEnv::new().await;
    let email = proven_account(&env).await;
    let login_from = |ip: &'static str, password: &'static str| {
        env.request("POST", "/auth/login")
            .from_ip(ip)
            .json(json!({"email": email, "password": password}))
            .send()
    };
    // The holder mistypes five times at home; strangers fill the address's hour from
    // nine other addresses (50 wrong passwords an hour by default).
    for _ in 0..5 {
        assert_eq!(
            login_from("198.51.100.7", "wrong password").await.status,
            401
        );
    }
    for i in 0..45 {
        let ip: &'static str = Box::leak(format!("203.0.113.{}", i / 5).into_boxed_str());
        assert_eq!(login_from(ip, "wrong password").await.status, 401);
    }
    assert_eq!(login_from("198.51.100.7", OLD).await.status, 429);
    assert_eq!(
        login_from("192.0.2.1", OLD).await.status,
        429,
        "a fresh source too"
    );
    // The reset forgives them all.
    let forgot = env
        .request("POST", "/auth/password/forgot")
        .from_ip("198.51.100.7")
        .json(json!({"email": email}))
        .send()
        .await;
    assert_eq!(forgot.status, 202, "{}", forgot.json());
    let code = reset_codes_to(&email).pop().unwrap();
    let r = env
        .request("POST", "/auth/password/reset")
        .from_ip("198.51.100.7")
        .json(json!({"email": email, "code": code, "new_password": NEW}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(login_from("198.51.100.7", NEW).await.status, 200);
    assert_eq!(login_from("192.0.2.1", NEW).await.status, 200);
    // Every count of the address is gone: guesses at the old password mean nothing now.
    assert_eq!(login_from("203.0.113.0", NEW).await.status, 200);
}

#[tokio::test]
async fn a_longer_minimum_holds_on_every_route_that_sets_a_password() {
    let env = TestEnv::builder().password_min_length(12).build().await;
    let short = "eleven char";
    for r in both_sign_ups(&env, short, short).await {
        assert_eq!(r.status, 400, "{}", r.json());
        assert!(r.json().to_string().contains("12 to 128"), "{}", r.json());
    }
    // OLD has 21 characters: the account is made; a reset to a short or a breached
    // password is refused and keeps the code's tries.
    let email = proven_account(&env).await;
    let r = post(&env, "/auth/password/forgot", json!({"email": email})).await;
    assert_eq!(r.status, 202, "{}", r.json());
    let code = reset_codes_to(&email).pop().unwrap();
    for refused in [short, "password1234"] {
        let r = post(
            &env,
            "/auth/password/reset",
            json!({"email": email, "code": code, "new_password": refused}),
        )
        .await;
        assert_eq!(r.status, 400, "{refused}: {}", r.json());
        assert!(
            r.json().to_string().contains("new_password"),
            "{}",
            r.json()
        );
    }
    let r = post(
        &env,
        "/auth/password/reset",
        json!({"email": email, "code": code, "new_password": NEW}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    // A change too.
    let (_, access) = login(&env, &email, NEW).await;
    let r = change_password(
        &env,
        &access,
        json!({"current_password": NEW, "new_password": short}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.json());
    assert!(r.json().to_string().contains("12 to 128"), "{}", r.json());
}

#[tokio::test]
async fn a_reset_for_no_account_and_a_login_by_an_unproven_number_answer_as_wrong() {
    let env = TestEnv::new().await;
    let r = post(
        &env,
        "/auth/password/reset",
        json!({"email": unique_email(), "code": "123456", "new_password": NEW}),
    )
    .await;
    assert_eq!(r.status, 406, "{}", r.json());
    assert_eq!(r.json()["code"], "otp_expired");
    // A number typed at a seed 001 sign-up is no login until it is proven.
    let (email, phone) = (unique_email(), fresh_phone());
    let r = post(
        &env,
        "/api/v1/accounts/users",
        json!({"email": email, "password": OLD, "confirm_password": OLD, "phone": phone}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json());
    integration_tests::prove_email(&env, &email).await;
    let by_number = post(
        &env,
        "/auth/login",
        json!({"phone": phone, "password": OLD}),
    )
    .await;
    let unknown = post(
        &env,
        "/auth/login",
        json!({"phone": fresh_phone(), "password": OLD}),
    )
    .await;
    assert_eq!(by_number.status, 401, "{}", by_number.json());
    assert_eq!(by_number.json(), unknown.json());
    // The number is on the profile all the same, unproven.
    let (_, access) = login(&env, &email, OLD).await;
    let profile = env
        .request("GET", "/users/profile")
        .bearer(&access)
        .send()
        .await
        .json();
    assert_eq!(profile["phone"], phone.as_str(), "{profile}");
    assert_eq!(profile["phone_verified"], false, "{profile}");
}
