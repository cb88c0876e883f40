//! The authorizer against tokens a caller might forge or misuse.

use authorizer::{Authorizer, AuthorizerResponse, TokenConfig, UserTokenVerifier};
use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use base64::Engine;
use integration_tests::dev_token;
use serde_json::json;

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
async fn valid_token_passes_subject_and_scopes() {
    let token = dev_token::mint(
        "ada",
        &["profiles:read".into(), "ci:write".into()],
        60,
        now(),
    );
    let r = decide(&local_api::dev_authorizer(), &format!("Bearer {token}")).await;
    assert!(r.is_authorized);
    assert_eq!(r.context.user_id.as_deref(), Some("ada"));
    assert_eq!(r.context.scope, "profiles:read ci:write");
}

#[tokio::test]
async fn issuer_and_audience_must_match_configuration() {
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
    let authorizer = local_api::dev_authorizer();
    for header in [
        format!("Bearer {unsigned}"),
        format!("Bearer {hmac}"),
        "Bearer upt_notyetsupported".to_owned(),
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
