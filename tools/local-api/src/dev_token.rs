//! Development user tokens. The key pair in `dev-keys/` is public, committed, and for
//! local use only: template.yaml has no default that matches it, so a deployment
//! cannot accept these tokens unless someone passes this public key on purpose.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

pub const DEV_ISSUER: &str = "https://dev.user-profile.local";
pub const DEV_AUDIENCE: &str = "user-profile-api";
pub const DEV_PUBLIC_KEY: &str = include_str!("../dev-keys/dev-user-token.pub.b64url");
/// The dev key's id, in every dev token's header.
pub const DEV_KID: &str = "dev-1";
const DEV_PRIVATE_KEY_PEM: &str = include_str!("../dev-keys/dev-user-token.pem");

/// The signing key secret's content for the dev key (as `profilectl key create` writes one).
pub fn dev_signing_secret() -> String {
    serde_json::to_string(&adapters::access_tokens::StoredKeys {
        current: adapters::access_tokens::StoredKey {
            kid: DEV_KID.to_owned(),
            private_key_pem: DEV_PRIVATE_KEY_PEM.to_owned(),
        },
        previous: None,
    })
    .expect("keys serialize")
}

/// `TOKEN_PUBLIC_KEYS` for the dev key.
pub fn dev_public_keys() -> String {
    format!("{DEV_KID}={}", DEV_PUBLIC_KEY.trim())
}

pub fn dev_token_config() -> platform::TokenConfig {
    platform::TokenConfig {
        issuer: DEV_ISSUER.to_owned(),
        audience: DEV_AUDIENCE.to_owned(),
        public_keys: dev_public_keys(),
        max_lifetime_secs: DEV_MAX_LIFETIME_SECS,
    }
}

/// Development accepts tokens of any lifetime up to a century, so the committed
/// authorizer fixture (`events/authorizer/valid-token.allow.json`, valid until 2099) keeps
/// working; deployments refuse this key and default to one hour.
pub const DEV_MAX_LIFETIME_SECS: i64 = 100 * 365 * 24 * 3600;

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    iat: i64,
    exp: i64,
    #[serde(skip_serializing_if = "str::is_empty")]
    scope: &'a str,
    /// A dev token stands for a password login at `iat`.
    auth_time: i64,
    amr: &'a [&'a str],
    acr: &'a str,
}

/// A dev token for `sub` with space-separated `scopes`, valid from `now` for `ttl_secs`
/// (a negative ttl mints an expired token, for tests).
pub fn mint(sub: &str, scopes: &[String], ttl_secs: i64, now: i64) -> String {
    mint_signed(DEV_PRIVATE_KEY_PEM, DEV_KID, sub, scopes, ttl_secs, now)
}

/// `make dev`'s issuer: where it serves, so RFC 8414 discovery from that address finds
/// the issuer it names (`http://127.0.0.1:<port>`).
pub fn served_issuer(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// A dev token from `issuer` (`make dev`'s is `served_issuer`).
pub fn mint_from(issuer: &str, sub: &str, scopes: &[String], ttl_secs: i64, now: i64) -> String {
    sign(
        issuer,
        DEV_PRIVATE_KEY_PEM,
        DEV_KID,
        sub,
        scopes,
        ttl_secs,
        now,
    )
}

/// A token signed with another Ed25519 key (PKCS#8 PEM) under `kid`: key rotation tests.
pub fn mint_signed(
    private_key_pem: &str,
    kid: &str,
    sub: &str,
    scopes: &[String],
    ttl_secs: i64,
    now: i64,
) -> String {
    sign(DEV_ISSUER, private_key_pem, kid, sub, scopes, ttl_secs, now)
}

fn sign(
    issuer: &str,
    private_key_pem: &str,
    kid: &str,
    sub: &str,
    scopes: &[String],
    ttl_secs: i64,
    now: i64,
) -> String {
    let scope = scopes.join(" ");
    let claims = Claims {
        iss: issuer,
        aud: DEV_AUDIENCE,
        sub,
        iat: now,
        exp: now + ttl_secs,
        scope: &scope,
        auth_time: now,
        amr: &["pwd"],
        acr: domain::session::AAL1,
    };
    let key = EncodingKey::from_ed_pem(private_key_pem.as_bytes()).expect("an Ed25519 PEM key");
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some(adapters::access_tokens::ACCESS_TOKEN_TYPE.to_owned());
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, &claims, &key).expect("claims serialize")
}

/// Any claims under any `typ`, signed with the dev key: tests of what the authorizer
/// refuses in a well-signed token.
pub fn sign_claims(typ: Option<&str>, claims: &serde_json::Value) -> String {
    let key = EncodingKey::from_ed_pem(DEV_PRIVATE_KEY_PEM.as_bytes()).expect("an Ed25519 PEM key");
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = typ.map(str::to_owned);
    header.kid = Some(DEV_KID.to_owned());
    jsonwebtoken::encode(&header, claims, &key).expect("claims serialize")
}

#[cfg(test)]
mod tests {
    #[test]
    fn deployments_know_the_published_key() {
        assert_eq!(
            super::DEV_PUBLIC_KEY.trim(),
            platform::config::PUBLISHED_DEV_KEY_X
        );
    }
}
