//! HTTP API Lambda authorizer (payload 2.0, simple responses).
//!
//! Two kinds of bearer token: user access tokens, JWTs signed with Ed25519 whose
//! signature, `exp`, `nbf`, `iat`, lifetime, type, `iss` and `aud` are checked against
//! configuration (never a network call); and opaque `upt_` API tokens, looked up by SHA-256 with one GetItem and refused
//! when revoked or expired. The context handed to the functions is the one
//! `api::identity` reads.

use api::identity::context_keys;
use aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use domain::api_token::{ApiTokenSecret, PREFIX as API_TOKEN_PREFIX};
use domain::token_keys::parse_public_keys;
use domain::{Clock, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use platform::{ConfigError, EventFunction, Platform};
use serde::{Deserialize, Serialize};
use store::ApiTokenStore;

pub use platform::TokenConfig;

/// Verifies user access tokens against a key set: each key has an id (`kid`), so keys
/// rotate without downtime (sign with the new key while the previous one still
/// verifies the tokens already out).
pub struct UserTokenVerifier {
    keys: Vec<VerifyingKey>,
    validation: Validation,
    max_lifetime_secs: i64,
}

/// Seconds of clock skew forgiven on `exp`, `nbf` and `iat`.
const LEEWAY_SECS: u64 = 30;

struct VerifyingKey {
    kid: Option<String>,
    key: DecodingKey,
}

#[derive(Debug, Deserialize)]
struct UserClaims {
    sub: String,
    iat: i64,
    exp: i64,
    #[serde(default)]
    scope: Option<String>,
    /// Cognito's type claim: `access` or `id`.
    #[serde(default)]
    token_use: Option<String>,
    /// The session the token belongs to (our login's token family).
    #[serde(default)]
    sid: Option<String>,
    /// When the session's holder last proved who they are, and how strongly (`aal1`,
    /// `aal2`): what a sensitive change asks of the token (`api::step_up`).
    #[serde(default)]
    auth_time: Option<i64>,
    #[serde(default)]
    acr: Option<String>,
}

/// Who a verified user token speaks for.
struct Verified {
    user: UserId,
    scope: String,
    session: Option<String>,
    auth_time: Option<i64>,
    acr: Option<String>,
}

/// Whether a token says it is an access token: `typ: at+jwt` (RFC 9068, what our issuer
/// writes) or Cognito's `token_use: access`. An ID token from the same issuer says neither,
/// and must not open the API.
fn is_access_token(typ: Option<&str>, token_use: Option<&str>) -> bool {
    let typ = typ.unwrap_or_default();
    typ.eq_ignore_ascii_case("at+jwt")
        || typ.eq_ignore_ascii_case("application/at+jwt")
        || token_use == Some("access")
}

/// Why a request was refused; logged, never returned to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    MissingToken,
    NotBearer,
    InvalidToken,
    UnknownApiToken,
    RevokedOrExpiredApiToken,
    /// The token names a key (`kid`) that is not configured (rotated out, or forged).
    UnknownSigningKey,
    /// The token store could not be read: fail closed.
    StoreUnavailable,
    /// Signed and current, but not an access token (an ID token, say).
    NotAnAccessToken,
    /// Issued in the future, or claiming a lifetime above the configured maximum.
    ImplausibleLifetime,
}

impl UserTokenVerifier {
    /// `config.public_keys` as `domain::token_keys` reads it; a single key may omit its
    /// kid, and then tokens without one verify against it.
    pub fn new(config: &TokenConfig) -> Result<Self, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid {
            name: "TOKEN_PUBLIC_KEYS",
            reason,
        };
        let keys = parse_public_keys(&config.public_keys)
            .map_err(invalid)?
            .into_iter()
            .map(|k| {
                let key =
                    DecodingKey::from_ed_components(&k.x).map_err(|e| invalid(e.to_string()))?;
                Ok(VerifyingKey { kid: k.kid, key })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        Ok(Self {
            keys,
            validation,
            max_lifetime_secs: config.max_lifetime_secs,
        })
    }

    /// The subject and scope of a valid access token, `now` being the Unix time.
    fn verify(&self, token: &str, now: i64) -> Result<Verified, Denial> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Denial::InvalidToken)?;
        let key = match header.kid.as_deref() {
            Some(kid) => self.keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
            None => (self.keys.len() == 1).then(|| &self.keys[0]),
        }
        .ok_or(Denial::UnknownSigningKey)?;
        let data = jsonwebtoken::decode::<UserClaims>(token, &key.key, &self.validation)
            .map_err(|_| Denial::InvalidToken)?;
        let claims = data.claims;
        if !is_access_token(header.typ.as_deref(), claims.token_use.as_deref()) {
            return Err(Denial::NotAnAccessToken);
        }
        if claims.iat > now + LEEWAY_SECS as i64
            || claims.exp.saturating_sub(claims.iat) > self.max_lifetime_secs
        {
            return Err(Denial::ImplausibleLifetime);
        }
        let user = UserId::parse(&claims.sub).map_err(|_| Denial::InvalidToken)?;
        Ok(Verified {
            user,
            scope: claims.scope.unwrap_or_default(),
            session: claims.sid.filter(|sid| domain::session::is_session_id(sid)),
            auth_time: claims.auth_time,
            acr: claims.acr.filter(|acr| {
                [domain::session::AAL1, domain::session::AAL2].contains(&acr.as_str())
            }),
        })
    }
}

/// The `context` of an allowed request: what `api::identity` reads back.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizerContext {
    pub principal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    /// The user token's session (`sid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    pub scope: String,
    /// The user token's `auth_time` and `acr`, when it has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
}

pub type AuthorizerResponse = ApiGatewayV2CustomAuthorizerSimpleResponse<AuthorizerContext>;

pub struct Authorizer {
    pub users: UserTokenVerifier,
    pub api_tokens: ApiTokenStore,
    pub clock: Clock,
}

impl Authorizer {
    pub fn new(p: &Platform) -> Result<Self, ConfigError> {
        Ok(Self {
            users: UserTokenVerifier::new(p.settings.require_token()?)?,
            api_tokens: p.store()?,
            clock: p.clock.clone(),
        })
    }
}

impl EventFunction for Authorizer {
    type Event = ApiGatewayV2CustomAuthorizerV2Request;
    type Output = AuthorizerResponse;

    async fn handle(&self, event: Self::Event) -> Self::Output {
        self.authorize(&event).await
    }
}

impl Authorizer {
    pub async fn authorize(
        &self,
        event: &ApiGatewayV2CustomAuthorizerV2Request,
    ) -> AuthorizerResponse {
        let decision = self.decide(event).await;
        let mut response = AuthorizerResponse::default();
        match decision {
            Ok(context) => {
                tracing::info!(decision = "allow", principal = %context.principal, "authorize");
                response.is_authorized = true;
                response.context = context;
            }
            Err(denial) => {
                tracing::info!(decision = "deny", reason = ?denial, "authorize");
            }
        }
        response
    }

    async fn decide(
        &self,
        event: &ApiGatewayV2CustomAuthorizerV2Request,
    ) -> Result<AuthorizerContext, Denial> {
        let header = event
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| event.identity_source.as_ref()?.first().cloned())
            .ok_or(Denial::MissingToken)?;
        let token = bearer(&header).ok_or(Denial::NotBearer)?;
        if token.starts_with(API_TOKEN_PREFIX) {
            return self.api_token(token).await;
        }
        let Verified {
            user,
            scope,
            session,
            auth_time,
            acr,
        } = self.users.verify(token, self.clock.now().timestamp())?;
        // Server scopes belong to API tokens alone: an identity provider that lets clients
        // ask for scopes must not turn a user into a partner system.
        let scope = scope
            .split_whitespace()
            .filter(|s| !domain::api_token::SCOPES.contains(s))
            .collect::<Vec<_>>()
            .join(" ");
        Ok(AuthorizerContext {
            principal: context_keys::PRINCIPAL_USER.to_owned(),
            user_id: Some(user.as_str().to_owned()),
            token_id: None,
            session_id: session,
            scope,
            auth_time,
            acr,
        })
    }
}

impl Authorizer {
    async fn api_token(&self, raw: &str) -> Result<AuthorizerContext, Denial> {
        let secret = ApiTokenSecret::parse(raw).ok_or(Denial::UnknownApiToken)?;
        let token = self
            .api_tokens
            .find(&secret)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "API token lookup failed");
                Denial::StoreUnavailable
            })?
            .ok_or(Denial::UnknownApiToken)?;
        if !token.usable_at(self.clock.now().timestamp()) {
            return Err(Denial::RevokedOrExpiredApiToken);
        }
        Ok(AuthorizerContext {
            principal: context_keys::PRINCIPAL_API_TOKEN.to_owned(),
            user_id: None,
            token_id: Some(token.token_id),
            session_id: None,
            scope: token.scopes.join(" "),
            ..AuthorizerContext::default()
        })
    }
}

/// The credential of `Bearer <credential>`; the scheme is case-insensitive (RFC 9110).
fn bearer(header: &str) -> Option<&str> {
    let (scheme, credential) = header.trim().split_once(' ')?;
    let credential = credential.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !credential.is_empty()).then_some(credential)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearer   "), None);
    }

    #[test]
    fn access_tokens_say_so() {
        assert!(is_access_token(Some("at+jwt"), None));
        assert!(is_access_token(Some("application/AT+JWT"), None));
        assert!(is_access_token(Some("JWT"), Some("access")));
        assert!(!is_access_token(Some("JWT"), Some("id")));
        assert!(!is_access_token(Some("JWT"), None));
        assert!(!is_access_token(None, None));
    }

    #[test]
    fn rejects_keys_that_are_not_ed25519_sized() {
        let config = TokenConfig {
            issuer: "i".into(),
            audience: "a".into(),
            public_keys: "c2hvcnQ".into(),
            max_lifetime_secs: 3600,
        };
        assert!(UserTokenVerifier::new(&config).is_err());
        let x = "VkEeEHdDZkcKYIsUM8w9mwL3JdhONRx7d-4JDBI4R4o";
        let config = TokenConfig {
            public_keys: format!("a={x}, b={x}"),
            ..config.clone()
        };
        assert_eq!(UserTokenVerifier::new(&config).unwrap().keys.len(), 2);
    }
}
