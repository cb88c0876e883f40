//! The authorizer against tokens a caller might forge or misuse.

use authorizer::{Authorizer, AuthorizerResponse, TokenConfig, UserTokenVerifier};
use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use base64::Engine;
use domain::api_token::{ApiToken, ApiTokenSecret, new_token_id};
use integration_tests::{TestEnv, dev_token};
use serde_json::json;
use store::ApiTokenStore;

fn event(authorization: &str) -> ApiGatewayV2CustomAuthorizerV2Request {
    serde_json::from_value(json!({
        "version": "2.0", "type": "REQUEST", "routeKey": "GET /users/profile",
        "rawPath": "/users/profile", "identitySource": [authorization],
        "headers": {"authorization": authorization},
        "requestContext": {"http": {"method": "GET", "path": "/users/profile"}, "routeKey": "GET /users/profile"}
    }))
    .unwrap()
}

async fn decide(authorizer: &Authorizer, authorization: &str) -> AuthorizerResponse {
    authorizer.authorize(&event(authorization)).await
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn valid_token_passes_subject_and_scopes_but_never_server_scopes() {
    let env = TestEnv::new().await;
    let token = dev_token::mint(
        "ada",
        &[
            "profiles:read".into(),
            "users:admin".into(),
            "ci:write".into(),
            "segments:write".into(),
        ],
        60,
        now(),
    );
    let r = decide(
        &authorizer::Authorizer::new(&env.platform).unwrap(),
        &format!("Bearer {token}"),
    )
    .await;
    assert!(r.is_authorized);
    assert_eq!(r.context.user_id.as_deref(), Some("ada"));
    assert_eq!(
        r.context.scope, "users:admin",
        "server scopes belong to API tokens alone"
    );
}

#[tokio::test]
async fn issuer_and_audience_must_match_configuration() {
    let env = TestEnv::new().await;
    let token = dev_token::mint("ada", &[], 60, now());
    let dev = dev_token::dev_token_config();
    for config in [
        TokenConfig {
            issuer: "https://other-issuer".into(),
            ..dev.clone()
        },
        TokenConfig {
            audience: "other-api".into(),
            ..dev.clone()
        },
    ] {
        let authorizer = Authorizer {
            users: UserTokenVerifier::new(&config).unwrap(),
            ..authorizer::Authorizer::new(&env.platform).unwrap()
        };
        assert!(
            !decide(&authorizer, &format!("Bearer {token}"))
                .await
                .is_authorized
        );
    }
}

#[tokio::test]
async fn forged_algorithms_and_other_credentials_are_denied() {
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let claims = b64(
        json!({"iss": dev_token::DEV_ISSUER, "aud": dev_token::DEV_AUDIENCE, "sub": "ada", "exp": now() + 60}),
    );
    let unsigned = format!("{}.{claims}.", b64(json!({"alg": "none", "typ": "JWT"})));
    let hmac = format!(
        "{}.{claims}.c2lnbmF0dXJl",
        b64(json!({"alg": "HS256", "typ": "JWT"}))
    );
    let env = TestEnv::new().await;
    let authorizer = authorizer::Authorizer::new(&env.platform).unwrap();
    for header in [
        format!("Bearer {unsigned}"),
        format!("Bearer {hmac}"),
        "Bearer upt_notissuedbythisservice".to_owned(),
        "Bearer not-a-jwt".to_owned(),
        "Bearer ".to_owned(),
        format!("Token {}", dev_token::mint("ada", &[], 60, now())),
    ] {
        assert!(
            !decide(&authorizer, &header).await.is_authorized,
            "{header}"
        );
    }
}

#[tokio::test]
async fn api_tokens_are_looked_up_by_hash_and_refused_once_revoked_or_expired() {
    let env = TestEnv::new().await;
    let store = ApiTokenStore::new(env.dynamodb.clone(), &env.table);
    let authorizer = authorizer::Authorizer::new(&env.platform).unwrap();
    let record = |expires_at| ApiToken {
        token_id: new_token_id(),
        name: "crm".into(),
        scopes: vec!["profiles:read".into(), "profiles:write".into()],
        created_at: "2026-11-22T00:00:00.000Z".into(),
        expires_at,
        revoked: false,
    };
    let live = ApiTokenSecret::generate();
    let live_record = record(Some(now() + 3600));
    store.create(&live, &live_record).await.unwrap();
    env.calls.reset();
    let r = decide(&authorizer, &format!("Bearer {}", live.expose())).await;
    assert!(r.is_authorized);
    assert_eq!(r.context.principal, "api_token");
    assert_eq!(
        r.context.token_id.as_deref(),
        Some(live_record.token_id.as_str())
    );
    assert_eq!(r.context.scope, "profiles:read profiles:write");
    assert_eq!(env.calls.take(), ["GetItem"], "one lookup");

    let stored = env.scan_all().await;
    let text = format!("{stored:?}");
    assert!(
        !text.contains(&live.expose()[4..]),
        "the plaintext token is never stored"
    );

    let unknown = ApiTokenSecret::generate();
    assert!(
        !decide(&authorizer, &format!("Bearer {}", unknown.expose()))
            .await
            .is_authorized
    );

    let expired = ApiTokenSecret::generate();
    store
        .create(&expired, &record(Some(now() - 1)))
        .await
        .unwrap();
    assert!(
        !decide(&authorizer, &format!("Bearer {}", expired.expose()))
            .await
            .is_authorized
    );

    assert!(store.revoke(&live_record.token_id).await.unwrap());
    assert!(
        !decide(&authorizer, &format!("Bearer {}", live.expose()))
            .await
            .is_authorized
    );
    assert!(!store.revoke("tok_unknown").await.unwrap());
}

/// An API token's expiry is not the table's TTL attribute: DynamoDB would delete the
/// record, and `profilectl token list` would lose the expired token.
#[tokio::test]
async fn expired_api_tokens_stay_listable_and_are_refused() {
    let env = TestEnv::new().await;
    let secret = ApiTokenSecret::generate();
    let record = ApiToken {
        token_id: new_token_id(),
        name: "expired".into(),
        scopes: vec!["profiles:read".into()],
        created_at: "2026-11-22T00:00:00.000Z".into(),
        expires_at: Some(now() - 10),
        revoked: false,
    };
    let store = ApiTokenStore::new(env.dynamodb.clone(), &env.table);
    store.create(&secret, &record).await.unwrap();
    let items = env.scan_all().await;
    let item = items
        .iter()
        .find(|i| i.contains_key("token_id"))
        .expect("the token record");
    assert!(
        !item.contains_key(store::keys::TTL_ATTRIBUTE),
        "the token carries the TTL attribute: {item:?}"
    );
    let listed = store.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].1, record);
    assert!(!listed[0].1.usable_at(now()));
    let authorizer = authorizer::Authorizer::new(&env.platform).unwrap();
    assert!(
        !decide(&authorizer, &format!("Bearer {}", secret.expose()))
            .await
            .is_authorized
    );
}

/// Keys rotate by id: a token verifies against the key its `kid` names while that key is
/// configured, and fails once it is rotated out.
#[tokio::test]
async fn tokens_verify_by_key_id_while_their_key_is_configured() {
    let env = TestEnv::new().await;
    let keys = integration_tests::workspace_root().join("tests/keys");
    let new_pem = std::fs::read_to_string(keys.join("rotation-test.pem")).unwrap();
    let new_x = std::fs::read_to_string(keys.join("rotation-test.pub.b64url")).unwrap();
    let old_token = dev_token::mint("ada", &[], 60, now());
    let new_token = dev_token::mint_signed(&new_pem, "new", "ada", &[], 60, now());
    let forged = dev_token::mint_signed(&new_pem, dev_token::DEV_KID, "ada", &[], 60, now());
    let with_keys = |public_keys: String| Authorizer {
        users: UserTokenVerifier::new(&TokenConfig {
            public_keys,
            ..dev_token::dev_token_config()
        })
        .unwrap(),
        ..Authorizer::new(&env.platform).unwrap()
    };

    let both = with_keys(format!(
        "new={},{}",
        new_x.trim(),
        dev_token::dev_public_keys()
    ));
    for token in [&old_token, &new_token] {
        assert!(
            decide(&both, &format!("Bearer {token}"))
                .await
                .is_authorized
        );
    }
    assert!(
        !decide(&both, &format!("Bearer {forged}"))
            .await
            .is_authorized,
        "a kid names the key that must have signed"
    );

    let rotated = with_keys(format!("new={}", new_x.trim()));
    assert!(
        decide(&rotated, &format!("Bearer {new_token}"))
            .await
            .is_authorized
    );
    assert!(
        !decide(&rotated, &format!("Bearer {old_token}"))
            .await
            .is_authorized,
        "the rotated-out key no longer verifies"
    );
}

/// The service signs access tokens with the key in its signing secret; the authorizer
/// accepts them with the matching public key.
#[tokio::test]
async fn issued_access_tokens_pass_the_authorizer() {
    use domain::ports::AccessTokens;
    let env = TestEnv::new().await;
    let issuer = env.platform.access_token_issuer().unwrap();
    let user = domain::UserId::parse("ada").unwrap();
    let client = domain::session::ClientId::parse("ios-app").unwrap();
    let sid = domain::session::new_family_id();
    let grant = domain::session::Grant {
        user: &user,
        scope: "users:admin",
        client: &client,
        session: &sid,
        auth: &domain::session::Authentication::password_and_code(now()),
    };
    let issued = issuer.issue(&grant, now()).await.unwrap();
    assert_eq!(issued.expires_in, 900);
    let r = decide(
        &Authorizer::new(&env.platform).unwrap(),
        &format!("Bearer {}", issued.token),
    )
    .await;
    assert!(r.is_authorized);
    assert_eq!(r.context.user_id.as_deref(), Some("ada"));
    assert_eq!(r.context.scope, "users:admin");
    assert_eq!(
        r.context.session_id.as_deref(),
        Some(sid.as_str()),
        "the session rides along as `sid`"
    );

    let header = jsonwebtoken::decode_header(&issued.token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(dev_token::DEV_KID));
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(issued.token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert_eq!(claims["jti"].as_str().unwrap().len(), 32);
}

/// What a well-signed token from the right issuer may still not claim: to be valid only
/// later (`nbf`), to be issued in the future, to live longer than configured, or to be an
/// ID token rather than an access token.
#[tokio::test]
async fn signed_tokens_must_be_current_access_tokens_of_a_bounded_lifetime() {
    let env = TestEnv::new().await;
    let authorizer = Authorizer {
        users: UserTokenVerifier::new(&TokenConfig {
            max_lifetime_secs: 3600,
            ..dev_token::dev_token_config()
        })
        .unwrap(),
        ..Authorizer::new(&env.platform).unwrap()
    };
    let t = now();
    let claims = |extra: serde_json::Value| {
        let mut c = json!({
            "iss": dev_token::DEV_ISSUER, "aud": dev_token::DEV_AUDIENCE, "sub": "ada",
            "iat": t, "exp": t + 900,
        });
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };
    let allowed = |typ: Option<&str>, extra: serde_json::Value| {
        let token = dev_token::sign_claims(typ, &claims(extra));
        let authorizer = &authorizer;
        async move {
            decide(authorizer, &format!("Bearer {token}"))
                .await
                .is_authorized
        }
    };
    assert!(
        allowed(Some("at+jwt"), json!({})).await,
        "the baseline passes"
    );
    assert!(
        allowed(Some("JWT"), json!({"token_use": "access"})).await,
        "Cognito access token"
    );
    assert!(allowed(Some("at+jwt"), json!({"nbf": t - 10})).await);
    for (case, typ, extra) in [
        ("ID token", Some("JWT"), json!({})),
        ("Cognito ID token", Some("JWT"), json!({"token_use": "id"})),
        ("no typ", None, json!({})),
        ("not yet valid", Some("at+jwt"), json!({"nbf": t + 600})),
        (
            "issued in the future",
            Some("at+jwt"),
            json!({"iat": t + 600, "exp": t + 900}),
        ),
        ("lives two hours", Some("at+jwt"), json!({"exp": t + 7200})),
        ("no iat", Some("at+jwt"), json!({"iat": null})),
    ] {
        assert!(!allowed(typ, extra).await, "{case} must be refused");
    }
}
