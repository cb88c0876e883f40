//! A profile PATCH that names a new `email`, after the phone change. Both sides prove
//! it, as Supabase Auth's secure email change does: without the codes (or with `resend`)
//! a 6-digit `token` goes to the new address and a 6-digit `token_checksum` to the
//! account's current proven email, or its proven number when the email is unproven;
//! nothing else is applied. With both, the whole PATCH applies in one transaction that
//! moves the account's credential (the address's uniqueness marker) and spends both
//! codes; the old address is told afterwards. So neither a stolen session nor a stolen
//! new mailbox moves the login: the current address or number must agree.
//!
//! The checksum's digest binds the new address, so it confirms only the change it was
//! sent for; a wrong token or checksum each counts against its own code's tries.

use domain::otp::{CodeRefusal, CodeSent, OtpCode, Purpose};
use domain::ports::{EmailSender, OtpKeys, SmsSender};
use domain::sms::Recipient;
use domain::{Actor, Email, ExpectedVersion, PhoneNumber, Profile, ProfilePatch, UserId};
use store::{
    AccountStore, ContactChange, ContactError, Destination, EmailChangeState, OneTimeCode,
    ProofState, SpentCode, StoreError,
};

use crate::codes::{self, CodeFailure, CodeFor, CodeSettings, Letter, target_of};

pub struct EmailChange<'a, S, E, K> {
    pub accounts: &'a AccountStore,
    pub sms: &'a S,
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
    /// The token went to the new address and the checksum to the current one.
    TokenSent { token: CodeSent, checksum: CodeSent },
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
    /// Neither the current email nor a number is proven: nobody could confirm the
    /// change from the account's side.
    #[error("the account has no proven email or number to confirm the change from")]
    NoProvenAddress,
    /// The only proven way to confirm from is a number changed within the day.
    #[error("the account's number changed too recently to confirm an email change")]
    NumberTooRecent,
    #[error("a token needs the token_checksum sent to the current address")]
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

/// Where the checksum goes, and what its code is judged against.
struct Confirmation<'a> {
    to: Destination<'a>,
    code: &'a OneTimeCode,
}

impl<S: SmsSender, E: EmailSender, K: OtpKeys> EmailChange<'_, S, E, K> {
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
        // An account whose unproven address another sign-up took holds none: it gets
        // one the same way, confirmed from its proven number.
        let current = profile.email.as_deref().and_then(|e| Email::parse(e).ok());
        if current
            .as_ref()
            .is_some_and(|c| c.normalized() == new_email.normalized())
        {
            return Ok(Outcome::Unchanged);
        }
        if patch
            .phone
            .as_ref()
            .is_some_and(|p| profile.phone.as_deref() != Some(p.e164()))
        {
            return Err(Refusal::PhoneAlsoChanging);
        }
        // Another account's unproven claim passes to whoever proves the address: this
        // change proves it by the token.
        if state.new_owner_proved
            && state
                .new_owner
                .as_deref()
                .is_some_and(|owner| owner != user.as_str())
        {
            // Learning that an address is taken costs a send: no free oracle.
            let now = self.codes.clock.now().timestamp();
            codes::charge(&self.codes.policy, &state.code, now).await?;
            return Err(Refusal::EmailTaken);
        }
        // A number proven by a change within the day does not confirm: a stolen
        // session could have just proven its thief's.
        let phone = profile.settled_phone(self.codes.clock.now());
        let proof = self
            .accounts
            .load_change_confirmation(user, current.as_ref(), phone.as_ref())
            .await?;
        let confirmation = confirmation(&proof, current.as_ref(), phone.as_ref()).map_err(
            |refusal| match refusal {
                Refusal::NoProvenAddress if profile.proven_phone().is_some() => {
                    Refusal::NumberTooRecent
                }
                other => other,
            },
        )?;
        match (&patch.token, &patch.token_checksum) {
            (Some(token), Some(checksum)) if !patch.resend => {
                let codes = (token, checksum);
                self.apply(request, &state, &confirmation, codes).await
            }
            (Some(_), None) if !patch.resend => Err(Refusal::ChecksumMissing),
            _ => self.send(user, new_email, &state, &confirmation).await,
        }
    }

    /// The checksum to the current address or number first (texts have caps a new
    /// address's email has not), then the token to the new address.
    async fn send(
        &self,
        user: &UserId,
        new_email: &Email,
        state: &EmailChangeState,
        confirmation: &Confirmation<'_>,
    ) -> Result<Outcome, Refusal> {
        let now = self.codes.clock.now().timestamp();
        let new_target = new_email.normalized();
        let holder_target = target_of(confirmation.to);
        let via = codes::ToHolder {
            sms: self.sms,
            quota: &self.accounts.sms_quota(),
            texts_as: Recipient::Holder,
            email: self.email,
            letter: CONFIRM_CHANGE,
        };
        let checksum = self
            .codes
            .send_to_holder(
                via,
                confirmation.to,
                confirmation.code,
                checksum_for(&checksum_subject(user, &new_target), &holder_target),
                now,
            )
            .await?;
        let mailing = codes::Mailing {
            email: self.email,
            letter: CHANGE_EMAIL,
        };
        let token = self
            .codes
            .send_by_email(
                mailing,
                &state.code,
                token_for(user, &new_target),
                new_email,
                now,
            )
            .await?;
        Ok(Outcome::TokenSent { token, checksum })
    }

    async fn apply(
        &self,
        request: &Request<'_>,
        state: &EmailChangeState,
        confirmation: &Confirmation<'_>,
        (token, checksum): (&OtpCode, &OtpCode),
    ) -> Result<Outcome, Refusal> {
        let Request {
            user,
            patch,
            new_email,
            actor,
            ..
        } = *request;
        let now = self.codes.clock.now();
        let new_target = new_email.normalized();
        let holder_target = target_of(confirmation.to);
        let token_digest = self
            .codes
            .check(
                &state.code,
                token_for(user, &new_target),
                token,
                now.timestamp(),
            )
            .await?;
        let subject = checksum_subject(user, &new_target);
        let checksum_digest = self
            .codes
            .check(
                confirmation.code,
                checksum_for(&subject, &holder_target),
                checksum,
                now.timestamp(),
            )
            .await?;
        let max_attempts = self.codes.policy.max_attempts;
        let spent = [
            SpentCode {
                code: &state.code,
                digest: &token_digest,
                max_attempts,
            },
            SpentCode {
                code: confirmation.code,
                digest: &checksum_digest,
                max_attempts,
            },
        ];
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
            codes: &spent,
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

/// Where the checksum goes: the current email when proven, else the proven number.
fn confirmation<'a>(
    proof: &'a ProofState,
    current: Option<&'a Email>,
    phone: Option<&'a PhoneNumber>,
) -> Result<Confirmation<'a>, Refusal> {
    let to = match (current.filter(|_| proof.email_proven()), phone) {
        (Some(email), _) => Destination::Email(email),
        (None, Some(phone)) => Destination::Phone(phone),
        (None, None) => return Err(Refusal::NoProvenAddress),
    };
    let code = proof.code(to).ok_or(Refusal::NoProvenAddress)?;
    Ok(Confirmation { to, code })
}

/// The token proves the new address for the user.
fn token_for<'a>(user: &'a UserId, new_address: &'a str) -> CodeFor<'a> {
    CodeFor {
        purpose: Purpose::ChangeEmail,
        subject: user.as_str(),
        target: new_address,
    }
}

/// The checksum's digest subject: the user and the one new address it confirms.
fn checksum_subject(user: &UserId, new_address: &str) -> String {
    format!("{}:{new_address}", user.as_str())
}

/// The checksum confirms, from where it went (`holder`), the change named by `subject`.
fn checksum_for<'a>(subject: &'a str, holder: &'a str) -> CodeFor<'a> {
    CodeFor {
        purpose: Purpose::ConfirmEmailChange,
        subject,
        target: holder,
    }
}

/// The email that carries the checksum of an email change, to the current address.
const CONFIRM_CHANGE: Letter = Letter {
    subject: "Confirm the change of your email address",
    text: |code, minutes| {
        format!(
            "Someone asked to change the email address of your account. If it was you, your \
             code to confirm it is {code}. It expires in {minutes} minutes. If it was not \
             you, do not share this code, and change your password."
        )
    },
};

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
