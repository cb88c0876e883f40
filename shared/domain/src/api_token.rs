//! Server-to-server API tokens: `upt_` + 32 random bytes, base64url. Only the
//! SHA-256 of a token is stored; the plaintext exists once, in the creator's terminal.

use rand::TryRngCore;
use serde::{Deserialize, Serialize};

use crate::opaque::{Kind, OpaqueSecret};

pub const PREFIX: &str = "upt_";

pub struct ApiTokenKind;

impl Kind for ApiTokenKind {
    const PREFIX: &'static str = PREFIX;
}

/// An API token's plaintext.
pub type ApiTokenSecret = OpaqueSecret<ApiTokenKind>;

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
    "users:read",
    "users:write",
    "users:delete",
];

/// The grant that lets a user token read and change any account by id; an operator
/// gives it to an account (`profilectl admin grant`), and its logins carry it.
pub const USERS_ADMIN_SCOPE: &str = "users:admin";

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
