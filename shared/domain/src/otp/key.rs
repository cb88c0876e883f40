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

    /// 32 bytes of HMAC-SHA256 under their own label: a key for one purpose.
    fn derived(&self, label: &str, subject: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        for field in [label, subject] {
            mac.update(&(field.len() as u32).to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    /// `plaintext` sealed with AES-256-GCM under a key derived for sealing, bound to
    /// `context` (the account and factor it belongs to, so a sealed value copied to
    /// another account does not open): base64 of a random nonce and the ciphertext.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> String {
        use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
        let key = self.derived("sealed-secret", "");
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).expect("a 32-byte key"));
        let mut nonce = [0u8; 12];
        aws_lc_rs::rand::fill(&mut nonce).expect("the OS random source works");
        let mut sealed = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context.as_bytes()),
            &mut sealed,
        )
        .expect("AES-GCM seals any length this service stores");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        B64.encode(out)
    }

    /// What `seal` sealed with the same `context`; `None` for anything else.
    pub fn open(&self, context: &str, sealed: &str) -> Option<Vec<u8>> {
        use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
        let raw = B64.decode(sealed).ok()?;
        if raw.len() < 12 + 16 {
            return None;
        }
        let (nonce, body) = raw.split_at(12);
        let key = self.derived("sealed-secret", "");
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).ok()?);
        let mut body = body.to_vec();
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let plain = key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut body)
            .ok()?;
        Some(plain.to_vec())
    }

    /// The WebAuthn user handle of `user`: 16 bytes keyed by the user id under their own
    /// label, the same at every registration (so an authenticator keeps one passkey per
    /// account) and saying nothing of the id to whoever reads it.
    pub fn user_handle(&self, user: &crate::UserId) -> [u8; 16] {
        let bytes = self.derived("webauthn-user-handle", user.as_str());
        let mut handle = [0u8; 16];
        handle.copy_from_slice(&bytes[..16]);
        handle
    }

    /// The stored form of a recovery code (normalized, `mfa::normalized_recovery_code`)
    /// of `user`: hex of HMAC-SHA256 under its own label. Without the key, the table
    /// gives nothing to guess against.
    pub fn recovery_digest(&self, user: &crate::UserId, code: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.derived("recovery-code", user.as_str()))
            .expect("HMAC takes any key length");
        mac.update(code.as_bytes());
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
