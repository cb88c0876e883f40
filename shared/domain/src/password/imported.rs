//! Password hashes as other systems store them, so their users move here with their
//! passwords: Django's hashers (`pbkdf2_sha256$`, `pbkdf2_sha1$`, `argon2$argon2id$`,
//! `bcrypt_sha256$`, `bcrypt$`), bcrypt (`$2a$`, `$2b$`, `$2y$`, as Supabase and Auth0
//! export them) and Argon2 PHC strings (`$argon2id$`, `$argon2i$`, ours among them).
//! A login verifies such a hash once, and the same login stores our Argon2id instead
//! (`check` answers `RightButStale`).
//!
//! Each verification costs what its parameters say, so an import refuses a hash beyond
//! the bounds below: a hostile file cannot make every later login of its users stall a
//! function. Django's defaults are well inside them.

use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::Hmac;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// PBKDF2 rounds: Django 5.2's default is 1,000,000.
pub const MAX_PBKDF2_ITERATIONS: u32 = 2_000_000;
/// bcrypt's cost (log2 of its rounds): the libraries default to 10 to 12.
pub const MAX_BCRYPT_COST: u32 = 14;
/// Argon2 memory in KiB (128 MiB): Django's default is 100 MiB (m = 102400).
pub const MAX_ARGON2_KIB: u32 = 128 * 1024;
/// Argon2 passes (t).
pub const MAX_ARGON2_PASSES: u32 = 10;
/// Argon2 lanes (p): Django's default is 8.
pub const MAX_ARGON2_LANES: u32 = 16;
/// Argon2 memory times passes, in KiB: what a verification costs. Django's default is
/// 200 MiB (100 MiB, two passes); 128 MiB with four passes is the most.
pub const MAX_ARGON2_WORK_KIB: u32 = 512 * 1024;

/// A stored hash this service can verify, within the cost bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Imported {
    /// Django's `pbkdf2_<digest>$<iterations>$<salt>$<base64 key>`.
    Pbkdf2 {
        sha256: bool,
        iterations: u32,
        salt: String,
        key: Vec<u8>,
    },
    /// A bcrypt string (`$2b$12$...`); with `sha256_first`, of the password's SHA-256 in
    /// hex, as Django's `bcrypt_sha256` makes it.
    Bcrypt { hash: String, sha256_first: bool },
    /// An Argon2 PHC string (Django's `argon2` prefix taken off).
    Argon2 { phc: String },
}

impl Imported {
    /// The hash `stored` names, or why it is refused: a format this service does not
    /// verify, a malformed one, or a cost beyond the bounds.
    pub fn parse(stored: &str) -> Result<Self, String> {
        if let Some(rest) = stored.strip_prefix("pbkdf2_sha256$") {
            return pbkdf2(rest, true);
        }
        if let Some(rest) = stored.strip_prefix("pbkdf2_sha1$") {
            return pbkdf2(rest, false);
        }
        if let Some(rest) = stored.strip_prefix("bcrypt_sha256$") {
            return bcrypt(rest, true);
        }
        if let Some(rest) = stored.strip_prefix("bcrypt$") {
            return bcrypt(rest, false);
        }
        if stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$") {
            return bcrypt(stored, false);
        }
        if let Some(phc) = stored
            .strip_prefix("argon2")
            .filter(|p| p.starts_with("$argon2"))
        {
            return argon2(phc);
        }
        if stored.starts_with("$argon2i$") || stored.starts_with("$argon2id$") {
            return argon2(stored);
        }
        // Named only when it looks like a scheme's name: never a piece of a hash.
        let scheme = stored
            .split('$')
            .find(|s| !s.is_empty())
            .filter(|s| {
                s.len() <= 20
                    && s.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            })
            .filter(|_| stored.contains('$'))
            .map_or_else(String::new, |s| format!(" ({s})"));
        Err(format!(
            "a password hash of an unknown kind{scheme}; supported: Django's pbkdf2_sha256, \
             pbkdf2_sha1, argon2, bcrypt_sha256 and bcrypt, bcrypt $2a$/$2b$/$2y$, Argon2 PHC"
        ))
    }

    /// Whether `password` (as its owner typed it) is the one hashed; constant-time.
    pub fn verifies(&self, password: &[u8]) -> bool {
        match self {
            Imported::Pbkdf2 {
                sha256,
                iterations,
                salt,
                key,
            } => {
                let mut out = vec![0u8; key.len()];
                let derived = if *sha256 {
                    pbkdf2::pbkdf2::<Hmac<Sha256>>(password, salt.as_bytes(), *iterations, &mut out)
                } else {
                    pbkdf2::pbkdf2::<Hmac<sha1::Sha1>>(
                        password,
                        salt.as_bytes(),
                        *iterations,
                        &mut out,
                    )
                };
                derived.is_ok() && bool::from(out.ct_eq(key))
            }
            Imported::Bcrypt { hash, sha256_first } => {
                let result = if *sha256_first {
                    let hex: String = Sha256::digest(password)
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    bcrypt::verify(hex, hash)
                } else {
                    bcrypt::verify(password, hash)
                };
                result.unwrap_or(false)
            }
            Imported::Argon2 { phc } => super::matches_hash(password, phc),
        }
    }

    /// Whether this is the hash `super::hash` makes today.
    pub fn is_ours(&self) -> bool {
        matches!(self, Imported::Argon2 { phc } if super::is_current(phc))
    }
}

fn pbkdf2(rest: &str, sha256: bool) -> Result<Imported, String> {
    let mut parts = rest.splitn(3, '$');
    let (Some(iterations), Some(salt), Some(key)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err("a Django PBKDF2 hash is <algorithm>$<iterations>$<salt>$<hash>".into());
    };
    let iterations: u32 = iterations
        .parse()
        .map_err(|_| format!("PBKDF2 iterations {iterations:?} are not a number"))?;
    if !(1..=MAX_PBKDF2_ITERATIONS).contains(&iterations) {
        return Err(format!(
            "PBKDF2 with {iterations} iterations: at most {MAX_PBKDF2_ITERATIONS}"
        ));
    }
    if salt.is_empty() || salt.contains('$') {
        return Err("a PBKDF2 hash without a salt".into());
    }
    let key = STANDARD
        .decode(key)
        .map_err(|_| "the PBKDF2 hash is not base64".to_owned())?;
    // Django's key is the digest's length; a longer one multiplies the work.
    let expected = if sha256 { 32 } else { 20 };
    if key.len() != expected {
        return Err(format!("the PBKDF2 hash is not {expected} bytes long"));
    }
    Ok(Imported::Pbkdf2 {
        sha256,
        iterations,
        salt: salt.to_owned(),
        key,
    })
}

fn bcrypt(hash: &str, sha256_first: bool) -> Result<Imported, String> {
    // The crate's error for a malformed string quotes it: say only that it is.
    let malformed = || "a malformed bcrypt hash".to_owned();
    let well_formed = hash.len() == 60
        && ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p))
        && hash[7..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/');
    if !well_formed {
        return Err(malformed());
    }
    let parts = bcrypt::HashParts::from_str(hash).map_err(|_| malformed())?;
    if parts.get_cost() > MAX_BCRYPT_COST {
        return Err(format!(
            "bcrypt with cost {}: at most {MAX_BCRYPT_COST}",
            parts.get_cost()
        ));
    }
    Ok(Imported::Bcrypt {
        hash: hash.to_owned(),
        sha256_first,
    })
}

fn argon2(phc: &str) -> Result<Imported, String> {
    use argon2::password_hash::PasswordHash;
    let parsed = PasswordHash::new(phc).map_err(|_| "a malformed Argon2 hash".to_owned())?;
    if !["argon2id", "argon2i"].contains(&parsed.algorithm.as_str()) {
        return Err("an Argon2 hash of another kind than argon2id or argon2i".into());
    }
    let params = argon2::Params::try_from(&parsed)
        .map_err(|_| "Argon2 parameters out of range".to_owned())?;
    let work = u64::from(params.m_cost()) * u64::from(params.t_cost());
    if params.m_cost() > MAX_ARGON2_KIB
        || params.t_cost() > MAX_ARGON2_PASSES
        || params.p_cost() > MAX_ARGON2_LANES
        || work > u64::from(MAX_ARGON2_WORK_KIB)
    {
        return Err(format!(
            "Argon2 with m={}, t={}, p={}: at most m={MAX_ARGON2_KIB} (128 MiB), \
             t={MAX_ARGON2_PASSES}, p={MAX_ARGON2_LANES}, and m×t at most 512 MiB",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        ));
    }
    if parsed.hash.is_none() || parsed.salt.is_none() {
        return Err("an Argon2 hash without its salt or output".into());
    }
    Ok(Imported::Argon2 {
        phc: phc.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_out_of_bounds_or_unknown_are_refused_with_their_reason() {
        let refused = |s: &str| Imported::parse(s).unwrap_err();
        assert!(refused("pbkdf2_sha256$3000000$salt$AAAAAAAAAAAAAAAAAAAAAA==").contains("2000000"));
        assert!(refused("md5$salt$abc").contains("unknown kind"));
        assert!(refused("scrypt$...").contains("unknown kind"));
        assert!(
            refused("$2b$15$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234").contains("14")
        );
        assert!(
            refused("$argon2id$v=19$m=262144,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
                .contains("128 MiB")
        );
        assert!(refused("pbkdf2_sha256$1000$salt").contains("<iterations>"));
        assert!(
            refused("pbkdf2_sha1$1000$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
                .contains("20 bytes")
        );
        assert!(
            refused("$argon2id$v=19$m=131072,t=5,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
                .contains("512 MiB")
        );
        // Nothing of a hash is quoted back.
        assert!(!refused("5f4dcc3b5aa765d61d8327deb882cf99").contains("5f4d"));
        assert!(!refused("$2b$10$secretsecretsecretsecre!").contains("secret"));
        assert!(
            refused("bcrypt$$2x$10$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234")
                .contains("malformed")
        );
    }

    /// Hashes made by Django, Python's bcrypt and argon2-cffi
    /// (`tools/import-hashes/make_fixture.py`).
    #[test]
    fn hashes_made_by_the_libraries_of_other_systems_verify_their_password_only() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/imported_hashes.json"
        );
        let fixture: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let typed = fixture["password"].as_str().unwrap();
        let hashes = fixture["hashes"].as_object().unwrap();
        assert_eq!(hashes.len(), 10);
        for (kind, stored) in hashes {
            let stored = stored.as_str().unwrap();
            let hash = Imported::parse(stored).unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert!(hash.verifies(typed.as_bytes()), "{kind}");
            assert!(!hash.verifies("Cafe lètmein 42".as_bytes()), "{kind}");
            assert!(!hash.is_ours(), "{kind}");
            // As a login sees it: right, and to be replaced by ours.
            let presented = super::super::Password::presented(typed).unwrap();
            assert_eq!(
                super::super::check(&presented, Some(stored)),
                super::super::Check::RightButStale,
                "{kind}"
            );
        }
    }

    #[test]
    fn a_django_pbkdf2_hash_verifies_its_password_only() {
        // What Django's hasher stores: Python's hashlib.pbkdf2_hmac("sha256",
        // "lètmein".encode(), b"seasalt", 1000000), in base64.
        let stored = "pbkdf2_sha256$1000000$seasalt$r1uLUxoxpP2Ued/qxvmje7UH9PUJBkRrvf9gGPL7Cps=";
        let hash = Imported::parse(stored).unwrap();
        assert!(hash.verifies("lètmein".as_bytes()));
        assert!(!hash.verifies(b"letmein"));
        assert!(!hash.is_ours());
    }
}
