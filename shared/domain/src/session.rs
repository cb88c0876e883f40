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

/// The refresh token that follows `presented` in its family: keyed by it, so every
/// presentation of one token (a retry of a lost answer, two refreshes at once) is handed
/// the same successor, and nobody without the key can compute it.
pub fn successor(key: &crate::otp::OtpKey, presented: &RefreshTokenSecret) -> RefreshTokenSecret {
    RefreshTokenSecret::from_bytes(key.successor_bytes(presented.expose()))
}

/// What an access token grants: the user, the scopes the login granted, the app it is
/// for, the session it belongs to (its `sid` claim; empty for tokens of no session) and
/// how and when the session's holder proved who they are.
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    pub user: &'a crate::UserId,
    pub scope: &'a str,
    pub client: &'a ClientId,
    pub session: &'a str,
    pub auth: &'a Authentication,
}

/// How a session began: when (`auth_time`) and by what methods (`amr`, RFC 8176's
/// values). Every access token of the session carries both, a refresh included, and the
/// assurance level they come to (`acr`, NIST SP 800-63B's `aal1` or `aal2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    pub time: i64,
    methods: Vec<&'static str>,
}

/// RFC 8176's methods this service uses: a password, a one-time code (an app's or a
/// recovery code), a passkey bound to hardware or software, and user verification.
const METHODS: [&str; 5] = ["pwd", "otp", "hwk", "swk", "user"];

impl Authentication {
    /// A password (or, at sign-up, setting one).
    pub fn password(time: i64) -> Self {
        Self {
            time,
            methods: vec!["pwd"],
        }
    }

    /// A password, then a code of the second factor.
    pub fn password_and_code(time: i64) -> Self {
        Self {
            time,
            methods: vec!["pwd", "otp"],
        }
    }

    /// As stored: space-separated methods; unknown words are dropped. A session stored
    /// before sessions recorded it counts as a password login at time 0, old enough for
    /// any step-up to ask again.
    pub fn stored(time: Option<i64>, methods: Option<&str>) -> Self {
        let methods: Vec<&'static str> = methods
            .unwrap_or("pwd")
            .split_whitespace()
            .filter_map(|m| METHODS.iter().find(|known| **known == m).copied())
            .collect();
        Self {
            time: time.unwrap_or(0),
            methods: if methods.is_empty() {
                vec!["pwd"]
            } else {
                methods
            },
        }
    }

    pub fn methods(&self) -> &[&'static str] {
        &self.methods
    }

    /// The stored form: the methods, space-separated.
    pub fn methods_stored(&self) -> String {
        self.methods.join(" ")
    }

    /// `aal2` after two factors (a password and a code) or a passkey with user
    /// verification (something held and something known or been); `aal1` otherwise.
    pub fn acr(&self) -> &'static str {
        let has = |m: &str| self.methods.contains(&m);
        if (has("pwd") && has("otp")) || ((has("hwk") || has("swk")) && has("user")) {
            AAL2
        } else {
            AAL1
        }
    }
}

pub const AAL1: &str = "aal1";
pub const AAL2: &str = "aal2";

/// How long a refresh token (and a session without use) lives: 30 days.
pub const REFRESH_TOKEN_LIFETIME_SECS: i64 = 30 * 24 * 3600;

/// A rotated token used again within this many seconds is a retry, not a theft.
pub const REUSE_GRACE_SECS: i64 = 10;

/// What a presented refresh token may still do, from what its stored item records. The
/// store writes the outcome in one transaction conditioned on the session naming the
/// token `expected` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing<'a> {
    /// Never rotated: spendable while the session names it as its live token.
    Live,
    /// Rotated into `child` at most the grace ago: a client retrying a lost response;
    /// spendable while the session still names `child`.
    Retry { child: &'a str },
    /// Past its lifetime: refused, nothing else happens.
    Expired,
    /// Rotated longer ago than the grace: it leaked, and the family is revoked.
    Reused,
}

impl<'a> Standing<'a> {
    /// `rotated`: when the token was rotated and into which token, as its item records.
    pub fn of(
        expires_at: i64,
        rotated_at: Option<i64>,
        rotated_to: Option<&'a str>,
        now: i64,
    ) -> Self {
        if expires_at <= now {
            return Standing::Expired;
        }
        match (rotated_at, rotated_to) {
            (None, _) => Standing::Live,
            (Some(at), Some(child)) if now - at <= REUSE_GRACE_SECS => Standing::Retry { child },
            _ => Standing::Reused,
        }
    }

    /// The token the session must name for the presented one to be spent.
    pub fn expected(&self, presented: &'a str) -> Option<&'a str> {
        match self {
            Standing::Live => Some(presented),
            Standing::Retry { child } => Some(child),
            Standing::Expired | Standing::Reused => None,
        }
    }

    /// Judged on the token read again after the session named another token than
    /// expected: still never rotated and not what the session names, it is a superseded
    /// copy, reused. Rotated meanwhile (a concurrent refresh with the same token) it is a
    /// retry, judged as such.
    pub fn lost_to(&self, current: Option<&str>, presented: &str) -> bool {
        matches!(self, Standing::Live) && current != Some(presented)
    }
}

/// A session family's id: 16 random bytes, hex.
pub fn new_family_id() -> String {
    crate::opaque::random_id()
}

/// Whether `raw` has a session id's form (32 lower-case hex digits): what a route's
/// `{session_id}` and an access token's `sid` must be before they reach a key.
pub fn is_session_id(raw: &str) -> bool {
    raw.len() == 32 && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
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

#[cfg(test)]
mod tests {
    #[test]
    fn assurance_follows_the_methods() {
        assert_eq!(Authentication::password(5).acr(), AAL1);
        assert_eq!(Authentication::password_and_code(5).acr(), AAL2);
        assert_eq!(
            Authentication::stored(Some(5), Some("hwk user")).acr(),
            AAL2
        );
        assert_eq!(Authentication::stored(Some(5), Some("swk")).acr(), AAL1);
        let old = Authentication::stored(None, None);
        assert_eq!((old.time, old.methods()), (0, &["pwd"][..]));
        let odd = Authentication::stored(Some(9), Some("otp bogus pwd"));
        assert_eq!(odd.methods_stored(), "otp pwd");
        assert_eq!(odd.acr(), AAL2);
    }

    use super::*;

    const NOW: i64 = 1_000_000;
    const LATER: i64 = NOW + 3600;

    #[test]
    fn a_rotated_token_is_a_retry_within_the_grace_and_a_reuse_after() {
        assert_eq!(Standing::of(LATER, None, None, NOW), Standing::Live);
        let rotated = |ago| Standing::of(LATER, Some(NOW - ago), Some("child"), NOW);
        assert_eq!(
            rotated(REUSE_GRACE_SECS),
            Standing::Retry { child: "child" }
        );
        assert_eq!(rotated(REUSE_GRACE_SECS + 1), Standing::Reused);
        assert_eq!(Standing::of(LATER, Some(NOW), None, NOW), Standing::Reused);
        assert_eq!(Standing::of(NOW, None, None, NOW), Standing::Expired);
        assert_eq!(rotated(0).expected("presented"), Some("child"));
        assert_eq!(Standing::Live.expected("presented"), Some("presented"));
        assert_eq!(Standing::Reused.expected("presented"), None);
    }

    #[test]
    fn a_successor_is_keyed_by_the_token_it_follows() {
        let key = crate::otp::OtpKey::new(&[7; 32]).unwrap();
        let other_key = crate::otp::OtpKey::new(&[8; 32]).unwrap();
        let (t1, t2) = (
            RefreshTokenSecret::generate(),
            RefreshTokenSecret::generate(),
        );
        let next = successor(&key, &t1);
        assert_eq!(
            next.expose(),
            successor(&key, &t1).expose(),
            "the same every time"
        );
        assert!(
            RefreshTokenSecret::parse(next.expose()).is_some(),
            "a refresh token"
        );
        assert_ne!(next.expose(), successor(&key, &t2).expose());
        assert_ne!(next.expose(), successor(&other_key, &t1).expose());
        assert_ne!(next.expose(), t1.expose());
    }

    #[test]
    fn a_live_token_the_session_no_longer_names_is_a_superseded_copy() {
        assert!(Standing::Live.lost_to(Some("other"), "presented"));
        assert!(Standing::Live.lost_to(None, "presented"));
        assert!(!Standing::Live.lost_to(Some("presented"), "presented"));
        assert!(!Standing::Retry { child: "c" }.lost_to(Some("other"), "presented"));
    }
}
