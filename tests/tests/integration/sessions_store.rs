//! Refresh-token families against the emulator's DynamoDB: rotation, the retry grace,
//! reuse detection and logout.

use domain::session::RefreshTokenSecret;
use domain::{Email, UserId};
use integration_tests::TestEnv;
use store::{Rotation, SessionStore};

/// The password hash the stored test accounts hold.
const STUB_HASH: &str = "$argon2id$stub";

/// The place a login of `email` takes in the failure counts, which opening gives back.
async fn reservation(env: &TestEnv, email: &Email) -> store::Reservation {
    let source = domain::source::RequestSource::of([203, 0, 113, 7].into());
    let attempt = store::AccountStore::new(env.dynamodb.clone(), &env.table)
        .begin_login(
            store::Destination::Email(email),
            &source,
            &Default::default(),
            env.clock.now().timestamp(),
        )
        .await
        .unwrap();
    match attempt {
        store::Attempt::Allowed(_, reservation) => reservation,
        other => panic!("the login is not counted: {other:?}"),
    }
}

struct World {
    env: TestEnv,
    sessions: SessionStore,
    user: UserId,
    now: i64,
}

fn token() -> String {
    RefreshTokenSecret::generate().hash()
}

/// A registered user with an open session whose first token is `first`.
async fn world(first: &str) -> World {
    let env = TestEnv::new().await;
    let user = UserId::parse("ada").unwrap();
    let email = Email::parse("ada@example.com").unwrap();
    integration_tests::store_account(&env, &user, &email, STUB_HASH, None)
        .await
        .unwrap();
    let sessions = SessionStore::new(env.dynamodb.clone(), &env.table);
    let now = env.clock.now().timestamp();
    let counted = reservation(&env, &email).await;
    let opened = sessions
        .open(
            &store::NewSession {
                user: &user,
                family: "fam1",
                token_hash: first,
                scope: "",
                client: &domain::session::ClientId::default(),
                generation: 0,
                auth: &domain::session::Authentication::password(now),
                now,
            },
            &integration_tests::password_account(&user, &email, STUB_HASH),
            STUB_HASH,
            None,
            &counted,
        )
        .await
        .unwrap();
    assert!(opened);
    World {
        env,
        sessions,
        user,
        now,
    }
}

#[tokio::test]
async fn a_refresh_spends_its_token_and_a_retry_within_the_grace_is_served() {
    let (t1, t2, t3) = (token(), token(), token());
    let w = world(&t1).await;
    w.env.calls.reset();
    assert_eq!(
        w.sessions.rotate(&t1, &t2, w.now).await.unwrap(),
        Rotation::Rotated {
            user: w.user.clone(),
            session: "fam1".into(),
            scope: String::new(),
            client: domain::session::ClientId::default(),
            auth: domain::session::Authentication::password(w.now),
        }
    );
    assert_eq!(
        w.env.calls.take(),
        ["GetItem", "TransactWriteItems"],
        "a refresh is one read and one write"
    );
    // The client lost the answer and retries with t1 five seconds later: served, and t3
    // supersedes the t2 it never received.
    assert!(matches!(
        w.sessions.rotate(&t1, &t3, w.now + 5).await.unwrap(),
        Rotation::Rotated { .. }
    ));
    let t4 = token();
    assert!(matches!(
        w.sessions.rotate(&t3, &t4, w.now + 6).await.unwrap(),
        Rotation::Rotated { .. }
    ));
    // Had t2 reached someone after all, using it now shows a fork: the family goes.
    let (t5, t6) = (token(), token());
    assert_eq!(
        w.sessions.rotate(&t2, &t5, w.now + 7).await.unwrap(),
        Rotation::Refused
    );
    assert_eq!(
        w.sessions.rotate(&t4, &t6, w.now + 8).await.unwrap(),
        Rotation::Refused
    );
}

#[tokio::test]
async fn reuse_after_the_grace_revokes_the_whole_family() {
    let (t1, t2, t3, t4) = (token(), token(), token(), token());
    let w = world(&t1).await;
    assert!(matches!(
        w.sessions.rotate(&t1, &t2, w.now).await.unwrap(),
        Rotation::Rotated { .. }
    ));
    assert_eq!(
        w.sessions.rotate(&t1, &t3, w.now + 11).await.unwrap(),
        Rotation::Refused,
        "a spent token used again after the grace"
    );
    assert_eq!(
        w.sessions.rotate(&t2, &t4, w.now + 12).await.unwrap(),
        Rotation::Refused,
        "the newest token of that family is refused too"
    );
}

#[tokio::test]
async fn logout_revokes_the_family_and_unknown_or_expired_tokens_are_refused() {
    let (t1, t2) = (token(), token());
    let w = world(&t1).await;
    assert!(w.sessions.revoke(&t1).await.unwrap());
    assert_eq!(
        w.sessions.rotate(&t1, &t2, w.now).await.unwrap(),
        Rotation::Refused
    );
    assert!(!w.sessions.revoke(&token()).await.unwrap());
    assert_eq!(
        w.sessions.rotate(&token(), &t2, w.now).await.unwrap(),
        Rotation::Refused
    );

    let (u1, u2) = (token(), token());
    let w = world(&u1).await;
    let thirty_days = 30 * 24 * 3600;
    assert_eq!(
        w.sessions
            .rotate(&u1, &u2, w.now + thirty_days)
            .await
            .unwrap(),
        Rotation::Refused,
        "expired"
    );
}

/// The refresh-token items of the table.
async fn token_items(w: &World) -> Vec<String> {
    w.env
        .scan_all()
        .await
        .into_iter()
        .filter_map(|i| i.get("pk").and_then(|v| v.as_s().ok()).cloned())
        .filter(|pk| pk.starts_with("REFRESH#"))
        .collect()
}

#[tokio::test]
async fn a_family_keeps_its_live_token_and_the_one_before_and_its_session_names_them() {
    let first = token();
    let w = world(&first).await;
    let mut presented = first;
    for step in 0..5 {
        let next = token();
        assert!(matches!(
            w.sessions
                .rotate(&presented, &next, w.now + step)
                .await
                .unwrap(),
            Rotation::Rotated { .. }
        ));
        presented = next;
    }
    let live = token_items(&w).await;
    assert_eq!(live.len(), 2, "the live token and the one before: {live:?}");
    // A retry within the grace replaces a child that may have leaked: it is kept (its
    // use would show a fork) and named by the session.
    let (retry, lost) = (token(), token());
    let before = presented.clone();
    assert!(matches!(
        w.sessions.rotate(&before, &lost, w.now + 10).await.unwrap(),
        Rotation::Rotated { .. }
    ));
    assert!(matches!(
        w.sessions
            .rotate(&before, &retry, w.now + 11)
            .await
            .unwrap(),
        Rotation::Rotated { .. }
    ));
    let items = w.env.scan_all().await;
    let session = items
        .iter()
        .find(|i| i.get("sk").and_then(|v| v.as_s().ok()) == Some(&"SESSION#fam1".to_owned()))
        .unwrap();
    let named: Vec<String> = ["current", "previous"]
        .iter()
        .filter_map(|a| session.get(*a).and_then(|v| v.as_s().ok()).cloned())
        .chain(
            session["superseded"]
                .as_l()
                .unwrap()
                .iter()
                .map(|v| v.as_s().unwrap().clone()),
        )
        .map(|h| format!("REFRESH#{h}"))
        .collect();
    let mut live = token_items(&w).await;
    let mut named_sorted = named.clone();
    live.sort();
    named_sorted.sort();
    assert_eq!(
        live, named_sorted,
        "every token item is named by its session"
    );
}

/// Two refreshes with one token at once (an app retrying over a flaky network): both are
/// served, and the family lives on through the token the session names.
#[tokio::test]
async fn two_refreshes_with_one_token_at_once_are_both_served_and_the_family_lives() {
    let (t1, t2, t3, t4) = (token(), token(), token(), token());
    let w = world(&t1).await;
    let (a, b) = futures_util::future::join(
        w.sessions.rotate(&t1, &t2, w.now),
        w.sessions.rotate(&t1, &t3, w.now),
    )
    .await;
    for rotation in [a.unwrap(), b.unwrap()] {
        assert!(matches!(rotation, Rotation::Rotated { .. }), "{rotation:?}");
    }
    let session = w
        .env
        .scan_all()
        .await
        .into_iter()
        .find(|i| i["sk"].as_s().is_ok_and(|sk| sk == "SESSION#fam1"))
        .expect("the session item");
    assert!(
        !matches!(
            session.get("revoked"),
            Some(aws_sdk_dynamodb::types::AttributeValue::Bool(true))
        ),
        "the family is not revoked"
    );
    let current = session["current"].as_s().unwrap().clone();
    assert!(current == t2 || current == t3);
    assert!(matches!(
        w.sessions.rotate(&current, &t4, w.now + 1).await.unwrap(),
        Rotation::Rotated { .. }
    ));
}

/// The grace runs from a token's first rotation: retrying it every few seconds does not
/// keep it usable.
#[tokio::test]
async fn retries_do_not_slide_the_grace_along() {
    let (t1, t2, t3, t4) = (token(), token(), token(), token());
    let w = world(&t1).await;
    let rotated = |r: Rotation| matches!(r, Rotation::Rotated { .. });
    assert!(rotated(w.sessions.rotate(&t1, &t2, w.now).await.unwrap()));
    assert!(
        rotated(w.sessions.rotate(&t1, &t3, w.now + 9).await.unwrap()),
        "a retry within the grace"
    );
    assert_eq!(
        w.sessions.rotate(&t1, &t4, w.now + 12).await.unwrap(),
        Rotation::Refused,
        "twelve seconds after the first rotation is past the grace"
    );
}

/// A login reads the credential, checks the password, then opens the session. Whatever
/// came between (the credential moved away by an email change or an erasure, the account
/// marked for erasure, a grant revoked) opens nothing, and no credential is written back.
#[tokio::test]
async fn a_login_whose_credential_or_account_changed_meanwhile_opens_nothing() {
    use aws_sdk_dynamodb::types::AttributeValue::S;
    let w = world(&token()).await;
    let email = Email::parse("ada@example.com").unwrap();
    let client = domain::session::ClientId::default();
    let counted = reservation(&w.env, &email).await;
    let open = |family: &'static str, scope: &'static str| {
        let hash = token();
        let (sessions, user, client, now) = (&w.sessions, &w.user, &client, w.now);
        let account = integration_tests::password_account(user, &email, STUB_HASH);
        let counted = &counted;
        async move {
            let session = store::NewSession {
                user,
                family,
                token_hash: &hash,
                scope,
                client,
                generation: 0,
                auth: &domain::session::Authentication::password(now),
                now,
            };
            sessions
                .open(&session, &account, STUB_HASH, None, counted)
                .await
                .unwrap()
        }
    };
    let set = |pk: &'static str, sk: &'static str, name: &'static str, value: &'static str| {
        w.env
            .dynamodb
            .update_item()
            .table_name(&w.env.table)
            .key("pk", S(pk.into()))
            .key("sk", S(sk.into()))
            .update_expression("SET #a = :v")
            .expression_attribute_names("#a", name)
            .expression_attribute_values(":v", S(value.into()))
            .send()
    };

    // An operator granted a scope after the login read the credential without it.
    set(
        "EMAIL#ada@example.com",
        "CREDENTIAL",
        "scope",
        "users:admin",
    )
    .await
    .unwrap();
    assert!(!open("granted", "").await, "the grants are not as read");
    assert!(open("granted-read", "users:admin").await);

    // A new password was set (a reset, a change) after the login checked the old one.
    set(
        "EMAIL#ada@example.com",
        "CREDENTIAL",
        "password_hash",
        "$argon2id$new",
    )
    .await
    .unwrap();
    assert!(
        !open("old-password", "users:admin").await,
        "the password is not the one the login checked"
    );
    set(
        "EMAIL#ada@example.com",
        "CREDENTIAL",
        "password_hash",
        STUB_HASH,
    )
    .await
    .unwrap();

    // The account is marked for erasure.
    set("USER#ada", "PROFILE", "erasure", "erasing")
        .await
        .unwrap();
    assert!(
        !open("erasing", "users:admin").await,
        "an erasure came first"
    );

    // The credential is gone (an email change moved it, an erasure deleted it).
    w.env
        .dynamodb
        .delete_item()
        .table_name(&w.env.table)
        .key("pk", S("EMAIL#ada@example.com".into()))
        .key("sk", S("CREDENTIAL".into()))
        .send()
        .await
        .unwrap();
    assert!(!open("moved", "users:admin").await);

    let items = w.env.scan_all().await;
    let sk = |i: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>| {
        i["sk"].as_s().unwrap().clone()
    };
    assert!(
        !items.iter().any(|i| sk(i) == "CREDENTIAL"),
        "no write recreates the credential"
    );
    for refused in ["granted", "erasing", "moved"] {
        assert!(
            !items.iter().any(|i| sk(i) == format!("SESSION#{refused}")),
            "no session {refused}"
        );
    }
}
