//! A profile PATCH that names a new `phone`. Without a code (or with
//! `resend`) a code goes by SMS to the new number and nothing else is applied; with the
//! right code the whole PATCH applies atomically, with the number's uniqueness claim and
//! the code consumed in the same transaction.
//!
//! Sending reserves the send slot first (a conditional transaction), then sends; if the
//! SMS fails the reservation is released, so no cooldown is charged for a message that
//! never left.

use crate::codes::{self, CodeFailure, CodeFor, CodeSettings};
use domain::otp::{CodeRefusal, CodeSent, OtpCode, Purpose};
use domain::ports::{OtpKeys, SmsSender};
use domain::{Actor, ExpectedVersion, PhoneNumber, Profile, ProfilePatch, UserId};
use store::{
    CommitError, PatchError, PhoneChangeState, ProfileStore, StoreError, VerifiedPhoneChange,
};

/// Reads and writes the verification may repeat when a concurrent profile write wins.
const COMMIT_ATTEMPTS: usize = 4;

/// What the use case works with.
pub struct PhoneChange<'a, S, K> {
    pub profiles: &'a ProfileStore,
    pub sms: &'a S,
    pub codes: &'a CodeSettings<K>,
}

/// One request: the user, their whole PATCH (which names `phone`) and its conditions.
pub struct Request<'a> {
    pub user: &'a UserId,
    pub patch: &'a ProfilePatch,
    pub phone: &'a PhoneNumber,
    pub expected: ExpectedVersion,
    pub actor: &'a Actor,
}

#[derive(Debug)]
pub enum Outcome {
    /// A code went to the new number; nothing else changed.
    CodeSent(CodeSent),
    /// The PATCH applied (the number verified, or already the verified one).
    Applied(Box<Profile>),
}

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("the profile is not the version expected")]
    VersionConflict,
    #[error("another account holds the number")]
    PhoneTaken,
    #[error("the patch would leave too many attributes")]
    TooManyAttributes,
    /// The code was refused, or the SMS gateway, the key store or the store failed
    /// (nothing is charged, the client may retry).
    #[error(transparent)]
    Failed(CodeFailure),
}

codes::refusal_from_failure!(Refusal);

impl From<PatchError> for Refusal {
    fn from(e: PatchError) -> Self {
        match e {
            PatchError::VersionConflict | PatchError::NotFound => Self::VersionConflict,
            PatchError::TooManyAttributes => Self::TooManyAttributes,
            PatchError::Store(e) => e.into(),
        }
    }
}

/// A right code either committed, or found the profile changed since it was read.
enum Verified {
    Applied(Box<Profile>),
    ReadAgain,
}

impl<S: SmsSender, K: OtpKeys> PhoneChange<'_, S, K> {
    pub async fn run(&self, request: &Request<'_>) -> Result<Outcome, Refusal> {
        let Request {
            user,
            patch,
            phone,
            expected,
            actor,
        } = *request;
        for _ in 0..COMMIT_ATTEMPTS {
            let state = self.profiles.load_phone_change(user, phone).await?;
            if !expected.holds_for(state.profile.as_ref()) {
                return Err(Refusal::VersionConflict);
            }
            if let Some(current) = &state.profile
                && patch.code.is_none()
                && !patch.resend
                && current.phone_verified
                && current.phone.as_deref() == Some(phone.e164())
            {
                // The verified number again and no code: nothing to verify; apply the rest.
                let rest = ProfilePatch {
                    phone: None,
                    code: None,
                    resend: false,
                    ..patch.clone()
                };
                if !rest.changes_profile_fields() {
                    return Ok(Outcome::Applied(Box::new(current.clone())));
                }
                let profile = self
                    .profiles
                    .patch(user, &rest, expected, actor, &self.codes.clock)
                    .await?;
                return Ok(Outcome::Applied(Box::new(profile)));
            }
            let taken = state
                .owner
                .as_deref()
                .is_some_and(|owner| owner != user.as_str());
            let code = match &patch.code {
                Some(code) if !patch.resend => code,
                // Learning that a number is taken costs a send: no free oracle.
                _ if taken => {
                    codes::charge(
                        &self.codes.policy,
                        &state.code,
                        self.codes.clock.now().timestamp(),
                    )
                    .await?;
                    return Err(Refusal::PhoneTaken);
                }
                _ => return self.send_code(user, phone, &state).await,
            };
            // With a code, the code is judged first; a taken number then fails the
            // commit's claim on its marker.
            let change = VerifiedPhoneChange {
                phone,
                patch,
                actor,
                max_attempts: self.codes.policy.max_attempts,
            };
            match self.verify(user, change, code, &state).await? {
                Verified::Applied(profile) => return Ok(Outcome::Applied(profile)),
                Verified::ReadAgain => continue,
            }
        }
        Err(StoreError::Unavailable("the phone change kept losing races".into()).into())
    }

    async fn send_code(
        &self,
        user: &UserId,
        phone: &PhoneNumber,
        state: &PhoneChangeState,
    ) -> Result<Outcome, Refusal> {
        let now = self.codes.clock.now().timestamp();
        let sent = self
            .codes
            .send_by_sms(
                codes::Texting {
                    sms: self.sms,
                    quota: &self.profiles.sms_quota(),
                    to: domain::sms::Recipient::NewNumber,
                },
                &state.code,
                code_for(user, phone),
                phone,
                now,
            )
            .await?;
        Ok(Outcome::CodeSent(sent))
    }

    async fn verify(
        &self,
        user: &UserId,
        change: VerifiedPhoneChange<'_>,
        code: &OtpCode,
        state: &PhoneChangeState,
    ) -> Result<Verified, Refusal> {
        let phone = change.phone;
        let now = self.codes.clock.now();
        self.codes
            .check(&state.code, code_for(user, phone), code, now.timestamp())
            .await?;
        match self
            .profiles
            .commit_phone_change(user, state, &change, now)
            .await
        {
            Ok(next) => {
                tracing::info!(phone = %phone, "phone verified");
                Ok(Verified::Applied(Box::new(next)))
            }
            Err(CommitError::TooManyAttributes) => Err(Refusal::TooManyAttributes),
            Err(CommitError::PhoneTaken) => Err(Refusal::PhoneTaken),
            Err(CommitError::CodeGone) => Err(CodeRefusal::Expired.into()),
            Err(CommitError::ProfileChanged) => Ok(Verified::ReadAgain),
            Err(CommitError::Store(e)) => Err(e.into()),
        }
    }
}

/// A phone change's code proves the new number for the user.
fn code_for<'a>(user: &'a UserId, phone: &'a PhoneNumber) -> CodeFor<'a> {
    CodeFor {
        purpose: Purpose::PhoneChange,
        subject: user.as_str(),
        target: phone.e164(),
    }
}
