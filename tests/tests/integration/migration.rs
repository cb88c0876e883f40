//! A team moves its users here with `profilectl user import`: each user with its claims
//! in one transaction, its password as the other system hashed it (Django, bcrypt,
//! Argon2: tests/fixtures/imported_hashes.json, made by those libraries), replaced by our
//! Argon2id at its first login. The same file again changes nothing.

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::{TestEnv, api_token, user_token_with, verified_account};
use serde_json::{Value, json};

fn fixture() -> (String, Vec<(String, String)>) {
    let text = std::fs::read_to_string(
        integration_tests::workspace_root().join("tests/fixtures/imported_hashes.json"),
    )
    .unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    let hashes = fixture["hashes"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(kind, hash)| (kind.clone(), hash.as_str().unwrap().to_owned()))
        .collect();
    (fixture["password"].as_str().unwrap().to_owned(), hashes)
}

fn unique(name: &str) -> String {
    format!("{name}-{:08x}@example.com", rand::random::<u32>())
}

/// Runs `profilectl user import` on `lines`; its exit status and its report.
fn import(env: &TestEnv, lines: &[String], dry_run: bool) -> (bool, String) {
    let path = std::env::temp_dir().join(format!("import-{:08x}.jsonl", rand::random::<u32>()));
    std::fs::write(&path, lines.join("\n")).unwrap();
    let mut args = vec!["user", "import", path.to_str().unwrap()];
    if dry_run {
        args.push("--dry-run");
    }
    let out = integration_tests::profilectl(env, &args);
    std::fs::remove_file(&path).unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

async fn login(env: &TestEnv, login: Value) -> (u16, Value) {
    let r = env
        .request("POST", "/auth/login")
        .from_ip(&format!("198.51.100.{}", rand::random::<u8>()))
        .json(login)
        .send()
        .await;
    (r.status.as_u16(), r.json())
}

async fn stored_hash(env: &TestEnv, pk: &str) -> String {
    env.scan_all()
        .await
        .into_iter()
        .find(|i| {
            matches!(i.get("pk"), Some(AttributeValue::S(p)) if p == pk)
                && matches!(i.get("sk"), Some(AttributeValue::S(s)) if s == "CREDENTIAL")
        })
        .and_then(|i| match i.get("password_hash") {
            Some(AttributeValue::S(h)) => Some(h.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no credential under {pk}"))
}

#[tokio::test]
async fn a_user_base_comes_over_with_its_passwords_and_a_second_run_changes_nothing() {
    let env = TestEnv::new().await;
    let (password, hashes) = fixture();
    let r = env
        .request("PUT", "/api/v1/segments/7")
        .bearer(&api_token(&env, &["segments:write"]).await)
        .json(json!({"name": "Early adopters"}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
    let taken = unique("taken");
    verified_account(&env, &taken, "securepassword123", ("Ada", "L")).await;

    let seed_user = unique("Seed-One");
    let phone_only = integration_tests::fresh_phone();
    let mut lines = vec![
        // Seed 001's user 1, as its Django service knew it.
        json!({
            "user_id": "1", "email": seed_user, "email_verified": true,
            "password_hash": hashes[0].1, "first_name": "Ada", "last_name": "Lovelace",
            "attributes": {"tier": "gold"},
            "consents": {"email": {"status": "subscribed", "updated_at": "2024-05-01T09:30:00Z"}},
            "segments": [7], "ci": {"kakao_id": "1234567890"},
            "created_at": "2019-01-02T03:04:05Z"
        })
        .to_string(),
        String::new(),
        "{not json".to_owned(),
        json!({"email": unique("md5"), "password_hash": "md5$salt$0123456789abcdef"}).to_string(),
        json!({"email": taken.to_uppercase(), "password_hash": hashes[1].1}).to_string(),
        json!({"email": seed_user.to_uppercase(), "password_hash": hashes[1].1}).to_string(),
        json!({"email": unique("nosegment"), "segments": [999]}).to_string(),
        json!({"phone": phone_only, "phone_verified": true, "password_hash": hashes[2].1})
            .to_string(),
    ];
    let mut users = vec![(json!({"email": seed_user}), seed_user.clone(), 0)];
    users.push((json!({"phone": phone_only}), String::new(), 2));
    for (place, (kind, hash)) in hashes.iter().enumerate().skip(1) {
        let email = unique(&kind.replace(|c: char| !c.is_ascii_alphanumeric(), "-"));
        lines.push(
            json!({"email": email, "email_verified": true, "password_hash": hash}).to_string(),
        );
        users.push((json!({"email": email}), email, place));
    }
    let refused = [
        "line 3: not JSON",
        "line 4: password_hash: a password hash of an unknown kind",
        "line 5: email: another account holds it",
        "line 6: email: also on line 1",
        "line 7: segments: no such segment in the catalog",
    ];
    let summary = format!(
        "imported {}, unchanged 0, refused {}",
        users.len(),
        refused.len()
    );

    let before = env.scan_all().await.len();
    let (ok, dry) = import(&env, &lines, true);
    assert!(!ok, "refused lines fail the run");
    assert_eq!(
        env.scan_all().await.len(),
        before,
        "a dry run writes nothing"
    );
    let (_, wet) = import(&env, &lines[..1], false);
    assert!(
        wet.ends_with("imported 1, unchanged 0, refused 0\n"),
        "{wet}"
    );
    // What a killed run left is finished by running the whole file again.
    let (ok, report) = import(&env, &lines, false);
    assert!(!ok);
    let last = report.lines().last().unwrap().to_owned();
    assert_eq!(
        last,
        format!(
            "imported {}, unchanged 1, refused {}",
            users.len() - 1,
            refused.len()
        )
    );
    for (report, what) in [(&dry, "the dry run"), (&report, "the run")] {
        let said: Vec<&str> = report.lines().collect();
        assert_eq!(said.len(), refused.len() + 1, "{what}: {report}");
        for (line, expected) in said.iter().zip(refused) {
            assert!(
                line.starts_with(expected),
                "{what}: {line} is not {expected}"
            );
        }
    }
    assert!(dry.ends_with(&format!("{summary}\n")), "{dry}");
    let (_, again) = import(&env, &lines, false);
    assert!(
        again.ends_with(&format!(
            "imported 0, unchanged {}, refused {}\n",
            users.len(),
            refused.len()
        )),
        "{again}"
    );

    // Every user logs in with the password the other system hashed, and from then on
    // with our hash of it.
    for (login_by, email, place) in &users {
        let kind = &hashes[*place].0;
        let pk = if email.is_empty() {
            let r = env
                .request(
                    "GET",
                    &format!(
                        "/api/v1/accounts/users?phone={}",
                        phone_only.replace('+', "%2B")
                    ),
                )
                .bearer(&user_token_with("usr_admin", &["users:admin"]))
                .send()
                .await;
            format!("USER#{}", r.json()["results"][0]["id"].as_str().unwrap())
        } else {
            format!("EMAIL#{}", email.to_lowercase())
        };
        let mut wrong = login_by.clone();
        wrong["password"] = json!("not the password 42");
        assert_eq!(login(&env, wrong).await.0, 401, "{kind}");
        assert_eq!(
            stored_hash(&env, &pk).await,
            hashes[*place].1,
            "{kind}: unchanged"
        );
        let mut right = login_by.clone();
        right["password"] = json!(password);
        let (status, body) = login(&env, right.clone()).await;
        assert_eq!(status, 200, "{kind}: {body}");
        let now = stored_hash(&env, &pk).await;
        assert!(
            now.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{kind}: {now}"
        );
        assert_eq!(
            login(&env, right).await.0,
            200,
            "{kind}: the new hash works"
        );
    }

    // Seed 001's clients find user 1 where they left it.
    for token in [
        user_token_with("1", &[]),
        user_token_with("usr_admin", &["users:admin"]),
    ] {
        let r = env
            .request("GET", "/api/v1/accounts/users/1/")
            .bearer(&token)
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.json());
        let user = r.json();
        assert_eq!(
            (
                user["id"].clone(),
                user["first_name"].clone(),
                user["created_at"].clone()
            ),
            (json!("1"), json!("Ada"), json!("2019-01-02T03:04:05.000Z"))
        );
    }
    let r = env
        .request("GET", "/users/consents/history")
        .bearer(&user_token_with("1", &[]))
        .send()
        .await;
    let entry = &r.json()["items"][0];
    assert_eq!(
        (
            entry["channel"].clone(),
            entry["source"].clone(),
            entry["at"].clone()
        ),
        (
            json!("email"),
            json!("import"),
            json!("2024-05-01T09:30:00.000Z")
        ),
        "{}",
        r.json()
    );
    let r = env
        .request("GET", "/users/segments")
        .bearer(&user_token_with("1", &[]))
        .send()
        .await;
    assert!(
        r.json().to_string().contains("Early adopters"),
        "{}",
        r.json()
    );
}

/// An import takes nothing that is someone else's: an id in use (an account's, or an
/// identity provider's user with only a segment), a number another account proved. And
/// what it brings is nobody's to take: a sign-up with an imported user's unproven email
/// does not delete that user.
#[tokio::test]
async fn an_import_takes_nothing_that_is_someone_elses() {
    let env = TestEnv::new().await;
    let r = env
        .request("PUT", "/api/v1/segments/8")
        .bearer(&api_token(&env, &["segments:write"]).await)
        .json(json!({"name": "Mine", "self_assignable": true}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
    let r = env
        .request("POST", "/users/segments/8/set")
        .user("idp-user-1")
        .send()
        .await;
    assert!(r.status.is_success(), "{}", r.json());
    let existing =
        verified_account(&env, &unique("existing"), "securepassword123", ("A", "B")).await;
    let phone = integration_tests::fresh_phone();
    integration_tests::phone_account(&env, &unique("phoned"), &phone, "securepassword123").await;
    let unproven = unique("unproven");
    let no_password = unique("no-password");
    let lines = vec![
        json!({"user_id": "idp-user-1", "email": unique("idp")}).to_string(),
        json!({"user_id": existing, "email": unique("other")}).to_string(),
        json!({"email": unique("number"), "phone": phone, "phone_verified": true}).to_string(),
        json!({"user_id": "imported-1", "email": unproven, "first_name": "Ada"}).to_string(),
        json!({"email": no_password, "email_verified": true}).to_string(),
    ];
    let (_, report) = import(&env, &lines, false);
    let said: Vec<&str> = report.lines().collect();
    assert_eq!(
        said,
        [
            "line 1: user_id: another account has it",
            "line 2: user_id: another account has it",
            "line 3: phone: another account holds it",
            "imported 2, unchanged 0, refused 3",
        ],
        "{report}"
    );
    let r = env
        .request("POST", "/api/v1/accounts/users")
        .json(json!({"email": unproven, "password": "securepassword123",
                     "confirm_password": "securepassword123"}))
        .send()
        .await;
    assert_eq!(r.status, 400, "{}", r.json());
    let r = env
        .request("GET", "/api/v1/accounts/users/imported-1")
        .bearer(&user_token_with("usr_admin", &["users:admin"]))
        .send()
        .await;
    assert_eq!(
        (r.status.as_u16(), r.json()["first_name"].clone()),
        (200, json!("Ada")),
        "the imported user stays"
    );

    // Imported without a password: nothing logs in, and the reset sets its first one.
    let (status, _) = login(&env, json!({"email": no_password, "password": "!"})).await;
    assert_eq!(status, 401);
    let r = env
        .request("POST", "/auth/password/forgot")
        .json(json!({"email": no_password}))
        .send()
        .await;
    assert_eq!(r.status, 202);
    let code = integration_tests::six_digits(
        &integration_tests::emails_to(&no_password)
            .last()
            .expect("a reset code")
            .1,
    );
    let r = env
        .request("POST", "/auth/password/reset")
        .json(json!({"email": no_password, "code": code, "new_password": "a first password 42"}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let (status, body) = login(
        &env,
        json!({"email": no_password, "password": "a first password 42"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}
