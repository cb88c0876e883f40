//! Passwords: the rules a new one must meet, and Argon2id hashing with the OWASP
//! Password Storage Cheat Sheet's parameters (m = 19 MiB, t = 2, p = 1). Hashing takes
//! tens of milliseconds of CPU: callers run it off the async executor.

use std::fmt;
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::TryRngCore;

use crate::Email;

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 128;

/// A password as a client sent it. `Debug` hides it; nothing logs or stores it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(redacted)")
    }
}

impl Password {
    /// A password to log in with: only its length is checked, so the answer to a wrong
    /// one never tells which rule a stored password follows.
    pub fn presented(raw: &str) -> Result<Self, String> {
        if raw.is_empty() || raw.chars().count() > MAX_CHARS {
            return Err(format!("must be 1 to {MAX_CHARS} characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// A new password: 8 to 128 characters, not the account's email.
    pub fn new(raw: &str, email: Option<&Email>) -> Result<Self, String> {
        let chars = raw.chars().count();
        if !(MIN_CHARS..=MAX_CHARS).contains(&chars) {
            return Err(format!("must be {MIN_CHARS} to {MAX_CHARS} characters"));
        }
        if email.is_some_and(|e| e.as_str().eq_ignore_ascii_case(raw.trim())) {
            return Err("must not be the email address".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// OWASP's Argon2id configuration: 19 MiB of memory, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string stored for `password` (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub fn hash(password: &Password) -> String {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng
        .try_fill_bytes(&mut salt)
        .expect("the OS random source works");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    argon2()
        .hash_password(password.expose().as_bytes(), &salt)
        .expect("Argon2id hashes any password")
        .to_string()
}

/// Whether `password` matches `stored`; `None` checks against a dummy hash, so an unknown
/// account costs the same time as a wrong password and answers the same.
pub fn verify(password: &Password, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash(&Password("not a password of anyone".into())));
    let Ok(parsed) = PasswordHash::new(stored.unwrap_or(dummy)) else {
        return false;
    };
    let matches = argon2()
        .verify_password(password.expose().as_bytes(), &parsed)
        .is_ok();
    matches && stored.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_passwords_follow_the_rules() {
        let email = Email::parse("ada@example.com").unwrap();
        assert!(Password::new("correct horse", Some(&email)).is_ok());
        assert!(Password::new("short", None).is_err());
        assert!(Password::new(&"x".repeat(129), None).is_err());
        assert!(
            Password::new(&"é".repeat(128), None).is_ok(),
            "characters, not bytes"
        );
        assert!(Password::new("ADA@example.com", Some(&email)).is_err());
        assert_eq!(
            format!("{:?}", Password::new("secret123", None).unwrap()),
            "Password(redacted)"
        );
    }

    #[test]
    fn hashes_are_salted_argon2id_and_verify() {
        let p = Password::new("correct horse", None).unwrap();
        let stored = hash(&p);
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert_ne!(stored, hash(&p), "a fresh salt each time");
        assert!(verify(&p, Some(&stored)));
        assert!(!verify(
            &Password::presented("correct horsE").unwrap(),
            Some(&stored)
        ));
        assert!(!verify(&p, None), "no account never verifies");
        assert!(!verify(&p, Some("not a hash")));
    }
}
