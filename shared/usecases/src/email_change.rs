//! A profile PATCH that names a new `email`, after the phone change: without
//! a token (or with `resend`) a 6-digit token goes by email to the new address and the
//! answer carries a `token_checksum`; nothing else is applied. With both the token and
//! the checksum the whole PATCH applies in one transaction that moves the account's
//! credential (the address's uniqueness marker) and spends the token; the old address
//! is told afterwards.
//!
//! The checksum is part of the token's digest subject, so a token with the wrong
//! checksum is a wrong token: it counts against the tries like any other.

use domain::otp::{CodeRefusal, CodeSent, OtpCode, Purpose, TokenChecksum};
use domain::ports::{EmailSender, OtpKeys};
use domain::{Actor, Email, ExpectedVersion, Profile, ProfilePatch, UserId};
use store::{AccountStore, ContactChange, ContactError, EmailChangeState, SpentCode, StoreError};

use crate::codes::{self, CodeFailure, CodeFor, CodeSettings, Letter};

pub struct EmailChange<'a, E, K> {
    pub accounts: &'a AccountStore,
    pub email: &'a E,
    pub codes: &'a CodeSettings<K>,
}

/// One request: the user, their whole PATCH (which names a new `email`) and its
/// conditions.
pub struct Request<'a> {
    pub user: &'a UserId,
    pub patch: &'a ProfilePatch,
    pub new_email: &'a Email,
    pub expected: ExpectedVersion,
    pub actor: &'a Actor,
}

#[derive(Debug)]
pub enum Outcome {
    /// A token went to the new address; the client needs `checksum` to apply it.
    TokenSent {
        sent: CodeSent,
        checksum: TokenChecksum,
    },
    /// The PATCH applied with the new address.
    Applied(Box<Profile>),
    /// The address is the account's already: the rest of the PATCH is the caller's.
    Unchanged,
}

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("the user has no profile yet")]
    NoProfile,
    #[error("the profile is not the version expected")]
    VersionConflict,
    #[error("another account has this email")]
    EmailTaken,
    /// The account signs in through an identity provider, which owns its email.
    #[error("the account has no password login whose email could move")]
    NoCredential,
    #[error("a token needs the token_checksum its request answered with")]
    ChecksumMissing,
    #[error("the email and the phone change in separate requests")]
    PhoneAlsoChanging,
    #[error("the patch would leave too many attributes")]
    TooManyAttributes,
    /// The code was refused, or a dependency or the store failed.
    #[error(transparent)]
    Failed(CodeFailure),
}

codes::refusal_from_failure!(Refusal);

/// The digest subject: the user and the checksum their request was answered with.
fn subject(user: &UserId, checksum: &TokenChecksum) -> String {
    format!("{}:{}", user.as_str(), checksum.expose())
}

impl<E: EmailSender, K: OtpKeys> EmailChange<'_, E, K> {
    pub async fn run(&self, request: &Request<'_>) -> Result<Outcome, Refusal> {
        let Request {
            user,
            patch,
            new_email,
            expected,
            ..
        } = *request;
        let state = self.accounts.load_email_change(user, new_email).await?;
        let profile = state.profile.as_ref().ok_or(Refusal::NoProfile)?;
        if !expected.holds_for(Some(profile)) {
            return Err(Refusal::VersionConflict);
        }
        let current = profile.email.as_deref().and_then(|e| Email::parse(e).ok());
        let Some(current) = current else {
            return Err(Refusal::NoCredential);
        };
        if current.normalized() == new_email.normalized() {
            return Ok(Outcome::Unchanged);
        }
        if patch
            .phone
            .as_ref()
            .is_some_and(|p| profile.phone.as_deref() != Some(p.e164()))
        {
            return Err(Refusal::PhoneAlsoChanging);
        }
        if state
            .new_owner
            .as_deref()
            .is_some_and(|owner| owner != user.as_str())
        {
            // Learning that an address is taken costs a send: no free oracle.
            let now = self.codes.clock.now().timestamp();
            codes::charge(&self.codes.policy, &state.code, now).await?;
            return Err(Refusal::EmailTaken);
        }
        match (&patch.token, &patch.token_checksum) {
            (Some(token), Some(checksum)) if !patch.resend => {
                self.apply(request, &state, token, checksum).await
            }
            (Some(_), None) if !patch.resend => Err(Refusal::ChecksumMissing),
            _ => self.send_token(user, new_email, &state).await,
        }
    }

    async fn send_token(
        &self,
        user: &UserId,
        new_email: &Email,
        state: &EmailChangeState,
    ) -> Result<Outcome, Refusal> {
        let checksum = TokenChecksum::generate();
        let (subject, target) = (subject(user, &checksum), new_email.normalized());
        let code = CodeFor {
            purpose: Purpose::ChangeEmail,
            subject: &subject,
            target: &target,
        };
        let now = self.codes.clock.now().timestamp();
        let sent = self
            .codes
            .send_by_email(
                codes::Mailing {
                    email: self.email,
                    letter: CHANGE_EMAIL,
                },
                &state.code,
                code,
                new_email,
                now,
            )
            .await?;
        Ok(Outcome::TokenSent { sent, checksum })
    }

    async fn apply(
        &self,
        request: &Request<'_>,
        state: &EmailChangeState,
        token: &OtpCode,
        checksum: &TokenChecksum,
    ) -> Result<Outcome, Refusal> {
        let Request {
            user,
            patch,
            new_email,
            actor,
            ..
        } = *request;
        let (subject, target) = (subject(user, checksum), new_email.normalized());
        let code = CodeFor {
            purpose: Purpose::ChangeEmail,
            subject: &subject,
            target: &target,
        };
        let now = self.codes.clock.now();
        let digest = self
            .codes
            .check(&state.code, code, token, now.timestamp())
            .await?;
        let rest = ProfilePatch {
            email: None,
            token: None,
            token_checksum: None,
            phone: None,
            code: None,
            resend: false,
            ..patch.clone()
        };
        let change = ContactChange {
            user,
            patch: &rest,
            email: Some(new_email),
            phone: None,
            actor,
            code: Some(SpentCode {
                code: &state.code,
                digest: &digest,
                max_attempts: self.codes.policy.max_attempts,
            }),
            read: state.profile.as_ref(),
        };
        let old_email = state.profile.as_ref().and_then(|p| p.email.clone());
        let profile = self
            .accounts
            .set_contact(&change, now)
            .await
            .map_err(|e| match e {
                ContactError::NotFound => Refusal::NoProfile,
                ContactError::EmailTaken => Refusal::EmailTaken,
                ContactError::NoCredential => Refusal::NoCredential,
                ContactError::TooManyAttributes => Refusal::TooManyAttributes,
                ContactError::CodeGone => CodeRefusal::Expired.into(),
                ContactError::PhoneTaken => {
                    StoreError::Failed("no number was changed".into()).into()
                }
                ContactError::Store(e) => e.into(),
            })?;
        if let Some(old) = old_email.as_deref().and_then(|e| Email::parse(e).ok()) {
            self.tell_old_address(&old, new_email).await;
        }
        Ok(Outcome::Applied(Box::new(profile)))
    }

    /// The old address learns of the change; the change stands if this fails.
    async fn tell_old_address(&self, old: &Email, new: &Email) {
        let text = format!(
            "The email address of your account was changed to {}. \
             If you did not do this, contact support at once.",
            new.masked()
        );
        if let Err(e) = self
            .email
            .send(old, "Your email address was changed", &text)
            .await
        {
            tracing::warn!(error = %e, "the old address was not told of the change");
        }
    }
}

/// The email that carries the token of an email change, to the new address.
const CHANGE_EMAIL: Letter = Letter {
    subject: "Confirm your new email address",
    text: |token, minutes| {
        format!(
            "Your token to confirm this address is {token}. It expires in {minutes} minutes. \
             If you did not ask to change your email, ignore this message."
        )
    },
};
