//! Seed 000's loyalty routes against a stand-in of Open Loyalty's member API
//! (`tools/loyalty-standin`, on loopback, one per test) reached over HTTP by the real
//! adapter: sign-up with a card, the profile with points, the card's member following
//! the profile, and what happens when the platform is down, slow or refusing.

use integration_tests::{TestEnv, fresh_phone, last_code_to, user_token_with};
use local_api::GatewayResponse;
use serde_json::{Value, json};

fn unique_email() -> String {
    format!("card-{:08x}@example.com", rand::random::<u32>())
}

fn sign_up_body(email: &str, phone: &str) -> Value {
    json!({
        "first_name": "Ada", "last_name": "Lovelace", "email": email,
        "password": "correct horse battery", "phone": phone, "date_of_birth": "1990-12-10",
        "gender": "female", "sms_allowed": true, "email_allowed": false, "call_allowed": true,
        "add_loyalty": true
    })
}

async fn post(env: &TestEnv, body: &Value) -> GatewayResponse {
    env.request("POST", "/users/register-with-loyalty/")
        .json(body.clone())
        .send()
        .await
}

/// A registered user with a card: their id and access token, and the 201's body.
async fn registered(env: &TestEnv) -> (String, String, Value) {
    let (email, phone) = (unique_email(), fresh_phone());
    let body = sign_up_body(&email, &phone);
    assert_eq!(post(env, &body).await.status, 202);
    let mut with_code = body.clone();
    with_code["code"] = json!(last_code_to(&phone));
    let r = post(env, &with_code).await;
    assert_eq!(r.status, 201, "{}", r.json());
    let created = r.json();
    (
        created["profile"]["user_id"].as_str().unwrap().to_owned(),
        created["access_token"].as_str().unwrap().to_owned(),
        created,
    )
}

fn members(env: &TestEnv) -> Vec<Value> {
    env.standin("GET", "members").as_array().unwrap().clone()
}

fn member_of(env: &TestEnv, user: &str) -> Vec<Value> {
    members(env)
        .into_iter()
        .filter(|m| m["externalId"] == user)
        .collect()
}

#[tokio::test]
async fn sign_up_with_a_card_code_then_resend_then_account_card_and_member() {
    let env = TestEnv::new().await;
    let (email, phone) = (unique_email(), fresh_phone());
    let body = sign_up_body(&email, &phone);
    let r = post(&env, &body).await;
    assert_eq!(r.status, 202, "{}", r.json());
    assert!(members(&env).is_empty(), "no member before the account");

    let mut resend = body.clone();
    resend["resend"] = json!(true);
    assert_eq!(post(&env, &resend).await.status, 429, "inside the cooldown");
    env.clock.advance(chrono::Duration::seconds(61));
    let r = post(&env, &resend).await;
    assert_eq!(r.status, 200, "resend re-sent: {}", r.json());
    assert_eq!(r.json()["expires_in"], 180);

    let mut with_code = body.clone();
    with_code["code"] = json!(last_code_to(&phone));
    let r = post(&env, &with_code).await;
    assert_eq!(r.status, 201, "{}", r.json());
    let created = r.json();
    let user = created["profile"]["user_id"].as_str().unwrap();
    let card = &created["loyalty_card"];
    assert_eq!(card["status"], "active");
    let number = card["number"].as_str().unwrap();
    assert_eq!(number.len(), 16);
    assert!(created["access_token"].is_string());

    let held = member_of(&env, user);
    assert_eq!(held.len(), 1, "{held:?}");
    let m = &held[0];
    assert_eq!(m["loyaltyCardNumber"], number);
    assert_eq!(
        (&m["firstName"], &m["lastName"]),
        (&json!("Ada"), &json!("Lovelace"))
    );
    assert_eq!(m["phone"], phone.as_str());
    assert_eq!(m["birthDate"], "1990-12-10");
    assert_eq!(m["email"], email.as_str());
    assert_eq!(
        (&m["agreement1"], &m["agreement2"], &m["agreement3"]),
        (&json!(false), &json!(true), &json!(true)),
        "email, SMS, call consents as the platform's agreements"
    );
}

#[tokio::test]
async fn the_profile_with_its_card_and_points_and_the_stored_card_when_the_platform_is_down() {
    let env = TestEnv::new().await;
    let (_, token, created) = registered(&env).await;
    let get = || async {
        env.request("GET", "/users/profile-with-loyalty/")
            .bearer(&token)
            .send()
            .await
    };
    let r = get().await;
    assert_eq!(r.status, 200, "{}", r.json());
    let body = r.json();
    assert_eq!(body["first_name"], "Ada");
    assert_eq!(
        body["loyalty_card"]["number"],
        created["loyalty_card"]["number"]
    );
    assert_eq!(body["loyalty_card"]["points"], 0.0);
    assert_eq!(body["loyalty_card"]["tier"], "Bronze");

    for mode in ["down", "slow", "error"] {
        env.standin("POST", &format!("fault?mode={mode}"));
        let r = get().await;
        env.standin("DELETE", "fault");
        assert_eq!(r.status, 200, "{mode}: {}", r.json());
        let card = &r.json()["loyalty_card"];
        assert_eq!(card["number"], created["loyalty_card"]["number"], "{mode}");
        assert_eq!(card["status"], "active", "{mode}");
        assert_eq!(
            (&card["points"], &card["tier"]),
            (&Value::Null, &Value::Null),
            "{mode}"
        );
    }
}

#[tokio::test]
async fn platform_down_at_sign_up_gives_a_pending_card_finished_once_when_it_is_back() {
    let env = TestEnv::new().await;
    env.standin("POST", "fault?mode=down");
    let (user, token, created) = registered(&env).await;
    assert_eq!(created["loyalty_card"]["status"], "pending");
    assert!(members(&env).is_empty());
    let r = env
        .request("GET", "/users/profile-with-loyalty")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(r.json()["loyalty_card"]["status"], "pending", "still down");
    env.standin("DELETE", "fault");

    for _ in 0..2 {
        let r = env
            .request("GET", "/users/profile-with-loyalty")
            .bearer(&token)
            .send()
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["loyalty_card"]["status"], "active");
        assert_eq!(
            r.json()["loyalty_card"]["number"],
            created["loyalty_card"]["number"]
        );
    }
    assert_eq!(
        member_of(&env, &user).len(),
        1,
        "one member, however often asked"
    );
}

#[tokio::test]
async fn a_slow_platform_at_sign_up_still_answers_201_and_never_makes_two_members() {
    let env = TestEnv::new().await;
    env.standin("POST", "fault?mode=slow");
    let (user, token, created) = registered(&env).await;
    env.standin("DELETE", "fault");
    assert_eq!(created["loyalty_card"]["status"], "pending");
    // The slow call may still have created the member after we stopped waiting: the
    // card number finds it instead of making a second.
    let r = env
        .request("GET", "/users/profile-with-loyalty")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(r.json()["loyalty_card"]["status"], "active");
    tokio::time::sleep(std::time::Duration::from_secs(9)).await;
    assert_eq!(member_of(&env, &user).len(), 1);
}

/// A client that did not see the 201 (a timeout) sends the registration again: no second
/// account, no second member.
#[tokio::test]
async fn a_retried_registration_makes_no_second_account_or_member() {
    let env = TestEnv::new().await;
    let (email, phone) = (unique_email(), fresh_phone());
    let body = sign_up_body(&email, &phone);
    assert_eq!(post(&env, &body).await.status, 202);
    let mut with_code = body.clone();
    with_code["code"] = json!(last_code_to(&phone));
    let first = post(&env, &with_code).await;
    assert_eq!(first.status, 201);
    let user = first.json()["profile"]["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for retry in [&with_code, &body] {
        let r = post(&env, retry).await;
        assert_ne!(r.status, 201, "{}", r.json());
        assert!(r.status.is_client_error(), "{}", r.json());
    }
    assert_eq!(members(&env).len(), 1);
    assert_eq!(member_of(&env, &user).len(), 1);
    let cards = env
        .scan_all()
        .await
        .into_iter()
        .filter(|i| i["sk"].as_s().is_ok_and(|sk| sk == "LOYALTY"))
        .count();
    assert_eq!(cards, 1);
}

#[tokio::test]
async fn the_card_follows_a_profile_patch_and_date_of_birth_is_required() {
    let env = TestEnv::new().await;
    let (user, token, _) = registered(&env).await;
    let patch = |body: Value| {
        let (env, token) = (&env, &token);
        async move {
            env.request("PATCH", "/users/profile-with-loyalty/")
                .bearer(token)
                .json(body)
                .send()
                .await
        }
    };
    let r = patch(json!({"first_name": "Augusta"})).await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["errors"].to_string().contains("date_of_birth"),
        "{}",
        r.json()
    );
    // Every refused field in one answer, nothing stored.
    let r = patch(json!({"first_name": 5, "add_loyalty": "yes"})).await;
    assert_eq!(r.status, 400);
    let errors = &r.json()["errors"];
    for field in ["first_name", "add_loyalty", "date_of_birth"] {
        assert!(errors.get(field).is_some(), "{field} in {errors}");
    }
    assert_eq!(member_of(&env, &user)[0]["firstName"], "Ada");

    let r = patch(json!({"first_name": "Augusta", "date_of_birth": "1990-12-10"})).await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["first_name"], "Augusta");
    assert_eq!(member_of(&env, &user)[0]["firstName"], "Augusta");

    // A new number goes through the code first; the member learns it once verified.
    let new_phone = fresh_phone();
    let r = patch(json!({"phone": new_phone, "date_of_birth": "1990-12-10"})).await;
    assert_eq!(r.status, 202, "{}", r.json());
    assert_ne!(member_of(&env, &user)[0]["phone"], new_phone.as_str());
    let r = patch(json!({"phone": new_phone, "code": last_code_to(&new_phone),
                         "date_of_birth": "1990-12-10"}))
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(member_of(&env, &user)[0]["phone"], new_phone.as_str());
}

/// A platform that answers with a redirect to another host: the adapter does not follow
/// it, so the API key in `X-AUTH-TOKEN` never reaches the other host.
#[tokio::test]
async fn the_adapter_follows_no_redirect_and_sends_its_key_nowhere_else() {
    use domain::loyalty::LoyaltyCardService;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let env = TestEnv::new().await;
    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = format!("http://{}/stolen", elsewhere.local_addr().unwrap());
    let platform = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", platform.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = platform.accept().await {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let answer = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: {target}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    let reached = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = reached.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = elsewhere.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
                .await;
        }
    });
    let configured = env
        .platform
        .settings
        .loyalty
        .clone()
        .expect("the stand-in is configured");
    let adapter = adapters::loyalty::OpenLoyalty::new(
        adapters::loyalty::OpenLoyaltyConfig {
            base_url,
            store_code: configured.store_code.clone(),
            connect_timeout: std::time::Duration::from_secs(1),
            timeout: std::time::Duration::from_secs(2),
        },
        adapters::secrets::LazySecret::new(
            env.platform.secrets(),
            &configured.api_key_secret,
            adapters::loyalty::parse_api_key,
        ),
    );
    let outcome = adapter.anonymize_member("member-1").await;
    assert!(
        matches!(
            outcome,
            Err(domain::loyalty::LoyaltyFailure::Unavailable(_))
        ),
        "a redirect is no answer: {outcome:?}"
    );
    assert_eq!(
        reached.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the redirect was followed, the API key with it"
    );
}

/// The port's erasure call: the member keeps its card, loses the rest.
#[tokio::test]
async fn the_adapter_anonymizes_a_member() {
    use domain::loyalty::LoyaltyCardService;
    let env = TestEnv::new().await;
    let (user, _, _) = registered(&env).await;
    let member = member_of(&env, &user)[0]["customerId"]
        .as_str()
        .unwrap()
        .to_owned();
    env.platform
        .loyalty()
        .unwrap()
        .anonymize_member(&member)
        .await
        .unwrap();
    let held: Vec<Value> = members(&env)
        .into_iter()
        .filter(|m| m["customerId"] == member.as_str())
        .collect();
    assert_eq!(held[0]["anonymized"], true);
    assert_eq!(held[0]["firstName"], Value::Null);
    assert_eq!(held[0]["phone"], Value::Null);
    assert_eq!(held[0]["externalId"], Value::Null);
}

#[tokio::test]
async fn without_a_card_the_loyalty_routes_say_so_and_add_loyalty_links_one() {
    let env = TestEnv::new().await;
    let token = user_token_with("no-card", &[]);
    env.request("PATCH", "/users/profile")
        .bearer(&token)
        .json(json!({"first_name": "Bo"}))
        .send()
        .await;
    let r = env
        .request("GET", "/users/profile-with-loyalty/")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], "loyalty_card_not_found");
    let body = json!({"last_name": "Diddley", "date_of_birth": "1980-01-01"});
    let r = env
        .request("PATCH", "/users/profile-with-loyalty/")
        .bearer(&token)
        .json(body.clone())
        .send()
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], "loyalty_card_not_found");

    let mut linking = body.clone();
    linking["add_loyalty"] = json!(true);
    let r = env
        .request("PATCH", "/users/profile-with-loyalty/")
        .bearer(&token)
        .json(linking)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["loyalty_card"]["status"], "active");
    assert_eq!(r.json()["last_name"], "Diddley");
    let held = member_of(&env, "no-card");
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["lastName"], "Diddley");
}

#[tokio::test]
async fn with_no_platform_configured_the_loyalty_routes_answer_501_and_create_nothing() {
    let env = TestEnv::builder().without_loyalty().build().await;
    let (email, phone) = (unique_email(), fresh_phone());
    let r = post(&env, &sign_up_body(&email, &phone)).await;
    assert_eq!(r.status, 501);
    assert_eq!(r.json()["code"], "loyalty_not_configured");
    let token = user_token_with("ada", &[]);
    for (method, body) in [
        ("GET", None),
        ("PATCH", Some(json!({"date_of_birth": "1990-01-01"}))),
    ] {
        let mut request = env
            .request(method, "/users/profile-with-loyalty/")
            .bearer(&token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let r = request.send().await;
        assert_eq!(r.status, 501, "{method}");
        assert_eq!(r.json()["code"], "loyalty_not_configured");
    }
    assert!(
        env.scan_all()
            .await
            .iter()
            .all(|i| !i["pk"].as_s().unwrap().starts_with("USER#")),
        "nothing stored for anyone"
    );
}

mod sync {
    //! The loyalty sync behind the template's rule: writes through the routes, the
    //! table's stream through the events function to the bus, the rule's pattern, and
    //! the sync function pushing to the stand-in platform.

    use super::*;
    use integration_tests::change_feed::{LoyaltyPipeline as Pipeline, Sync};
    use loyalty_sync::Synced;
    use platform::EventFunction;

    async fn patch_profile(env: &TestEnv, token: &str, body: Value) {
        let r = env
            .request("PATCH", "/users/profile")
            .bearer(token)
            .json(body)
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.json());
    }

    #[tokio::test]
    async fn a_card_pending_since_sign_up_is_created_by_the_sync_once() {
        let env = TestEnv::new().await;
        let mut pipeline = Pipeline::new(&env).await;
        env.standin("POST", "fault?mode=down");
        let (user, _, created) = registered(&env).await;
        assert_eq!(created["loyalty_card"]["status"], "pending");

        // Still down: the events are retried by Lambda.
        let outcomes = pipeline.run().await;
        assert!(!outcomes.is_empty());
        assert!(
            outcomes
                .iter()
                .all(|(_, o, _)| matches!(o, Synced::Retry { .. })),
            "{outcomes:?}"
        );
        assert!(
            Sync::failure(&outcomes[0].1).is_some(),
            "the invocation fails"
        );
        env.standin("DELETE", "fault");

        // Lambda's retries come: the first creates the member, the rest find it done.
        let mut results: Vec<Synced> = Vec::new();
        for (_, _, event) in &outcomes {
            results.push(pipeline.sync.handle(event.clone()).await);
        }
        assert_eq!(results[0], Synced::Created, "{results:?}");
        assert!(
            results[1..].iter().all(|o| matches!(o, Synced::Skipped(_))),
            "{results:?}"
        );
        assert_eq!(member_of(&env, &user).len(), 1);
        assert_eq!(member_of(&env, &user)[0]["firstName"], "Ada");
    }

    /// The account is erased while a call for its pending card is on its way: the
    /// platform creates the member, the card is gone, and the member is anonymized at
    /// once, since no tombstone will ever name it.
    #[tokio::test]
    async fn a_member_created_for_an_account_being_erased_is_anonymized() {
        let env = TestEnv::new().await;
        env.standin("POST", "fault?mode=down");
        let (user, _, created) = registered(&env).await;
        assert_eq!(created["loyalty_card"]["status"], "pending");
        env.standin("DELETE", "fault");
        // What the late call read before the erasure.
        let cards = env.platform.store::<store::LoyaltyStore>().unwrap();
        let uid = domain::UserId::parse(&user).unwrap();
        let (profile, card) = cards.profile_with_card(&uid).await.unwrap();
        let (profile, mut card) = (profile.unwrap(), card.unwrap());

        let partner = integration_tests::api_token(&env, &["users:delete"]).await;
        let r = env
            .request("POST", "/api/v1/users/delete")
            .bearer(&partner)
            .json(json!({"user_ids": [user]}))
            .send()
            .await;
        assert_eq!(
            r.json()["result_data"]["successful_user_ids"],
            json!([user])
        );
        assert!(members(&env).is_empty(), "no member yet");

        let platform = env.platform.loyalty().unwrap();
        let activated = usecases::loyalty::activate(&platform, &cards, &profile, &mut card)
            .await
            .unwrap();
        assert_eq!(activated, usecases::loyalty::Activated::Anonymized);
        let members = members(&env);
        assert_eq!(members.len(), 1, "{members:?}");
        assert_eq!(members[0]["anonymized"], true);
        assert!(members[0]["firstName"].is_null() && members[0]["externalId"].is_null());
        assert_eq!(card.status.as_str(), "pending", "the card was not recorded");
    }

    #[tokio::test]
    async fn profile_changes_reach_the_member_and_stale_events_are_skipped() {
        let env = TestEnv::new().await;
        let mut pipeline = Pipeline::new(&env).await;
        let (user, token, _) = registered(&env).await;
        pipeline.run().await;
        patch_profile(&env, &token, json!({"first_name": "Augusta"})).await;
        patch_profile(&env, &token, json!({"last_name": "King"})).await;
        let outcomes = pipeline.run().await;
        let kinds: Vec<&Synced> = outcomes.iter().map(|(_, o, _)| o).collect();
        assert!(
            kinds.iter().any(|o| matches!(o, Synced::Pushed { .. })),
            "{outcomes:?}"
        );
        let m = &member_of(&env, &user)[0];
        assert_eq!(
            (&m["firstName"], &m["lastName"]),
            (&json!("Augusta"), &json!("King"))
        );
        // The same events again (a redelivery): nothing pushed twice.
        for (_, _, event) in &outcomes {
            assert!(matches!(
                pipeline.sync.handle(event.clone()).await,
                Synced::Skipped(_)
            ));
        }

        // A consent change moves the platform's agreement flag.
        let r = env
            .request("PATCH", "/users/profile")
            .bearer(&token)
            .json(json!({"email_allowed": true}))
            .send()
            .await;
        assert_eq!(r.status, 200);
        let outcomes = pipeline.run().await;
        assert!(
            outcomes
                .iter()
                .any(|(_, o, _)| matches!(o, Synced::Pushed { .. })),
            "{outcomes:?}"
        );
        assert_eq!(member_of(&env, &user)[0]["agreement1"], true);
    }

    #[tokio::test]
    async fn a_refused_update_is_set_aside_with_its_reason_and_later_ones_flow() {
        let env = TestEnv::new().await;
        let mut pipeline = Pipeline::new(&env).await;
        let (user, token, _) = registered(&env).await;
        pipeline.run().await;

        env.standin("POST", &format!("fault?mode=reject&member={user}"));
        patch_profile(&env, &token, json!({"first_name": "Refused"})).await;
        let outcomes = pipeline.run().await;
        env.standin("DELETE", "fault");
        assert!(
            outcomes
                .iter()
                .any(|(_, o, _)| matches!(o, Synced::SetAside { .. })),
            "{outcomes:?}"
        );
        assert!(
            outcomes.iter().all(|(_, o, _)| Sync::failure(o).is_none()),
            "never retried"
        );
        let dead = pipeline.dead_letters().await;
        assert_eq!(dead.len(), 1, "{dead:?}");
        let (body, attributes) = &dead[0];
        assert_eq!(attributes["user_id"], user.as_str());
        assert!(attributes["reason"].contains("firstName"), "{attributes:?}");
        assert_eq!(body["detail"]["user_id"], user.as_str());
        assert_ne!(member_of(&env, &user)[0]["firstName"], "Refused");

        patch_profile(&env, &token, json!({"first_name": "Accepted"})).await;
        let outcomes = pipeline.run().await;
        assert!(
            outcomes
                .iter()
                .any(|(_, o, _)| matches!(o, Synced::Pushed { .. })),
            "{outcomes:?}"
        );
        assert_eq!(member_of(&env, &user)[0]["firstName"], "Accepted");
    }

    #[tokio::test]
    async fn users_without_a_card_are_skipped_and_the_rule_ignores_other_events() {
        let env = TestEnv::new().await;
        let mut pipeline = Pipeline::new(&env).await;
        let token = user_token_with("plain", &[]);
        patch_profile(&env, &token, json!({"first_name": "Plain"})).await;
        let outcomes = pipeline.run().await;
        assert_eq!(outcomes.len(), 1, "{outcomes:?}");
        assert_eq!(outcomes[0].0, "profile.created");
        assert_eq!(outcomes[0].1, Synced::Skipped("no loyalty card"));
        assert!(members(&env).is_empty());
    }
}
