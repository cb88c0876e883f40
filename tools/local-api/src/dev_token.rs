//! Development user tokens. The key pair in `dev-keys/` is public, committed, and for
//! local use only: template.yaml has no default that matches it, so a deployment
//! cannot accept these tokens unless someone passes this public key on purpose.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

pub const DEV_ISSUER: &str = "https://dev.user-profile.local";
pub const DEV_AUDIENCE: &str = "user-profile-api";
pub const DEV_PUBLIC_KEY: &str = include_str!("../dev-keys/dev-user-token.pub.b64url");
const DEV_PRIVATE_KEY_PEM: &str = include_str!("../dev-keys/dev-user-token.pem");

pub fn dev_token_config() -> platform::TokenConfig {
    platform::TokenConfig {
        issuer: DEV_ISSUER.to_owned(),
        audience: DEV_AUDIENCE.to_owned(),
        public_key: DEV_PUBLIC_KEY.trim().to_owned(),
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    iat: i64,
    exp: i64,
    #[serde(skip_serializing_if = "str::is_empty")]
    scope: &'a str,
}

/// A dev token for `sub` with space-separated `scopes`, valid from `now` for `ttl_secs`
/// (a negative ttl mints an expired token, for tests).
pub fn mint(sub: &str, scopes: &[String], ttl_secs: i64, now: i64) -> String {
    let scope = scopes.join(" ");
    let claims = Claims {
        iss: DEV_ISSUER,
        aud: DEV_AUDIENCE,
        sub,
        iat: now,
        exp: now + ttl_secs,
        scope: &scope,
    };
    let key = EncodingKey::from_ed_pem(DEV_PRIVATE_KEY_PEM.as_bytes())
        .expect("the committed dev key is valid");
    jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &key).expect("claims serialize")
}
