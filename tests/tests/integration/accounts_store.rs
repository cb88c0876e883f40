//! The account store under concurrency, against the emulator's DynamoDB.

use domain::{Email, UserId};
use integration_tests::{TestEnv, store_account};
use store::{AccountStore, Attempt, RegisterError};

/// The password hash the stored test accounts hold.
const STUB_HASH: &str = "$argon2id$stub";

fn store(env: &TestEnv) -> AccountStore {
    AccountStore::new(env.dynamodb.clone(), &env.table)
}

#[tokio::test]
async fn twenty_registrations_of_one_email_make_one_account() {
    let env = TestEnv::new().await;
    let env_ref = &env;
    let attempts = (0..20).map(|i| {
        async move {
            // The same address, spelled with different case.
            let email = if i % 2 == 0 {
                "Ada@Example.com"
            } else {
                "ada@example.com"
            };
            let email = Email::parse(email).unwrap();
            let user = UserId::parse(&format!("user-{i}")).unwrap();
            store_account(env_ref, &user, &email, STUB_HASH, None).await
        }
    });
    let results = futures_util::future::join_all(attempts).await;
    let won: Vec<_> = results.iter().filter(|r| r.is_ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, RegisterError::EmailTaken)),
        "{results:?}"
    );
    let items = env.scan_all().await;
    assert_eq!(items.len(), 2, "one profile and one credential: {items:?}");
    let profile = won[0].as_ref().unwrap();
    assert_eq!(profile.version, 1);
    assert!(profile.email.is_some());
    let stored = store::ProfileStore::new(env.dynamodb.clone(), &env.table)
        .get(&UserId::parse(&profile.user_id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&stored, profile, "the answer is what was stored");
}

#[tokio::test]
async fn registration_is_one_transaction() {
    let env = TestEnv::new().await;
    let phone = domain::PhoneNumber::parse("+905321234567").unwrap();
    env.calls.reset();
    let profile = store_account(
        &env,
        &UserId::parse("ada").unwrap(),
        &Email::parse("ada@example.com").unwrap(),
        STUB_HASH,
        Some(&phone),
    )
    .await
    .unwrap();
    assert_eq!(env.calls.take(), ["TransactWriteItems"]);
    let stored = store::ProfileStore::new(env.dynamodb.clone(), &env.table)
        .get(&UserId::parse("ada").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, profile);
    assert_eq!(stored.phone.as_deref(), Some("+905321234567"));
    assert!(!stored.phone_verified);
}

#[tokio::test]
async fn login_attempts_are_reserved_five_per_window_even_concurrently() {
    let env = TestEnv::new().await;
    let accounts = store(&env);
    let email = Email::parse("grace@example.com").unwrap();
    let user = UserId::parse("grace").unwrap();
    let now = env.clock.now();
    let t = now.timestamp();
    assert_eq!(
        accounts.begin_login(&email, t).await.unwrap(),
        Attempt::Unknown
    );
    store_account(&env, &user, &email, STUB_HASH, None)
        .await
        .unwrap();

    env.calls.reset();
    assert!(matches!(
        accounts.begin_login(&email, t).await.unwrap(),
        Attempt::Allowed(_)
    ));
    assert_eq!(
        env.calls.take(),
        ["UpdateItem"],
        "a login outside a window reads and counts in one call"
    );
    // A successful login opens a session, which clears the window.
    login_succeeded(&env, &user, &email, t).await;

    let tries = (0..10).map(|_| accounts.begin_login(&email, t));
    let outcomes = futures_util::future::join_all(tries).await;
    let allowed = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Attempt::Allowed(c)) if c.user_id == "grace"))
        .count();
    assert_eq!(allowed, 5, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| matches!(
        o,
        Ok(Attempt::Allowed(_))
            | Ok(Attempt::Limited {
                retry_after_secs: 900
            })
    )));

    assert!(matches!(
        accounts.begin_login(&email, t + 899).await.unwrap(),
        Attempt::Limited {
            retry_after_secs: 1
        }
    ));
    assert!(matches!(
        accounts.begin_login(&email, t + 900).await.unwrap(),
        Attempt::Allowed(_)
    ));

    // A successful login opens a session, which clears the window.
    login_succeeded(&env, &user, &email, t).await;
    for _ in 0..5 {
        assert!(matches!(
            accounts.begin_login(&email, t + 901).await.unwrap(),
            Attempt::Allowed(_)
        ));
    }
    assert!(matches!(
        accounts.begin_login(&email, t + 901).await.unwrap(),
        Attempt::Limited { .. }
    ));
}

/// What a successful login writes: a session, which clears the login window with it.
async fn login_succeeded(env: &TestEnv, user: &UserId, email: &Email, now: i64) {
    let family = domain::session::new_family_id();
    let token = domain::session::RefreshTokenSecret::generate().hash();
    store::SessionStore::new(env.dynamodb.clone(), &env.table)
        .open(
            &store::NewSession {
                user,
                family: &family,
                token_hash: &token,
                scope: "",
                client: &domain::session::ClientId::default(),
                generation: 0,
                now,
            },
            email,
            STUB_HASH,
        )
        .await
        .unwrap();
}
