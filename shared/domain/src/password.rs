//! Passwords: the rules a new one must meet, and Argon2id hashing with the OWASP
//! Password Storage Cheat Sheet's parameters (m = 19 MiB, t = 2, p = 1). Hashing takes
//! tens of milliseconds of CPU: callers run it off the async executor.
//!
//! The rules are NIST SP 800-63B's (section 3.1.1.2): a length, no composition rules, and
//! Unicode normalized (NFKC) before anything else, so a password typed on another keyboard
//! is the same password. Whether it is common or breached is a port's question
//! (`ports::BreachedPasswords`), asked by the routes that set one.

use std::fmt;
use std::sync::{Mutex, OnceLock, PoisonError};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::TryRngCore;

use crate::Email;

mod imported;
pub use imported::{
    Imported, MAX_ARGON2_KIB, MAX_ARGON2_LANES, MAX_ARGON2_PASSES, MAX_ARGON2_WORK_KIB,
    MAX_BCRYPT_COST, MAX_PBKDF2_ITERATIONS,
};

/// NIST's floor for a new password's length, and the default.
pub const MIN_CHARS: usize = 8;
/// The longest minimum a deployment may ask for: NIST asks that at least 64 characters be
/// allowed, and a minimum above it would turn that around.
pub const MAX_MIN_CHARS: usize = 64;
pub const MAX_CHARS: usize = 128;

/// How long a new password must be (`PASSWORD_MIN_LENGTH`): 8 to 64 characters, 8 unless
/// a deployment asks for more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordRules {
    min_chars: usize,
}

impl Default for PasswordRules {
    fn default() -> Self {
        Self {
            min_chars: MIN_CHARS,
        }
    }
}

impl PasswordRules {
    pub fn with_min_chars(min_chars: usize) -> Result<Self, String> {
        match (MIN_CHARS..=MAX_MIN_CHARS).contains(&min_chars) {
            true => Ok(Self { min_chars }),
            false => Err(format!(
                "{min_chars} is not a length from {MIN_CHARS} to {MAX_MIN_CHARS}"
            )),
        }
    }

    /// A new password: at least the minimum, at most 128 characters, not the account's
    /// email.
    pub fn new_password(&self, raw: &str, email: Option<&Email>) -> Result<Password, String> {
        // Counted as typed, as a client's form counts them; normalized for all the rest.
        let chars = raw.chars().count();
        if !(self.min_chars..=MAX_CHARS).contains(&chars) {
            return Err(format!(
                "must be {} to {MAX_CHARS} characters",
                self.min_chars
            ));
        }
        let normalized = normalized(raw);
        if email.is_some_and(|e| e.as_str().eq_ignore_ascii_case(normalized.trim())) {
            return Err("must not be the email address".into());
        }
        Ok(Password(normalized, Typed::default()))
    }
}

/// A password as a client sent it, NFKC-normalized. `Debug` hides it; nothing logs or
/// stores it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String, Typed);

/// What was typed at a login when normalizing changed it: hashes stored before passwords
/// were normalized match only that.
#[derive(Clone, PartialEq, Eq, Default)]
struct Typed(Option<String>);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(redacted)")
    }
}

impl Password {
    /// A password to log in with: only its length is checked, so the answer to a wrong
    /// one never tells which rule a stored password follows.
    pub fn presented(raw: &str) -> Result<Self, String> {
        // Counted as typed, as a client's form counts them; normalized for all the rest.
        if raw.is_empty() || raw.chars().count() > MAX_CHARS {
            return Err(format!("must be 1 to {MAX_CHARS} characters"));
        }
        let normalized = normalized(raw);
        let typed = Typed((normalized != raw).then(|| raw.to_owned()));
        Ok(Self(normalized, typed))
    }

    /// A new password under the default rules (8 to 128 characters), as tools and tests
    /// make them; the routes ask the deployment's `PasswordRules`.
    pub fn new(raw: &str, email: Option<&Email>) -> Result<Self, String> {
        PasswordRules::default().new_password(raw, email)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// NFKC, as NIST SP 800-63B asks of a password before it is hashed or compared.
fn normalized(raw: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    raw.nfkc().collect()
}

/// OWASP's Argon2id configuration: 19 MiB of memory, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The most memory a stored hash may ask for: an imported one's bound.
const MAX_BLOCKS: usize = MAX_ARGON2_KIB as usize;

/// The memory Argon2 works in, kept for the life of the process and reused by every
/// hash. Allocated per hash, the allocator kept a 19 MiB copy in each thread's arena:
/// `make bench` measured 224 MB peak RSS for the accounts function, 34 MB with this.
/// One buffer serializes hashes, as Lambda serves one request per container anyway.
static MEMORY: Mutex<Vec<Block>> = Mutex::new(Vec::new());

/// Argon2 of `password` and `salt` into `out`, in the shared memory.
fn compute(argon: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> bool {
    let blocks = argon.params().block_count();
    if blocks > MAX_BLOCKS {
        return false;
    }
    if blocks > argon2().params().block_count() {
        // An imported hash's own parameters, verified once before ours replaces it: its
        // memory is given back at once rather than kept for the process's life.
        let mut memory = vec![Block::default(); blocks];
        return argon
            .hash_password_into_with_memory(password, salt, out, &mut memory)
            .is_ok();
    }
    let mut memory = MEMORY.lock().unwrap_or_else(PoisonError::into_inner);
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    argon
        .hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
        .is_ok()
}

/// The PHC string stored for `password` (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub fn hash(password: &Password) -> String {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng
        .try_fill_bytes(&mut salt)
        .expect("the OS random source works");
    let argon = argon2();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    assert!(
        compute(&argon, password.expose().as_bytes(), &salt, &mut out),
        "Argon2id hashes any password"
    );
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params()).expect("OWASP parameters encode"),
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).expect("a 32-byte output is valid")),
    }
    .to_string()
}

/// Whether `password` matches `stored`; `None` checks against a dummy hash, so an unknown
/// account costs the same time as a wrong password and answers the same.
pub fn verify(password: &Password, stored: Option<&str>) -> bool {
    check(password, stored) != Check::Wrong
}

/// How a password compares with a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Wrong,
    /// Right, and the hash is one `hash` makes today.
    Right,
    /// Right, but the hash should be made again: other parameters or another algorithm
    /// than ours, or made before passwords were normalized (it matched what was typed).
    RightButStale,
}

/// `verify`, saying also whether the stored hash should be replaced by `hash(password)`.
pub fn check(password: &Password, stored: Option<&str>) -> Check {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| {
        hash(&Password(
            "not a password of anyone".into(),
            Typed::default(),
        ))
    });
    // No hash, or none that verifies (an account imported without a password): the
    // dummy is hashed all the same, so the answer takes as long as a wrong password.
    let (stored_hash, real) = match stored.map(Imported::parse) {
        Some(Ok(hash)) => (hash, true),
        _ => (Imported::parse(dummy).expect("our own hash parses"), false),
    };
    let typed = password.1.0.as_deref();
    let check = if stored_hash.verifies(password.expose().as_bytes()) {
        if stored_hash.is_ours() {
            Check::Right
        } else {
            Check::RightButStale
        }
    } else if typed.is_some_and(|typed| stored_hash.verifies(typed.as_bytes())) {
        Check::RightButStale
    } else {
        Check::Wrong
    };
    if real { check } else { Check::Wrong }
}

/// Whether `phc` names exactly the algorithm, version and parameters `hash` uses today.
fn is_current(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let ours = argon2();
    parsed.algorithm == Algorithm::Argon2id.ident()
        && parsed.version == Some(Version::V0x13.into())
        && Params::try_from(&parsed).is_ok_and(|p| {
            (p.m_cost(), p.t_cost(), p.p_cost())
                == (
                    ours.params().m_cost(),
                    ours.params().t_cost(),
                    ours.params().p_cost(),
                )
        })
}

/// `password` against a PHC string, with the parameters it names; constant-time compare.
fn matches_hash(password: &[u8], phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    // A PHC string without `v=` is of version 0x10 (the format's own rule).
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or(Version::V0x10),
        Err(_) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params);
    compute(&argon, password, salt_bytes, &mut out)
        && Output::new(&out).is_ok_and(|computed| computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_of_other_parameters_or_of_what_was_typed_is_stale() {
        let password = Password::new("correct horse battery", None).unwrap();
        assert_eq!(check(&password, Some(&hash(&password))), Check::Right);
        let weaker = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        );
        let salt = SaltString::encode_b64(b"saltsaltsaltsalt").unwrap();
        let other = argon2::PasswordHasher::hash_password(&weaker, b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        assert_eq!(check(&password, Some(&other)), Check::RightButStale);
        let wrong = Password::new("wrong horse battery", None).unwrap();
        assert_eq!(check(&wrong, Some(&other)), Check::Wrong);
        // Stored before normalizing: it matches only the bytes typed.
        let typed = "cafe\u{301} au lait";
        let legacy = argon2::PasswordHasher::hash_password(&argon2(), typed.as_bytes(), &salt)
            .unwrap()
            .to_string();
        let presented = Password::presented(typed).unwrap();
        assert_eq!(check(&presented, Some(&legacy)), Check::RightButStale);
        assert_eq!(check(&presented, None), Check::Wrong);
    }

    #[test]
    fn a_password_is_the_same_however_its_characters_are_composed() {
        // "é" as one code point and as "e" with a combining accent; a full-width "Ａ".
        let composed = Password::new("caf\u{e9} au lait", None).unwrap();
        let decomposed = Password::new("cafe\u{301} au lait", None).unwrap();
        assert_eq!(composed.expose(), decomposed.expose());
        let stored = hash(&composed);
        assert!(verify(
            &Password::presented("cafe\u{301} au lait").unwrap(),
            Some(&stored)
        ));
        assert_eq!(Password::presented("\u{ff21}").unwrap().expose(), "A");
        // Counted as typed: eight full-width letters are eight characters.
        assert!(Password::new(&"\u{ff21}".repeat(8), None).is_ok());
        assert!(
            Password::new(&"a".repeat(64), None).is_ok(),
            "64 characters are allowed"
        );
    }

    #[test]
    fn a_hash_stored_before_normalizing_still_matches_what_was_typed() {
        let typed = "cafe\u{301} au lait";
        let legacy = hash(&Password(typed.into(), Typed::default()));
        assert!(verify(&Password::presented(typed).unwrap(), Some(&legacy)));
        assert!(!verify(
            &Password::presented("caf\u{e9} au lai").unwrap(),
            Some(&legacy)
        ));
    }

    #[test]
    fn new_passwords_follow_the_rules() {
        let email = Email::parse("ada@example.com").unwrap();
        assert!(Password::new("correct horse", Some(&email)).is_ok());
        assert!(Password::new("short", None).is_err());
        let twelve = PasswordRules::with_min_chars(12).unwrap();
        assert!(twelve.new_password("eleven chars", None).is_ok());
        assert_eq!(
            twelve.new_password("ten chars!", None).unwrap_err(),
            "must be 12 to 128 characters"
        );
        assert!(PasswordRules::with_min_chars(7).is_err());
        assert!(PasswordRules::with_min_chars(65).is_err());
        assert!(PasswordRules::with_min_chars(64).is_ok());
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
        assert!(
            argon2::password_hash::PasswordVerifier::verify_password(
                &argon2(),
                b"correct horse",
                &PasswordHash::new(&stored).unwrap()
            )
            .is_ok(),
            "the crate's own verifier accepts our hashes"
        );
        assert!(verify(&p, Some(&stored)));
        assert!(!verify(
            &Password::presented("correct horsE").unwrap(),
            Some(&stored)
        ));
        assert!(!verify(&p, None), "no account never verifies");
        assert!(!verify(&p, Some("not a hash")));
        let other_params = argon2::password_hash::PasswordHasher::hash_password(
            &Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(8 * 1024, 1, 1, None).unwrap(),
            ),
            b"correct horse",
            &SaltString::encode_b64(b"0123456789abcdef").unwrap(),
        )
        .unwrap()
        .to_string();
        assert!(
            verify(&p, Some(&other_params)),
            "a hash made by the crate's own hasher, with other parameters, verifies"
        );
        assert!(!verify(
            &Password::presented("correct horsE").unwrap(),
            Some(&other_params)
        ));
    }
}
