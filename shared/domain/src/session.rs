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
