//! Opaque bearer secrets: a prefix naming the kind, then 32 random bytes, base64url.
//! Only the SHA-256 of one is stored; the plaintext exists once, in the holder's hands.

use std::fmt;
use std::marker::PhantomData;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use rand::TryRngCore;
use sha2::{Digest, Sha256};

const SECRET_BYTES: usize = 32;

/// What a kind of secret is called on the wire.
pub trait Kind {
    const PREFIX: &'static str;
}

/// A secret's plaintext. `Debug` shows only its kind.
pub struct OpaqueSecret<K> {
    plaintext: String,
    kind: PhantomData<K>,
}

impl<K: Kind> OpaqueSecret<K> {
    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRET_BYTES];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .expect("the OS random source works");
        Self::from_bytes(bytes)
    }

    /// The secret whose 32 bytes are `bytes` (a keyed derivation's output).
    pub fn from_bytes(bytes: [u8; SECRET_BYTES]) -> Self {
        Self {
            plaintext: format!("{}{}", K::PREFIX, B64.encode(bytes)),
            kind: PhantomData,
        }
    }

    /// Accepts only the shape this service issues.
    pub fn parse(raw: &str) -> Option<Self> {
        let body = raw.strip_prefix(K::PREFIX)?;
        let ok = B64.decode(body).is_ok_and(|b| b.len() == SECRET_BYTES);
        ok.then(|| Self {
            plaintext: raw.to_owned(),
            kind: PhantomData,
        })
    }

    /// Lower-case hex SHA-256: the only form that is stored.
    pub fn hash(&self) -> String {
        Sha256::digest(self.plaintext.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    pub fn expose(&self) -> &str {
        &self.plaintext
    }
}

impl<K: Kind> fmt::Debug for OpaqueSecret<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpaqueSecret({}…)", K::PREFIX)
    }
}

/// 16 random bytes from the OS CSPRNG, hex: ids no one can guess (session families,
/// uploads, exports).
pub fn random_id() -> String {
    use rand::TryRngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the OS random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
