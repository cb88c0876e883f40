//! One-time codes sent to a destination: generation from the OS CSPRNG, keyed
//! HMAC-SHA256 digests (never the code itself), constant-time comparison, and the
//! rules on lifetime, wrong tries, resend cooldown and hourly send caps. Pure: the
//! store persists `Challenge` and `SendLog`, the SMS port delivers the code.

use std::fmt;

use rand::{Rng, TryRngCore};
use serde::{Deserialize, Serialize};

pub const HOUR_SECS: i64 = 3600;
/// NIST 800-63B and ASVS 6.5.5 put ten minutes as the longest sensible life of a code.
pub const MAX_LIFETIME_SECS: i64 = 600;

/// What a code proves; part of the digest so a code for one flow never serves another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    PhoneChange,
    VerifyEmail,
    /// Proving a number at sign-up (seed 000): no account exists yet, so the subject
    /// is the email being registered.
    RegisterPhone,
    /// Proving a new address for an account's email change (the `token`, sent to it).
    ChangeEmail,
    /// Confirming an email change from the account's current proven email or number
    /// (the `token_checksum`): the token alone, or a stolen session, cannot move it.
    ConfirmEmailChange,
    /// Proving, to the verified phone or email, that the account's holder asks for its
    /// erasure.
    EraseAccount,
    /// Setting a new password without the old one, proven by a code to the account's
    /// proven email or number.
    ResetPassword,
    /// Confirming, from the account's proven email or number, the first sign-in method
    /// set up beside the password (an authenticator app or a passkey).
    AddFactor,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PhoneChange => "phone_change",
            Self::VerifyEmail => "verify_email",
            Self::RegisterPhone => "register_phone",
            Self::ChangeEmail => "change_email",
            Self::ConfirmEmailChange => "confirm_email_change",
            Self::EraseAccount => "erase_account",
            Self::ResetPassword => "reset_password",
            Self::AddFactor => "add_factor",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpPolicy {
    pub lifetime_secs: i64,
    pub max_attempts: u32,
    pub resend_cooldown_secs: i64,
    pub max_sends_per_user_per_hour: usize,
    pub max_sends_per_target_per_hour: usize,
    /// Sign-ups (codes asked for without an account) from one address per clock hour:
    /// an anonymous caller has no user budget, and each answer says whether an email or
    /// a number is registered.
    pub max_signups_per_source_per_hour: u32,
    /// Which numbers are texted, and the hourly cap on texts.
    pub sms: crate::sms::SmsPolicy,
}

impl Default for OtpPolicy {
    fn default() -> Self {
        Self {
            lifetime_secs: 180,
            max_attempts: 5,
            resend_cooldown_secs: 60,
            max_sends_per_user_per_hour: 5,
            max_sends_per_target_per_hour: 5,
            max_signups_per_source_per_hour: 10,
            sms: crate::sms::SmsPolicy::default(),
        }
    }
}

impl OtpPolicy {
    /// Checks the limits any configuration must keep (lifetime, tries, send caps).
    pub fn validated(self) -> Result<Self, String> {
        if !(1..=MAX_LIFETIME_SECS).contains(&self.lifetime_secs) {
            return Err(format!(
                "the code lifetime must be 1 to {MAX_LIFETIME_SECS} seconds"
            ));
        }
        if self.max_attempts == 0
            || self.max_sends_per_user_per_hour == 0
            || self.max_sends_per_target_per_hour == 0
        {
            return Err("attempt and send limits must be at least 1".into());
        }
        if self.sms.max_per_hour_to_new_numbers == 0 {
            return Err("SMS_MAX_PER_HOUR_TO_NEW_NUMBERS must be at least 1".into());
        }
        Ok(self)
    }
}

/// Six decimal digits. `Debug` hides them; only the SMS port reads them.
#[derive(Clone, PartialEq, Eq)]
pub struct OtpCode(String);

impl OtpCode {
    /// A uniformly random code from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let n: u32 = rand::rngs::OsRng.unwrap_err().random_range(0..1_000_000);
        Self(format!("{n:06}"))
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() == 6 && raw.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err("must be the 6-digit code sent by SMS".into())
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpCode(******)")
    }
}

/// The stored state of one subject's codes for one purpose. It outlives a code: the send
/// times of the last hour stay for the hourly cap after the code is used or expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// Where the live code went; `None` once used.
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub digest: Option<String>,
    #[serde(default)]
    pub code_expires_at: i64,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub sent_at: i64,
    #[serde(default)]
    pub sends: Vec<i64>,
    /// Bumped on every send: the store's optimistic-concurrency token.
    #[serde(default)]
    pub rev: u64,
}

/// Send times to one destination in the last hour, across all subjects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendLog {
    #[serde(default)]
    pub sends: Vec<i64>,
    #[serde(default)]
    pub rev: u64,
}

/// A code went out: where (masked, as it may be shown), how long it lives, and when
/// another may be asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSent {
    pub masked_destination: String,
    pub expires_in: i64,
    pub resend_after: i64,
}

/// Why a code was not sent or not accepted: the same refusals in every flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeRefusal {
    /// The resend cooldown or an hourly cap; `just_sent`: a concurrent request sent one
    /// between this request's read and its reservation.
    #[error("too many codes requested")]
    RateLimited {
        retry_after_secs: u64,
        just_sent: bool,
    },
    /// No live code: never sent, expired, used, or sent to another destination.
    #[error("no live code")]
    Expired,
    /// The wrong-try limit was reached; a new code must be requested.
    #[error("too many wrong codes")]
    AttemptsExceeded,
    #[error("wrong code")]
    Wrong { tries_left: u32 },
    /// The number gets no text: not a mobile, or in a country not served.
    #[error("the number {0}")]
    Undeliverable(#[from] crate::sms::Undeliverable),
    /// The deployment's hourly cap on texts is reached; sending resumes next hour.
    #[error("texts are paused until the next hour")]
    SmsPaused { retry_after_secs: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    pub retry_after_secs: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No live code for this target: none sent, expired, used, or sent elsewhere.
    NoLiveCode,
    /// The wrong-try limit was reached; a new code must be requested.
    Exhausted,
    Wrong,
    Right,
}

fn recent(sends: &[i64], now: i64) -> Vec<i64> {
    sends
        .iter()
        .copied()
        .filter(|t| *t > now - HOUR_SECS)
        .collect()
}

impl OtpPolicy {
    /// Whether one more code may go out now to `target_log`'s destination.
    pub fn check_send(
        &self,
        now: i64,
        challenge: Option<&Challenge>,
        target_log: Option<&SendLog>,
    ) -> Result<(), RateLimited> {
        if let Some(c) = challenge {
            let ready_at = c.sent_at + self.resend_cooldown_secs;
            if c.sent_at > 0 && ready_at > now {
                return Err(RateLimited {
                    retry_after_secs: ready_at - now,
                });
            }
            let sends = recent(&c.sends, now);
            if sends.len() >= self.max_sends_per_user_per_hour {
                return Err(RateLimited {
                    retry_after_secs: sends[0] + HOUR_SECS - now,
                });
            }
        }
        if let Some(log) = target_log {
            let sends = recent(&log.sends, now);
            if sends.len() >= self.max_sends_per_target_per_hour {
                return Err(RateLimited {
                    retry_after_secs: sends[0] + HOUR_SECS - now,
                });
            }
        }
        Ok(())
    }

    /// What the client is told of a code sent to `masked_destination`.
    pub fn sent(&self, masked_destination: String) -> CodeSent {
        CodeSent {
            masked_destination,
            expires_in: self.lifetime_secs,
            resend_after: self.resend_cooldown_secs,
        }
    }

    /// The challenge after sending a fresh code to `target`.
    pub fn issue(
        &self,
        now: i64,
        previous: Option<&Challenge>,
        target: &str,
        digest: String,
    ) -> Challenge {
        Challenge {
            target: Some(target.to_owned()),
            digest: Some(digest),
            code_expires_at: now + self.lifetime_secs,
            ..Self::charge(self, now, previous)
        }
    }

    /// The challenge after a request that cost a send but sent nothing (it learnt that
    /// the destination is taken): the send counts against the cooldown and the hourly
    /// cap, and no code is live.
    pub fn charge(&self, now: i64, previous: Option<&Challenge>) -> Challenge {
        let mut sends = previous.map(|c| recent(&c.sends, now)).unwrap_or_default();
        sends.push(now);
        Challenge {
            target: None,
            digest: None,
            code_expires_at: 0,
            attempts: 0,
            sent_at: now,
            sends,
            rev: previous.map_or(0, |c| c.rev) + 1,
        }
    }

    pub fn log_send(&self, now: i64, previous: Option<&SendLog>) -> SendLog {
        let mut sends = previous.map(|l| recent(&l.sends, now)).unwrap_or_default();
        sends.push(now);
        SendLog {
            sends,
            rev: previous.map_or(0, |l| l.rev) + 1,
        }
    }

    /// Judges a submitted code; `matches` does the constant-time digest comparison.
    pub fn judge(
        &self,
        now: i64,
        challenge: Option<&Challenge>,
        target: &str,
        matches: impl FnOnce(&str) -> bool,
    ) -> Verdict {
        let Some(c) = challenge else {
            return Verdict::NoLiveCode;
        };
        let (Some(sent_to), Some(digest)) = (&c.target, &c.digest) else {
            return Verdict::NoLiveCode;
        };
        if sent_to != target || c.code_expires_at <= now {
            return Verdict::NoLiveCode;
        }
        if c.attempts >= self.max_attempts {
            return Verdict::Exhausted;
        }
        if matches(digest) {
            Verdict::Right
        } else {
            Verdict::Wrong
        }
    }
}

mod key;
pub use key::OtpKey;

#[cfg(test)]
mod tests;
