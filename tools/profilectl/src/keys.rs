//! `profilectl key create|rotate|show`: the Ed25519 key access tokens are signed with.
//! The private key lives only in the Secrets Manager secret; what is printed is public:
//! the `TokenPublicKeys` template parameter (current first, then previous) and the JWKs.

use adapters::access_tokens::{StoredKey, StoredKeys};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// A new key: PKCS#8 PEM and the public key as a JWK's `x`.
pub fn generate(kid: &str) -> Result<StoredKey, String> {
    let der = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|_| "the key could not be generated".to_owned())?;
    let body = STANDARD
        .encode(der.as_ref())
        .as_bytes()
        .chunks(64)
        .map(|line| String::from_utf8_lossy(line).into_owned())
        .collect::<Vec<_>>()
        .join("\n");
    Ok(StoredKey {
        kid: kid.to_owned(),
        private_key_pem: format!(
            "-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n"
        ),
    })
}

/// The public half of a stored key, base64url (a JWK's `x`).
pub fn public_x(key: &StoredKey) -> Result<String, String> {
    let body: String = key
        .private_key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = STANDARD
        .decode(body.trim())
        .map_err(|e| format!("key {}: not PEM: {e}", key.kid))?;
    let pair = Ed25519KeyPair::from_pkcs8(&der)
        .or_else(|_| Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der))
        .map_err(|_| format!("key {}: not an Ed25519 PKCS#8 key", key.kid))?;
    Ok(URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()))
}

/// `kid=x[,kid=x]`, the value of the `TokenPublicKeys` template parameter.
pub fn public_keys_parameter(keys: &StoredKeys) -> Result<String, String> {
    std::iter::once(&keys.current)
        .chain(keys.previous.as_ref())
        .map(|k| public_x(k).map(|x| format!("{}={x}", k.kid)))
        .collect::<Result<Vec<_>, _>>()
        .map(|entries| entries.join(","))
}

/// A new current key; the old current one becomes the previous one, and the key before
/// it is dropped (its tokens expired long ago: access tokens live 15 minutes).
pub fn rotate(keys: StoredKeys, kid: &str) -> Result<StoredKeys, String> {
    if keys.current.kid == kid {
        return Err(format!("kid {kid} is the current key's; choose another"));
    }
    Ok(StoredKeys {
        current: generate(kid)?,
        previous: Some(keys.current),
    })
}

/// A kid from the date, such as `k20261124-1732`.
pub fn default_kid() -> String {
    chrono::Utc::now().format("k%Y%m%d-%H%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

    #[test]
    fn generated_keys_sign_tokens_their_public_half_verifies() {
        let key = generate("k1").unwrap();
        let x = public_x(&key).unwrap();
        assert_eq!(x.len(), 43);
        let signing = EncodingKey::from_ed_pem(key.private_key_pem.as_bytes()).unwrap();
        let claims = serde_json::json!({"sub": "ada", "exp": 4_000_000_000i64});
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &signing).unwrap();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_required_spec_claims(&["exp"]);
        jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &DecodingKey::from_ed_components(&x).unwrap(),
            &validation,
        )
        .unwrap();
    }

    #[test]
    fn rotation_keeps_the_previous_key_for_verification_only() {
        let first = StoredKeys {
            current: generate("k1").unwrap(),
            previous: None,
        };
        let x1 = public_x(&first.current).unwrap();
        let second = rotate(first, "k2").unwrap();
        assert_eq!(second.current.kid, "k2");
        let parameter = public_keys_parameter(&second).unwrap();
        assert!(parameter.starts_with("k2="), "{parameter}");
        assert!(parameter.ends_with(&format!(",k1={x1}")), "{parameter}");
        assert!(domain::token_keys::parse_public_keys(&parameter).is_ok());
        let third = rotate(second, "k3").unwrap();
        assert_eq!(third.previous.as_ref().unwrap().kid, "k2");
        assert!(rotate(third, "k3").is_err());
    }
}
