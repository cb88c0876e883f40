//! The second factor as an app uses it: setting up an authenticator app from the secret
//! it shows, the login's second step (a code accepted once, recovery codes once each,
//! five wrong codes end it, also when sent at once), what the tokens say (`amr`, `acr`,
//! `auth_time`, kept by a refresh), step-up, removal, export and erasure.

use domain::mfa::TotpSecret;
use integration_tests::{TestEnv, claims, start_factor, verified_account};
use local_api::GatewayResponse;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

fn unique_email() -> String {
    format!("mfa-{:08x}@example.com", rand::random::<u32>())
}

async fn post(env: &TestEnv, path: &str, token: Option<&str>, body: Value) -> GatewayResponse {
    let r = env.request("POST", path).json(body);
    match token {
        Some(t) => r.bearer(t).send().await,
        None => r.send().await,
    }
}

async fn login(env: &TestEnv, email: &str) -> Value {
    let r = post(
        env,
        "/auth/login",
        None,
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    r.json()
}

/// A new account with a proven email, and the access token of a password login to it
/// (`aal1`, recent).
async fn signed_in(env: &TestEnv) -> (String, String) {
    let email = unique_email();
    verified_account(env, &email, PASSWORD, ("Ada", "Lovelace")).await;
    let access = login(env, &email).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    (email, access)
}

/// An app set up on a new account: its address, the secret, the factor id, the recovery
/// codes, and the access token of the login before it (`aal1`).
struct Enrolled {
    email: String,
    secret: TotpSecret,
    factor: String,
    recovery: Vec<String>,
    first_access: String,
}

fn now(env: &TestEnv) -> i64 {
    env.clock.now().timestamp()
}

/// Moves the clock to the next 30-second step: a code of it was never taken.
fn next_step(env: &TestEnv) {
    let into = now(env).rem_euclid(30);
    env.clock.advance(chrono::Duration::seconds(30 - into));
}

async fn enrolled(env: &TestEnv) -> Enrolled {
    let (email, access) = signed_in(env).await;
    let r = start_factor(env, "/users/me/mfa/totp", &access, &email).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let started = r.json();
    let secret = TotpSecret::from_base32(started["secret"].as_str().unwrap()).unwrap();
    let factor = started["factor_id"].as_str().unwrap().to_owned();
    let uri = started["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(
        uri.contains(&format!("secret={}", secret.base32())),
        "{uri}"
    );
    assert!(started["qr_svg"].as_str().unwrap().contains("<svg"));
    let code = secret.code_at(now(env));
    let r = post(
        env,
        "/users/me/mfa/totp/verify",
        Some(&access),
        json!({"factor_id": factor, "code": code}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let recovery: Vec<String> = r.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    Enrolled {
        email,
        secret,
        factor,
        recovery,
        first_access: access,
    }
}

/// A login's second step: its `mfa_token`, after checking the answer holds no tokens.
async fn second_step(env: &TestEnv, email: &str, factor: &str) -> String {
    let answer = login(env, email).await;
    assert_eq!(answer["mfa_required"], true, "{answer}");
    assert!(answer.get("access_token").is_none(), "{answer}");
    assert!(answer.get("refresh_token").is_none(), "{answer}");
    assert_eq!(answer["factors"], json!([{"id": factor, "type": "totp"}]));
    answer["mfa_token"].as_str().unwrap().to_owned()
}

async fn finish(env: &TestEnv, mfa_token: &str, code: &str) -> GatewayResponse {
    post(
        env,
        "/auth/mfa/verify",
        None,
        json!({"mfa_token": mfa_token, "code": code}),
    )
    .await
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

#[tokio::test]
async fn an_app_set_up_makes_login_a_second_step_whose_codes_are_taken_once() {
    let env = TestEnv::new().await;
    let app = enrolled(&env).await;
    // The proven email hears of it, without the key.
    let notices = integration_tests::emails_to(&app.email);
    let (subject, text) = notices.last().unwrap();
    assert_eq!(subject, "A sign-in method was added to your account");
    assert!(text.contains("An authenticator app"), "{text}");
    assert!(!text.contains(&app.secret.base32()));
    // The code that proved the app, at once again: a replay.
    let step = second_step(&env, &app.email, &app.factor).await;
    let replay = finish(&env, &step, &app.secret.code_at(now(&env))).await;
    assert_eq!(replay.status, 406, "{}", replay.json());
    assert_eq!(replay.json()["code"], "otp_invalid");
    next_step(&env);
    let before = now(&env);
    let r = finish(&env, &step, &app.secret.code_at(now(&env))).await;
    let after = now(&env);
    assert_eq!(r.status, 200, "{}", r.json());
    let tokens = r.json();
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["amr"], json!(["pwd", "otp"]));
    assert_eq!(access["acr"], "aal2");
    let login_time = access["auth_time"].as_i64().unwrap();
    assert!((before..=after).contains(&login_time), "{login_time}");
    // The step is spent: its token opens nothing again.
    let again = finish(&env, &step, &app.secret.code_at(now(&env))).await;
    assert_eq!(again.status, 401, "{}", again.json());
    assert_eq!(again.json()["code"], "invalid_mfa_token");
    // A refresh keeps how and when the session began.
    env.clock.advance(chrono::Duration::seconds(120));
    let r = post(
        &env,
        "/auth/refresh",
        None,
        json!({"refresh_token": tokens["refresh_token"]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let refreshed = claims(r.json()["access_token"].as_str().unwrap());
    assert_eq!(refreshed["amr"], json!(["pwd", "otp"]));
    assert_eq!(refreshed["acr"], "aal2");
    assert_eq!(refreshed["auth_time"], login_time);
    assert!(refreshed["iat"].as_i64().unwrap() > login_time);
    // The same code on a second login inside its window: taken already.
    let step = second_step(&env, &app.email, &app.factor).await;
    let r = finish(&env, &step, &app.secret.code_at(now(&env) - 120)).await;
    assert_eq!(r.status, 406, "{}", r.json());
    // A password login without the app says so in its token.
    let first = claims(&app.first_access);
    assert_eq!(
        (first["amr"].clone(), first["acr"].clone()),
        (json!(["pwd"]), json!("aal1"))
    );
}

#[tokio::test]
async fn a_recovery_code_stands_in_once_and_a_new_set_voids_the_old() {
    let env = TestEnv::new().await;
    let app = enrolled(&env).await;
    let step = second_step(&env, &app.email, &app.factor).await;
    let r = finish(&env, &step, &app.recovery[3].to_uppercase()).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let access = r.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&access)["amr"], json!(["pwd", "otp"]));
    let step = second_step(&env, &app.email, &app.factor).await;
    let r = finish(&env, &step, &app.recovery[3]).await;
    assert_eq!(r.status, 406, "a used recovery code: {}", r.json());
    let r = env
        .request("GET", "/users/me/mfa")
        .bearer(&access)
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["recovery_codes_left"], 9);
    // A new set: the old codes are void, the new ones work.
    let r = post(
        &env,
        "/users/me/mfa/recovery-codes",
        Some(&access),
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let fresh: Vec<String> = serde_json::from_value(r.json()["recovery_codes"].clone()).unwrap();
    assert_eq!(fresh.len(), 10);
    let r = finish(&env, &step, &app.recovery[4]).await;
    assert_eq!(r.status, 406, "an old set's code: {}", r.json());
    let r = finish(&env, &step, &fresh[0]).await;
    assert_eq!(r.status, 200, "{}", r.json());
}

#[tokio::test]
async fn five_wrong_codes_end_the_second_step_also_sent_at_once() {
    let env = TestEnv::new().await;
    let app = enrolled(&env).await;
    next_step(&env);
    let right = app.secret.code_at(now(&env));
    let step = second_step(&env, &app.email, &app.factor).await;
    for left in (1..=4).rev() {
        let r = finish(&env, &step, &wrong(&right)).await;
        assert_eq!(r.status, 406);
        assert_eq!(r.json()["code"], "otp_invalid");
        assert!(
            r.json()["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("{left} tries"))
        );
    }
    let r = finish(&env, &step, &wrong(&right)).await;
    assert_eq!(r.status, 406);
    assert_eq!(r.json()["code"], "otp_attempts_exceeded");
    let r = finish(&env, &step, &right).await;
    assert_eq!(r.status, 401, "the step is over: {}", r.json());

    // Twelve wrong codes at once, then the right one: at most five were judged, and the
    // right one comes too late.
    let step = second_step(&env, &app.email, &app.factor).await;
    let guesses = (0..12).map(|i| {
        let code = format!("{:06}", (right.parse::<u32>().unwrap() + 1 + i) % 1_000_000);
        let (env, step) = (&env, &step);
        async move { finish(env, step, &code).await }
    });
    let answers = futures_util::future::join_all(guesses).await;
    let judged = answers
        .iter()
        .filter(|r| r.status == 406 && r.json()["code"] == "otp_invalid")
        .count();
    assert!(judged <= 4, "{judged} wrong codes judged as tries");
    assert!(
        answers
            .iter()
            .all(|r| [406, 401, 429].contains(&r.status.as_u16()))
    );
    let r = finish(&env, &step, &right).await;
    assert_eq!(r.status, 401, "{}", r.json());
}

#[tokio::test]
async fn an_account_takes_ten_second_step_codes_an_hour_over_all_its_logins() {
    let env = TestEnv::new().await;
    let app = enrolled(&env).await;
    next_step(&env);
    let right = app.secret.code_at(now(&env));
    // Two logins' worth of wrong codes: the password opens new steps, not new guesses.
    for _ in 0..2 {
        let step = second_step(&env, &app.email, &app.factor).await;
        for _ in 0..5 {
            let r = finish(&env, &step, &wrong(&right)).await;
            assert_eq!(r.status, 406, "{}", r.json());
        }
    }
    let step = second_step(&env, &app.email, &app.factor).await;
    let r = finish(&env, &step, &right).await;
    assert_eq!(r.status, 429, "{}", r.json());
    let wait: i64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");
    // The next hour, the right code opens the session, and gives its place back.
    env.clock.advance(chrono::Duration::seconds(wait));
    let step = second_step(&env, &app.email, &app.factor).await;
    let r = finish(&env, &step, &app.secret.code_at(now(&env))).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let hour = now(&env) - now(&env).rem_euclid(3600);
    let counted: Vec<_> = env
        .scan_all()
        .await
        .into_iter()
        .filter(|i| i.get("sk").and_then(|s| s.as_s().ok()) == Some(&format!("MFA_CODES#{hour}")))
        .map(|i| i["count"].as_n().unwrap().clone())
        .collect();
    assert_eq!(counted, ["0"], "the right code gave its place back");
}

#[tokio::test]
async fn one_code_at_once_on_two_second_steps_opens_one_session() {
    let env = TestEnv::new().await;
    let app = enrolled(&env).await;
    next_step(&env);
    let code = app.secret.code_at(now(&env));
    let a = second_step(&env, &app.email, &app.factor).await;
    let b = second_step(&env, &app.email, &app.factor).await;
    let (ra, rb) = tokio::join!(finish(&env, &a, &code), finish(&env, &b, &code));
    let mut statuses = [ra.status, rb.status];
    statuses.sort();
    assert_eq!(statuses, [200, 406], "{} {}", ra.json(), rb.json());
}

#[tokio::test]
async fn setting_up_takes_five_wrong_codes_then_is_over() {
    let env = TestEnv::new().await;
    let (email, access) = signed_in(&env).await;
    let r = start_factor(&env, "/users/me/mfa/totp", &access, &email).await;
    let started = r.json();
    let secret = TotpSecret::from_base32(started["secret"].as_str().unwrap()).unwrap();
    let factor = started["factor_id"].as_str().unwrap();
    let right = secret.code_at(now(&env));
    for expected in ["otp_invalid"; 4]
        .into_iter()
        .chain(["otp_attempts_exceeded"])
    {
        let r = post(
            &env,
            "/users/me/mfa/totp/verify",
            Some(&access),
            json!({"factor_id": factor, "code": wrong(&right)}),
        )
        .await;
        assert_eq!(
            (r.status.as_u16(), r.json()["code"].clone()),
            (406, json!(expected))
        );
    }
    let r = post(
        &env,
        "/users/me/mfa/totp/verify",
        Some(&access),
        json!({"factor_id": factor, "code": right}),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.json());
    // Nothing was set up: the login needs no second step.
    assert!(login(&env, &email).await["access_token"].is_string());
    // Bad input names its field and changes nothing.
    let r = post(
        &env,
        "/users/me/mfa/totp/verify",
        Some(&access),
        json!({"factor_id": "../x", "code": "12"}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["errors"]["factor_id"].is_array());
    assert!(r.json()["errors"]["code"].is_array());
}

#[tokio::test]
async fn sensitive_changes_need_a_recent_login_and_the_factor_where_there_is_one() {
    let env = TestEnv::new().await;
    let email = unique_email();
    verified_account(&env, &email, PASSWORD, ("Ada", "Lovelace")).await;
    let tokens = login(&env, &email).await;
    let old = tokens["access_token"].as_str().unwrap().to_owned();
    env.clock.advance(chrono::Duration::seconds(601));
    let change =
        json!({"current_password": PASSWORD, "new_password": "a new staple for the horse"});
    let r = post(&env, "/users/me/password", Some(&old), change.clone()).await;
    assert_eq!(r.status, 403, "{}", r.json());
    assert_eq!(r.json()["code"], "reauthentication_required");
    assert_eq!(r.json()["required"], json!({"acr": null, "max_age": 600}));
    // A refresh does not make a login recent.
    let r = post(
        &env,
        "/auth/refresh",
        None,
        json!({"refresh_token": tokens["refresh_token"]}),
    )
    .await;
    let refreshed = r.json()["access_token"].as_str().unwrap().to_owned();
    let r = post(&env, "/users/me/password", Some(&refreshed), change.clone()).await;
    assert_eq!(r.status, 403, "{}", r.json());
    // Nor does setting up an app.
    let r = post(&env, "/users/me/mfa/totp", Some(&refreshed), json!({})).await;
    assert_eq!(r.status, 403, "{}", r.json());
    let fresh = login(&env, &email).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = post(&env, "/users/me/password", Some(&fresh), change).await;
    assert_eq!(r.status, 200, "{}", r.json());

    // With an app: a recent password-only token is not enough.
    let app = enrolled(&env).await;
    let r = env
        .request("DELETE", "/users/me/sessions")
        .bearer(&app.first_access)
        .send()
        .await;
    assert_eq!(r.status, 403, "{}", r.json());
    assert_eq!(r.json()["required"], json!({"acr": "aal2", "max_age": 600}));
    let path = format!("/users/me/mfa/{}", app.factor);
    let r = env
        .request("DELETE", &path)
        .bearer(&app.first_access)
        .send()
        .await;
    assert_eq!(r.status, 403, "{}", r.json());
    next_step(&env);
    let step = second_step(&env, &app.email, &app.factor).await;
    let r = finish(&env, &step, &app.secret.code_at(now(&env))).await;
    let strong = r.json()["access_token"].as_str().unwrap().to_owned();
    let r = env.request("DELETE", &path).bearer(&strong).send().await;
    assert_eq!(r.status, 204, "{}", r.json());
    // Removed: the login needs no second step, and the app's codes open nothing.
    assert!(login(&env, &app.email).await["access_token"].is_string());
    let r = env.request("DELETE", &path).bearer(&strong).send().await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn a_first_factor_is_confirmed_from_the_proven_address_not_by_the_password_alone() {
    let env = TestEnv::new().await;
    let email = unique_email();
    verified_account(&env, &email, PASSWORD, ("Ada", "Lovelace")).await;
    // Whoever holds the password has a fresh login, the only proof step-up asks for
    // while the account has no factor.
    let access = login(&env, &email).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let set_up = |code: String| {
        post(
            &env,
            "/users/me/mfa/totp",
            Some(&access),
            json!({"code": code}),
        )
    };
    let sent_before = integration_tests::emails_to(&email).len();
    let app_items = |items: Vec<std::collections::HashMap<String, _>>| {
        items
            .into_iter()
            .filter(|i| {
                i.get("sk")
                    .and_then(|s: &aws_sdk_dynamodb::types::AttributeValue| s.as_s().ok())
                    .is_some_and(|s| s == "MFA#TOTP")
            })
            .count()
    };
    let r = post(&env, "/users/me/mfa/totp", Some(&access), json!({})).await;
    assert_eq!(r.status, 202, "{}", r.json());
    assert!(r.json().get("secret").is_none(), "{}", r.json());
    assert_eq!(app_items(env.scan_all().await), 0, "nothing is set up yet");
    let emails = integration_tests::emails_to(&email);
    assert_eq!(emails.len(), sent_before + 1);
    let (subject, text) = emails.last().unwrap();
    assert_eq!(subject, "Confirm a new way to sign in");
    let code = integration_tests::six_digits(text);
    // A wrong code sets nothing up and counts against the code.
    let r = set_up(wrong(&code)).await;
    assert_eq!(r.status, 406, "{}", r.json());
    assert_eq!(r.json()["code"], "otp_invalid");
    assert_eq!(app_items(env.scan_all().await), 0);
    // Neither does a code for another purpose: the one a password reset sends.
    let r = post(&env, "/auth/password/forgot", None, json!({"email": email})).await;
    assert!(r.status.is_success(), "{}", r.json());
    let reset =
        integration_tests::six_digits(&integration_tests::emails_to(&email).pop().unwrap().1);
    if reset != code {
        let r = set_up(reset).await;
        assert_eq!(r.status, 406, "{}", r.json());
    }
    let r = set_up(code.clone()).await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert!(r.json()["secret"].is_string());
    // Spent: it does not start another set-up.
    let r = set_up(code).await;
    assert_eq!(r.status, 406, "{}", r.json());
    assert_eq!(r.json()["code"], "otp_expired");
}

#[tokio::test]
async fn confirmations_a_session_asks_for_leave_the_address_its_reset_codes() {
    let env = TestEnv::new().await;
    let (email, access) = signed_in(&env).await;
    // Whoever holds the password asks for every confirmation the hour allows.
    let mut sent = 0;
    for _ in 0..8 {
        let r = post(&env, "/users/me/mfa/totp", Some(&access), json!({})).await;
        match r.status.as_u16() {
            202 => sent += 1,
            429 => break,
            other => panic!("{other}: {}", r.json()),
        }
        env.clock.advance(chrono::Duration::seconds(61));
    }
    assert_eq!(sent, 5, "the hour's confirmations");
    // The holder's reset still gets its code.
    let before = integration_tests::emails_to(&email).len();
    let r = post(&env, "/auth/password/forgot", None, json!({"email": email})).await;
    assert_eq!(r.status, 202, "{}", r.json());
    let emails = integration_tests::emails_to(&email);
    assert_eq!(emails.len(), before + 1, "no reset code went out");
    assert_eq!(emails.last().unwrap().0, "Reset your password");
}

#[tokio::test]
async fn a_later_factor_needs_the_first_not_a_code_and_an_account_with_nothing_proven_needs_none() {
    let env = TestEnv::new().await;
    let app = enrolled(&env).await;
    next_step(&env);
    let step = second_step(&env, &app.email, &app.factor).await;
    let r = finish(&env, &step, &app.secret.code_at(now(&env))).await;
    let strong = r.json()["access_token"].as_str().unwrap().to_owned();
    let sent_before = integration_tests::emails_to(&app.email).len();
    let r = post(&env, "/users/me/passkeys/options", Some(&strong), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert!(r.json()["challenge_id"].is_string());
    assert_eq!(integration_tests::emails_to(&app.email).len(), sent_before);

    // A profile with no proven email or number: its recent login is all it can show.
    let user = format!("mfa-bare-{:08x}", rand::random::<u32>());
    let r = env
        .request("PATCH", "/users/profile")
        .user(&user)
        .json(json!({"first_name": "Ada"}))
        .send()
        .await;
    assert!(r.status.is_success(), "{}", r.json());
    let r = env
        .request("POST", "/users/me/mfa/totp")
        .user(&user)
        .json(json!({}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert!(r.json()["secret"].is_string());
}

#[tokio::test]
async fn the_export_lists_the_app_without_secrets_and_erasure_removes_it() {
    let env = TestEnv::new().await;
    let app = enrolled(&env).await;
    next_step(&env);
    let step = second_step(&env, &app.email, &app.factor).await;
    let r = finish(&env, &step, &app.secret.code_at(now(&env))).await;
    let strong = r.json()["access_token"].as_str().unwrap().to_owned();
    let user = claims(&strong)["sub"].as_str().unwrap().to_owned();
    let out = integration_tests::profilectl(&env, &["user", "export", &user]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let factors = doc["mfa_factors"].as_array().unwrap();
    assert_eq!(factors.len(), 1, "{doc}");
    assert_eq!(factors[0]["id"], app.factor);
    assert_eq!(factors[0]["active"], true);
    assert_eq!(factors[0]["recovery_codes_left"], 10);
    assert!(!text.contains(&app.secret.base32()));
    let stored = env.scan_all().await;
    let item = stored
        .iter()
        .find(|i| i.get("sk").and_then(|s| s.as_s().ok()).map(String::as_str) == Some("MFA#TOTP"))
        .expect("the app's item");
    let sealed = item["secret"].as_s().unwrap();
    assert!(
        !text.contains(sealed.as_str()),
        "the sealed secret is not exported"
    );
    assert!(!sealed.contains(&app.secret.base32()));
    for digest in item["recovery"].as_m().unwrap().keys() {
        assert!(
            !text.contains(digest.as_str()),
            "a recovery digest is exported"
        );
    }
    for code in &app.recovery {
        assert!(!text.contains(code.as_str()));
    }
    let r = env
        .request("DELETE", "/users/me")
        .bearer(&strong)
        .json(json!({"password": PASSWORD}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let left = env.scan_all().await;
    assert!(
        !left.iter().any(
            |i| i.get("sk").and_then(|s| s.as_s().ok()).map(String::as_str) == Some("MFA#TOTP")
        ),
        "the app's item outlived the erasure"
    );
}
