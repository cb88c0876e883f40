//! The HMAC key of codes' digests, and of the other keyed values derived from the same
//! secret under their own labels (object folders, erased identifiers, refresh tokens'
//! successors).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{OtpCode, Purpose};

/// The HMAC key codes are digested with; loaded from Secrets Manager.
#[derive(Clone)]
pub struct OtpKey(Vec<u8>);

impl fmt::Debug for OtpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpKey(redacted)")
    }
}

impl OtpKey {
    pub const MIN_BYTES: usize = 32;

    pub fn new(secret: &[u8]) -> Result<Self, String> {
        if secret.len() < Self::MIN_BYTES {
            return Err(format!(
                "the OTP key must be at least {} bytes",
                Self::MIN_BYTES
            ));
        }
        Ok(Self(secret.to_vec()))
    }

    fn mac(&self, purpose: Purpose, subject: &str, target: &str, code: &OtpCode) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        // Length-prefixed fields: no two (purpose, subject, target, code) share an input.
        for field in [purpose.as_str(), subject, target, code.expose()] {
            mac.update(&(field.len() as u32).to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac
    }

    /// The stored form of a code: base64 of HMAC-SHA256(purpose, subject, target, code).
    pub fn digest(&self, purpose: Purpose, subject: &str, target: &str, code: &OtpCode) -> String {
        B64.encode(
            self.mac(purpose, subject, target, code)
                .finalize()
                .into_bytes(),
        )
    }

    /// 32 bytes keyed by `presented` under their own label: the refresh token that
    /// follows it (`session::successor`).
    pub fn successor_bytes(&self, presented: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        for field in ["refresh-successor", presented] {
            mac.update(&(field.len() as u32).to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    /// The folder of a user's objects in the bucket (images, exports): 32 hex digits of
    /// HMAC-SHA256 under its own label. An image's public address names neither the
    /// user nor anything computable from their id without the key, and an erasure finds
    /// every object of theirs with one listing. The key must never change while objects
    /// are stored (it is never rotated).
    pub fn object_folder(&self, user: &crate::UserId) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        for field in ["object-owner", user.as_str()] {
            mac.update(&(field.len() as u32).to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac.finalize().into_bytes()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// A keyed hash of an identifier (an erased account's email or phone, `kind` saying
    /// which): it can tell whether a value was erased to whoever holds the key, and
    /// nothing to whoever reads the table. Hex of HMAC-SHA256 under a separate label,
    /// so it never equals a code's digest.
    pub fn identifier_hash(&self, kind: &str, value: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        for field in ["erased-identifier", kind, value] {
            mac.update(&(field.len() as u32).to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Constant-time check of `code` against a stored digest.
    pub fn matches(
        &self,
        purpose: Purpose,
        subject: &str,
        target: &str,
        code: &OtpCode,
        digest: &str,
    ) -> bool {
        let Ok(expected) = B64.decode(digest) else {
            return false;
        };
        self.mac(purpose, subject, target, code)
            .verify_slice(&expected)
            .is_ok()
    }
}
