//! The account store under concurrency, against the emulator's DynamoDB.

use aws_sdk_dynamodb::types::AttributeValue;
use domain::login::LoginLimits;
use domain::source::RequestSource;
use domain::{Email, UserId};
use integration_tests::{TestEnv, store_account};
use store::{AccountStore, Attempt, Destination, RegisterError, Reservation};

/// The password hash the stored test accounts hold.
const STUB_HASH: &str = "$argon2id$stub";

fn store(env: &TestEnv) -> AccountStore {
    AccountStore::new(env.dynamodb.clone(), &env.table)
}

/// Twenty sign-ups of one address at once (no Argon2 between them, so they really
/// meet in the table). A sign-up that comes after another committed takes its unproven
/// claim over, so several may succeed; afterwards exactly one live account shows the
/// address, the one its credential names, and every other that succeeded is a tombstone.
#[tokio::test]
async fn twenty_registrations_of_one_email_leave_one_account_with_it() {
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
    let won: Vec<&domain::Profile> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert!(!won.is_empty(), "{results:?}");
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, RegisterError::EmailTaken)),
        "{results:?}"
    );
    let items = env.scan_all().await;
    let text = |item: &std::collections::HashMap<String, AttributeValue>, name: &str| match item
        .get(name)
    {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    };
    let credentials: Vec<String> = items
        .iter()
        .filter(|i| text(i, "sk").as_deref() == Some("CREDENTIAL"))
        .filter_map(|i| text(i, "user_id"))
        .collect();
    assert_eq!(credentials.len(), 1, "one credential: {items:?}");
    let live: Vec<String> = items
        .iter()
        .filter(|i| text(i, "sk").as_deref() == Some("PROFILE") && !i.contains_key("erasure"))
        .filter_map(|i| text(i, "user_id"))
        .collect();
    assert_eq!(live, credentials, "one live profile, the credential's");
    let tombstones = items.iter().filter(|i| i.contains_key("erasure")).count();
    assert_eq!(tombstones, won.len() - 1, "{items:?}");
    let holder = won
        .iter()
        .find(|p| p.user_id == credentials[0])
        .expect("the holder succeeded");
    assert_eq!(holder.version, 1);
    let stored = store::ProfileStore::new(env.dynamodb.clone(), &env.table)
        .get(&UserId::parse(&holder.user_id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&&stored, holder, "the answer is what was stored");
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
async fn failed_logins_are_counted_five_per_address_and_source_even_concurrently() {
    let env = TestEnv::new().await;
    let accounts = store(&env);
    let email = Email::parse("grace@example.com").unwrap();
    let user = UserId::parse("grace").unwrap();
    let limits = LoginLimits::default();
    let (here, there) = (source("203.0.113.7"), source("198.51.100.9"));
    // The start of a window, so the whole test stays inside one.
    let t = limits.window(env.clock.now().timestamp()) + limits.window_secs;
    let begin = |from: RequestSource, at: i64| {
        let (accounts, email, limits) = (&accounts, &email, &limits);
        async move {
            accounts
                .begin_login(Destination::Email(email), &from, limits, at)
                .await
        }
    };
    // An unknown address is counted as a known one is.
    for _ in 0..5 {
        assert_eq!(begin(here.clone(), t).await.unwrap(), Attempt::Unknown);
    }
    assert!(matches!(
        begin(here.clone(), t).await.unwrap(),
        Attempt::Limited {
            retry_after_secs: 900
        }
    ));
    store_account(&env, &user, &email, STUB_HASH, None)
        .await
        .unwrap();
    assert!(matches!(
        begin(here.clone(), t).await.unwrap(),
        Attempt::Limited { .. }
    ));

    // Another source is counted apart: ten at once, five taken.
    env.calls.reset();
    let tries = (0..10).map(|_| begin(there.clone(), t));
    let outcomes = futures_util::future::join_all(tries).await;
    let allowed: Vec<Reservation> = outcomes
        .iter()
        .filter_map(|o| match o {
            Ok(Attempt::Allowed(a, r)) if a.credential.user_id == "grace" => Some(r.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(allowed.len(), 5, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| matches!(
        o,
        Ok(Attempt::Allowed(..))
            | Ok(Attempt::Limited {
                retry_after_secs: 900
            })
    )));
    let mut calls = env.calls.take();
    calls.sort();
    calls.dedup();
    assert_eq!(
        calls,
        ["GetItem", "TransactWriteItems"],
        "a login counts itself in one transaction beside one read of the credential"
    );
    assert!(matches!(
        begin(there.clone(), t + 899).await.unwrap(),
        Attempt::Limited {
            retry_after_secs: 1
        }
    ));

    // A right password gives its place back and forgives the source's failures.
    login_succeeded(&env, &user, &email, t, &allowed[0]).await;
    for _ in 0..5 {
        assert!(matches!(
            begin(there.clone(), t + 899).await.unwrap(),
            Attempt::Allowed(..)
        ));
    }
    assert!(matches!(
        begin(there.clone(), t + 899).await.unwrap(),
        Attempt::Limited { .. }
    ));
    // The next window starts afresh.
    assert!(matches!(
        begin(there.clone(), t + 900).await.unwrap(),
        Attempt::Allowed(..)
    ));
}

#[tokio::test]
async fn an_address_and_a_source_each_have_a_ceiling_across_the_others() {
    let env = TestEnv::new().await;
    let accounts = store(&env);
    let limits = LoginLimits {
        per_address_per_hour: 3,
        per_source_per_hour: 4,
        ..LoginLimits::default()
    };
    let hour = 3600 * (env.clock.now().timestamp() / 3600 + 1);
    let email = Email::parse("ada@example.com").unwrap();
    for i in 0..3 {
        let from = source(&format!("203.0.113.{i}"));
        assert_eq!(
            accounts
                .begin_login(Destination::Email(&email), &from, &limits, hour)
                .await
                .unwrap(),
            Attempt::Unknown
        );
    }
    assert_eq!(
        accounts
            .begin_login(
                Destination::Email(&email),
                &source("203.0.113.99"),
                &limits,
                hour + 60
            )
            .await
            .unwrap(),
        Attempt::Limited {
            retry_after_secs: 3540
        },
        "the address's hourly ceiling, from a fresh source"
    );
    let from = source("198.51.100.1");
    for i in 0..4 {
        let other = Email::parse(&format!("user{i}@example.com")).unwrap();
        assert_eq!(
            accounts
                .begin_login(Destination::Email(&other), &from, &limits, hour)
                .await
                .unwrap(),
            Attempt::Unknown
        );
    }
    let fresh = Email::parse("fresh@example.com").unwrap();
    assert!(
        matches!(
            accounts
                .begin_login(Destination::Email(&fresh), &from, &limits, hour)
                .await
                .unwrap(),
            Attempt::Limited {
                retry_after_secs: 3600
            }
        ),
        "the source's hourly ceiling, for a fresh address"
    );
}

fn source(ip: &str) -> RequestSource {
    RequestSource::of(ip.parse().unwrap())
}

/// What a successful login writes: a session, which gives its place in the counts back.
async fn login_succeeded(
    env: &TestEnv,
    user: &UserId,
    email: &Email,
    now: i64,
    reservation: &Reservation,
) {
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
                auth: &domain::session::Authentication::password(now),
                now,
            },
            &integration_tests::password_account(user, email, STUB_HASH),
            STUB_HASH,
            None,
            reservation,
        )
        .await
        .unwrap();
}
