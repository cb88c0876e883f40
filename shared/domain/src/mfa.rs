//! A second factor: an authenticator app's time-based codes (RFC 6238: HMAC-SHA-1,
//! 6 digits, 30-second steps, one step either side) and the recovery codes that stand in
//! for it once. The secret is 160 random bits (RFC 4226 §4 recommends it), shown once at
//! enrolment and stored sealed (`OtpKey::seal`); a recovery code is stored only as its
//! keyed digest (`OtpKey::recovery_digest`).

use std::fmt;

use rand::TryRngCore;
use totp_rs::{Algorithm, Secret, Totp};

/// How long an enrolment or a login's second step stays open, and how many wrong codes
/// it takes before it is over.
pub const CHALLENGE_LIFETIME_SECS: i64 = 300;
pub const MAX_WRONG_CODES: u32 = 5;
/// Second-step codes an account takes in a clock hour, over all its logins: a password
/// alone opens new second steps without end, and each must not bring five fresh guesses.
/// A right code gives its place back.
pub const MAX_SECOND_STEP_CODES_PER_HOUR: u32 = 10;
/// How many recovery codes a set holds.
pub const RECOVERY_CODES: usize = 10;

const SECRET_BYTES: usize = 20;
const STEP_SECS: u64 = 30;

/// An authenticator app's shared secret. `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(redacted)")
    }
}

impl TotpSecret {
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .expect("the OS random source works");
        Self(bytes)
    }

    /// The secret as unsealed from storage; only 160-bit secrets are ever sealed.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() != SECRET_BYTES {
            return Err(format!("a TOTP secret is {SECRET_BYTES} bytes"));
        }
        Ok(Self(bytes))
    }

    /// The secret as an app takes it typed (what enrolment shows): an app, or a test,
    /// computing codes from it.
    pub fn from_base32(raw: &str) -> Result<Self, String> {
        let secret =
            Secret::try_from_base32(raw.trim()).map_err(|_| "not a base32 secret".to_owned())?;
        Self::from_bytes(secret.as_ref().to_vec())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn totp(&self, issuer: &str, account: &str) -> Totp {
        totp_rs::Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(STEP_SECS)
            .with_secret(Secret::from(self.0.clone()))
            .with_issuer(Some(issuer.replace(':', "")))
            .with_account_name(account.replace(':', ""))
            .build_noncompliant()
    }

    /// The 30-second step (counter) `code` belongs to, if it is this secret's code for
    /// the step of `now` or one either side.
    pub fn step_of(&self, code: &str, now: i64) -> Option<i64> {
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = u64::try_from(now).ok()?;
        let step = self.totp("", "").check(code, now)?;
        i64::try_from(step).ok()
    }

    /// The code of the step of `now`: what an authenticator app shows.
    pub fn code_at(&self, now: i64) -> String {
        self.totp("", "")
            .generate(u64::try_from(now).unwrap_or_default())
            .to_string()
    }

    /// The base32 form people type into an app that cannot scan.
    pub fn base32(&self) -> String {
        Secret::from(self.0.clone()).to_base32()
    }

    /// The `otpauth://totp/...` URI apps scan (Google Authenticator's key-uri format).
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        self.totp(issuer, account)
            .to_url()
            .unwrap_or_else(|_| self.totp(issuer, "").to_url().unwrap_or_default())
    }

    /// The URI as a QR code, an SVG document.
    pub fn qr_svg(&self, issuer: &str, account: &str) -> String {
        let uri = self.otpauth_uri(issuer, account);
        match qrcode::QrCode::new(uri.as_bytes()) {
            Ok(code) => code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build(),
            Err(_) => String::new(),
        }
    }
}

/// A factor's id: `totp_` and 16 random bytes, hex.
pub fn new_factor_id() -> String {
    format!("totp_{}", crate::opaque::random_id())
}

/// Whether `raw` has a factor id's form: what a route's `{factor_id}` must be before it
/// reaches a condition.
pub fn is_factor_id(raw: &str) -> bool {
    raw.strip_prefix("totp_").is_some_and(|hex| {
        hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// A recovery code as handed out: ten characters of an alphabet without look-alikes,
/// grouped `xxxxx-xxxxx` (50 bits each).
pub fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut code = String::with_capacity(11);
            for i in 0..10 {
                if i == 5 {
                    code.push('-');
                }
                // Rejection sampling keeps every character equally likely.
                let c = loop {
                    let mut b = [0u8; 1];
                    rng.try_fill_bytes(&mut b)
                        .expect("the OS random source works");
                    if (b[0] as usize) < 256 - 256 % ALPHABET.len() {
                        break ALPHABET[b[0] as usize % ALPHABET.len()];
                    }
                };
                code.push(c as char);
            }
            code
        })
        .collect()
}

/// A presented recovery code in the form its digest was taken of (lower case, without
/// the dash or spaces), if it has a recovery code's shape.
pub fn normalized_recovery_code(raw: &str) -> Option<String> {
    let code: String = raw
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (code.len() == 10 && code.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(code)
}

/// What a second step presents: an app's 6 digits or a recovery code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecondFactorCode {
    Totp(String),
    Recovery(String),
}

impl SecondFactorCode {
    /// 6 digits, or a recovery code's shape; anything else is refused by name.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.len() == 6 && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Self::Totp(trimmed.to_owned()));
        }
        normalized_recovery_code(trimmed)
            .map(Self::Recovery)
            .ok_or_else(|| {
                "must be the 6 digits of the authenticator app or a recovery code".into()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1, the first six digits' worth of its 8-digit vectors.
    #[test]
    fn rfc_6238_vectors() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec()).unwrap();
        for (time, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
        ] {
            assert_eq!(secret.code_at(time), eight[2..], "at {time}");
        }
    }

    #[test]
    fn a_code_is_good_one_step_either_side_and_no_further() {
        let secret = TotpSecret::generate();
        let now = 1_800_000_015;
        let code = secret.code_at(now);
        let step = now / 30;
        assert_eq!(secret.step_of(&code, now), Some(step));
        assert_eq!(secret.step_of(&code, now + 30), Some(step));
        assert_eq!(secret.step_of(&code, now - 30), Some(step));
        assert_eq!(secret.step_of(&code, now + 60), None);
        assert_eq!(secret.step_of("12345", now), None);
        assert_eq!(secret.step_of("12345a", now), None);
    }

    #[test]
    fn the_uri_names_the_issuer_the_account_and_the_secret() {
        let secret = TotpSecret::generate();
        let uri = secret.otpauth_uri("Example", "ada@example.com");
        assert!(
            uri.starts_with("otpauth://totp/Example:ada%40example.com?"),
            "{uri}"
        );
        assert!(
            uri.contains(&format!("secret={}", secret.base32())),
            "{uri}"
        );
        assert!(secret.qr_svg("Example", "ada@example.com").contains("<svg"));
        assert_eq!(format!("{secret:?}"), "TotpSecret(redacted)");
    }

    #[test]
    fn recovery_codes_are_ten_distinct_and_read_back_in_any_case() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let distinct: std::collections::BTreeSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), 10);
        let code = &codes[0];
        assert_eq!(code.len(), 11);
        let normal = normalized_recovery_code(code).unwrap();
        assert_eq!(
            normalized_recovery_code(&code.to_uppercase()),
            Some(normal.clone())
        );
        assert_eq!(
            SecondFactorCode::parse(code),
            Ok(SecondFactorCode::Recovery(normal))
        );
        assert_eq!(
            SecondFactorCode::parse(" 123456 "),
            Ok(SecondFactorCode::Totp("123456".into()))
        );
        assert!(SecondFactorCode::parse("1234567").is_err());
        assert!(is_factor_id(&new_factor_id()));
        assert!(!is_factor_id("totp_../x"));
    }
}
