//! The public keys user access tokens are verified with, as configured: `kid=x`
//! entries, comma-separated, current first; `x` is an Ed25519 public key, 32 bytes
//! base64url without padding (a JWK's `x`). One parser for the authorizer, which
//! verifies with them, and for the JWKS the accounts function publishes.

/// One verifying key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// `None` only when it is the only key.
    pub kid: Option<String>,
    pub x: String,
}

pub fn parse_public_keys(raw: &str) -> Result<Vec<PublicKey>, String> {
    let entries: Vec<&str> = raw.split(',').map(str::trim).collect();
    let mut keys: Vec<PublicKey> = Vec::new();
    for entry in &entries {
        let (kid, x) = match entry.split_once('=') {
            Some((kid, x)) => (Some(kid.trim().to_owned()), x.trim()),
            None if entries.len() == 1 => (None, *entry),
            None => return Err("with several keys, each needs a kid: kid=x".into()),
        };
        if let Some(kid) = &kid
            && (kid.is_empty() || keys.iter().any(|k| k.kid.as_ref() == Some(kid)))
        {
            return Err(format!("kid {kid:?} is empty or repeated"));
        }
        let base64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        if x.len() != 43 || !x.bytes().all(base64url) {
            return Err("each key must be a 32-byte Ed25519 public key, base64url".into());
        }
        keys.push(PublicKey {
            kid,
            x: x.to_owned(),
        });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    const X: &str = "VkEeEHdDZkcKYIsUM8w9mwL3JdhONRx7d-4JDBI4R4o";

    #[test]
    fn key_sets() {
        assert_eq!(parse_public_keys(X).unwrap()[0].kid, None);
        let two = parse_public_keys(&format!("new={X}, old={X}")).unwrap();
        assert_eq!(two[0].kid.as_deref(), Some("new"));
        assert_eq!(two[1].kid.as_deref(), Some("old"));
        for bad in [
            format!("{X},{X}"),
            format!("a={X},a={X}"),
            format!("={X}"),
            format!("a={X},b=short"),
            format!("a={X}="),
            "c2hvcnQ".to_owned(),
        ] {
            assert!(parse_public_keys(&bad).is_err(), "{bad}");
        }
    }
}
