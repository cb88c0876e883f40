//! Login sessions: a family of refresh tokens, one live at a time. A refresh token is
//! opaque (`urt_` + 32 random bytes), stored only as its SHA-256, and used once: a
//! refresh rotates it. Using a rotated token again after a short grace (a client retrying
//! a lost response) means it leaked: the whole family is revoked, as Supabase Auth and
//! Auth0 do.

use crate::opaque::{Kind, OpaqueSecret};

pub struct RefreshKind;

impl Kind for RefreshKind {
    const PREFIX: &'static str = "urt_";
}

pub type RefreshTokenSecret = OpaqueSecret<RefreshKind>;

/// How long a refresh token (and a session without use) lives: 30 days.
pub const REFRESH_TOKEN_LIFETIME_SECS: i64 = 30 * 24 * 3600;

/// A rotated token used again within this many seconds is a retry, not a theft.
pub const REUSE_GRACE_SECS: i64 = 10;

/// A session family's id: 16 random bytes, hex.
pub fn new_family_id() -> String {
    crate::opaque::random_id()
}

/// The app a session was opened for, carried in every access token as RFC 9068's
/// `client_id`: one of the deployment's `TokenClientIds`. First-party apps that name
/// none get the first of them (`user-profile-app` by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientId(String);

/// The client id first-party apps get when `TokenClientIds` is left at its default.
pub const DEFAULT_CLIENT_ID: &str = "user-profile-app";

impl ClientId {
    /// 1 to 64 of `A-Z a-z 0-9 . _ -`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err("must be 1 to 64 letters, digits, '.', '_' or '-'".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ClientId {
    fn default() -> Self {
        Self(DEFAULT_CLIENT_ID.to_owned())
    }
}
