//! Access tokens: Ed25519 JWTs in RFC 9068's profile (`iss`, `aud`, `sub`, `client_id`,
//! `scope`, `sid` (the session), `iat`, `exp`, `jti`, header `typ: at+jwt` and `kid`), signed with the current key of a Secrets Manager secret read on first use.
//!
//! The secret is JSON: `{"current": {"kid": "...", "private_key_pem": "<PKCS#8 PEM>"},
//! "previous": {...}}`; `profilectl key create|rotate` writes it. Only `current` signs;
//! the authorizer verifies with the public keys of both while both are configured.

use domain::ports::{AccessToken, AccessTokens, KeyUnavailable};
use domain::session::Grant;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::TryRngCore;
use serde::{Deserialize, Serialize};

use crate::aws::LazyClient;
use crate::secrets::LazySecret;

/// Fifteen minutes: short enough that a revoked refresh token stops access soon.
pub const ACCESS_TOKEN_LIFETIME_SECS: i64 = 15 * 60;

/// The JOSE `typ` of an access token (RFC 9068), which the authorizer requires so that an
/// ID token from the same issuer does not pass for one.
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

pub struct SigningKey {
    kid: String,
    key: EncodingKey,
}

#[derive(Serialize, Deserialize)]
pub struct StoredKey {
    pub kid: String,
    pub private_key_pem: String,
}

/// The secret's content.
#[derive(Serialize, Deserialize)]
pub struct StoredKeys {
    pub current: StoredKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<StoredKey>,
}

fn signing_key(secret: &[u8]) -> Result<SigningKey, String> {
    let stored: StoredKeys =
        serde_json::from_slice(secret).map_err(|e| format!("the signing key secret: {e}"))?;
    let key = EncodingKey::from_ed_pem(stored.current.private_key_pem.as_bytes())
        .map_err(|e| format!("the current signing key: {e}"))?;
    Ok(SigningKey {
        kid: stored.current.kid,
        key,
    })
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    /// The app the session was opened for (RFC 9068 requires it).
    client_id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    scope: &'a str,
    /// The session (RFC 9068 leaves it open; OpenID Connect names it `sid`).
    #[serde(skip_serializing_if = "str::is_empty")]
    sid: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
    /// When the session's holder last proved who they are (OpenID Connect Core §2).
    auth_time: i64,
    /// How (RFC 8176), and the assurance level that comes to (`aal1`, `aal2`).
    amr: &'a [&'static str],
    acr: &'static str,
}

pub struct JwtIssuer {
    issuer: String,
    audience: String,
    key: LazySecret<SigningKey>,
}

impl JwtIssuer {
    pub fn new(
        client: LazyClient<aws_sdk_secretsmanager::Client>,
        secret_id: impl Into<String>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            key: LazySecret::new(client, secret_id, signing_key),
        }
    }
}

fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the OS random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl AccessTokens for JwtIssuer {
    async fn issue(&self, grant: &Grant<'_>, now: i64) -> Result<AccessToken, KeyUnavailable> {
        let key = self.key.get().await?;
        let claims = Claims {
            iss: &self.issuer,
            aud: &self.audience,
            sub: grant.user.as_str(),
            client_id: grant.client.as_str(),
            scope: grant.scope,
            sid: grant.session,
            iat: now,
            exp: now + ACCESS_TOKEN_LIFETIME_SECS,
            jti: random_id(),
            auth_time: grant.auth.time,
            amr: grant.auth.methods(),
            acr: grant.auth.acr(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        header.kid = Some(key.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &key.key)
            .map_err(|e| KeyUnavailable(format!("signing failed: {e}")))?;
        Ok(AccessToken {
            token,
            expires_in: ACCESS_TOKEN_LIFETIME_SECS,
        })
    }
}
