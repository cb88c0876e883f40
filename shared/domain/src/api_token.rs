//! Server-to-server API tokens (SPEC §2): `upt_` + 32 random bytes, base64url. Only the
//! SHA-256 of a token is stored; the plaintext exists once, in the creator's terminal.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use rand::TryRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const PREFIX: &str = "upt_";
const SECRET_BYTES: usize = 32;

/// A token's plaintext. `Debug` hides it.
pub struct ApiTokenSecret(String);

impl ApiTokenSecret {
    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRET_BYTES];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .expect("the OS random source works");
        Self(format!("{PREFIX}{}", B64.encode(bytes)))
    }

    /// Accepts only the shape this service issues.
    pub fn parse(raw: &str) -> Option<Self> {
        let body = raw.strip_prefix(PREFIX)?;
        let ok = B64.decode(body).is_ok_and(|b| b.len() == SECRET_BYTES);
        ok.then(|| Self(raw.to_owned()))
    }

    /// Lower-case hex SHA-256: the only form that is stored.
    pub fn hash(&self) -> String {
        Sha256::digest(self.0.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiTokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiTokenSecret(upt_…)")
    }
}

/// What is stored about a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// A public handle, for listing and revoking.
    pub token_id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    /// Epoch seconds; `None` never expires. Stored as `valid_until`, not under the
    /// table's TTL attribute: DynamoDB would delete an expired token, and operators list
    /// expired tokens to see what stopped working.
    #[serde(default, rename = "valid_until")]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub revoked: bool,
}

impl ApiToken {
    pub fn usable_at(&self, now: i64) -> bool {
        !self.revoked && self.expires_at.is_none_or(|t| now < t)
    }
}

/// Scopes a token may carry.
pub const SCOPES: &[&str] = &[
    "profiles:read",
    "profiles:write",
    "ci:read",
    "ci:write",
    "segments:write",
];

pub fn new_token_id() -> String {
    let mut bytes = [0u8; 8];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the OS random source works");
    format!(
        "tok_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_documented_shape_and_hash() {
        let t = ApiTokenSecret::generate();
        assert!(t.expose().starts_with("upt_"));
        assert_eq!(t.expose().len(), 4 + 43);
        assert!(ApiTokenSecret::parse(t.expose()).is_some());
        assert_eq!(t.hash().len(), 64);
        assert_ne!(t.hash(), ApiTokenSecret::generate().hash());
        assert!(!format!("{t:?}").contains(&t.expose()[4..]));
        for bad in [
            "upt_",
            "upt_short",
            "bearer",
            "upt_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        ] {
            assert!(ApiTokenSecret::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn revoked_and_expired_tokens_are_not_usable() {
        let mut t = ApiToken {
            token_id: new_token_id(),
            name: "crm".into(),
            scopes: vec!["profiles:read".into()],
            created_at: "2026-11-22T00:00:00.000Z".into(),
            expires_at: Some(100),
            revoked: false,
        };
        assert!(t.usable_at(99));
        assert!(!t.usable_at(100));
        t.expires_at = None;
        assert!(t.usable_at(i64::MAX));
        t.revoked = true;
        assert!(!t.usable_at(0));
    }
}
