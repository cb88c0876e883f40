//! The first second factor an account gets (an authenticator app or a passkey) is
//! confirmed from the account's proven email, else from a number it has held for a day.
//! A password and a fresh login are not enough: whoever stole the password could set up
//! a factor of their own, and the holder's next login and every step-up would then ask
//! for it. Later factors need no code: step-up asks for the existing one (`aal2`).
//! An account with neither a proven email nor a proven number has nothing to confirm
//! from; its recent login is all it can show.
//!
//! The first request without a `code` sends one and sets nothing up; the same request
//! with the code goes on. The code is spent before the set-up begins, on the condition
//! that counts its tries, like an erasure's.

use domain::otp::{CodeRefusal, CodeSent, OtpCode, Purpose};
use domain::ports::{EmailSender, OtpKeys, SmsSender};
use domain::sms::Recipient;
use domain::{Email, Profile, UserId};
use store::{AccountStore, Destination};

use crate::codes::{self, CodeFailure, CodeFor, CodeSettings, Letter, target_of};

pub struct FactorConfirmation<'a, S, E, K> {
    pub accounts: &'a AccountStore,
    pub sms: &'a S,
    pub email: &'a E,
    pub codes: &'a CodeSettings<K>,
}

#[derive(Debug)]
pub enum Confirmed {
    /// The set-up may go on: the code was right, or the account needs none.
    Yes,
    /// No code came: one went to the holder, and nothing was set up.
    CodeSent(CodeSent),
}

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The only proven way to confirm from is a number changed within the day.
    #[error("the account's number changed too recently to confirm a new factor")]
    NumberTooRecent,
    /// The code was refused, or a dependency or the store failed.
    #[error(transparent)]
    Failed(CodeFailure),
}

codes::refusal_from_failure!(Refusal);

impl<S: SmsSender, E: EmailSender, K: OtpKeys> FactorConfirmation<'_, S, E, K> {
    /// Whether a new factor of `user` may be set up, given `code` (or none yet).
    /// `has_factor` is the read step-up judged the token by: judged on one read, a
    /// factor the holder adds meanwhile cannot let a password-only token skip both.
    pub async fn confirm(
        &self,
        user: &UserId,
        profile: &Profile,
        has_factor: bool,
        code: Option<&OtpCode>,
    ) -> Result<Confirmed, Refusal> {
        if has_factor {
            return Ok(Confirmed::Yes);
        }
        let now = self.codes.clock.now();
        let email = profile.email.as_deref().and_then(|e| Email::parse(e).ok());
        let phone = profile.settled_phone(now);
        let state = self
            .accounts
            .load_factor_confirmation(user, email.as_ref(), phone.as_ref())
            .await?;
        let to = match (email.as_ref().filter(|_| state.email_proven()), &phone) {
            (Some(email), _) => Destination::Email(email),
            (None, Some(phone)) => Destination::Phone(phone),
            // A number proven by a change within the day may be a thief's.
            (None, None) if profile.proven_phone().is_some() => {
                return Err(Refusal::NumberTooRecent);
            }
            (None, None) => return Ok(Confirmed::Yes),
        };
        let items = state
            .code(to)
            .ok_or_else(|| store::StoreError::Failed("the code's items were not read".into()))?;
        let target = target_of(to);
        let code_for = CodeFor {
            purpose: Purpose::AddFactor,
            subject: user.as_str(),
            target: &target,
        };
        let now = now.timestamp();
        let Some(code) = code else {
            let via = codes::ToHolder {
                sms: self.sms,
                quota: &self.accounts.sms_quota(),
                texts_as: Recipient::Holder,
                email: self.email,
                letter: ADD_FACTOR,
            };
            let sent = self
                .codes
                .send_to_holder(via, to, items, code_for, now)
                .await?;
            return Ok(Confirmed::CodeSent(sent));
        };
        let digest = self.codes.check(items, code_for, code, now).await?;
        if !items
            .spend_alone(&digest, self.codes.policy.max_attempts, now)
            .await?
        {
            return Err(CodeRefusal::Expired.into());
        }
        Ok(Confirmed::Yes)
    }
}

/// The email that carries the code confirming a first second factor.
const ADD_FACTOR: Letter = Letter {
    subject: "Confirm a new way to sign in",
    text: |code, minutes| {
        format!(
            "Someone asked to add an authenticator app or a passkey to your account. If it \
             was you, your code to confirm it is {code}. It expires in {minutes} minutes. If \
             it was not you, do not share this code, and change your password."
        )
    },
};
