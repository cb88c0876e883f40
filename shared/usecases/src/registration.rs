//! Sign-up with an email (seed 001) and proving the email with a code. The
//! account and its profile are created at once, unverified; a 6-digit code goes to the
//! address under the one-time code rules (the same `OtpPolicy` and code items as the
//! phone change); the right code marks the email verified, after which login works.

use domain::otp::{CodeRefusal, OtpCode, Purpose};
use domain::password::Password;
use domain::ports::{EmailSender, OtpKeys};
use domain::source::RequestSource;
use domain::{Actor, Email, PhoneNumber, Profile, ProfilePatch, UserId};
use store::{
    AccountRecord, AccountStore, EmailVerificationState, RegisterError, SpentCode, StoreError,
    VerifyError,
};

use crate::codes::{self, CodeFailure, CodeFor, CodeSettings, Letter};

pub struct Registration<'a, E, K> {
    pub accounts: &'a AccountStore,
    pub email: &'a E,
    pub codes: &'a CodeSettings<K>,
}

pub struct NewAccount {
    pub email: Email,
    pub password: Password,
    pub profile: ProfilePatch,
    pub phone: Option<PhoneNumber>,
    /// Names the sign-up in the consent audit trail.
    pub request_id: String,
    /// Where the request came from: sign-ups are counted per source.
    pub source: RequestSource,
}

/// Whether the code left with the sign-up; a failure leaves the account, and the code
/// can be asked for again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    NotSent,
}

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("another account has this email")]
    EmailTaken,
    #[error("no account has this email")]
    UnknownEmail,
    #[error("the email is verified already")]
    AlreadyVerified,
    /// A code for an address that is unknown, proven already, or whose code is wrong,
    /// spent, expired or burned: one refusal, so the answer tells none of these apart.
    #[error("the code is not accepted")]
    CodeNotAccepted,
    /// The code was refused, or a dependency or the store failed.
    #[error(transparent)]
    Failed(CodeFailure),
}

codes::refusal_from_failure!(Refusal);

pub(crate) fn new_user_id() -> UserId {
    UserId::parse(&format!("usr_{}", domain::session::new_family_id()))
        .expect("a generated id is valid")
}

impl<E: EmailSender, K: OtpKeys> Registration<'_, E, K> {
    pub async fn register(&self, account: NewAccount) -> Result<(Profile, Delivery), Refusal> {
        // Before the hash: a refused request costs no CPU, and each answer says whether
        // the email is registered.
        let now = self.codes.clock.now().timestamp();
        codes::charge_source(&self.codes.policy, self.accounts, &account.source, now).await?;
        let hash = crate::hashing::hash(&account.password).await?;
        let user = new_user_id();
        let actor = Actor {
            source: domain::Source::Holder,
            actor: user.to_string(),
            request_id: account.request_id.clone(),
        };
        let record = AccountRecord {
            user: &user,
            email: &account.email,
            password_hash: &hash,
            profile: &account.profile,
            actor: &actor,
            now: self.codes.clock.now(),
        };
        let profile = self
            .accounts
            .register(&record, account.phone.as_ref())
            .await
            .map_err(|e| match e {
                RegisterError::EmailTaken => Refusal::EmailTaken,
                RegisterError::Store(e) => e.into(),
                other => {
                    StoreError::Failed(format!("an email sign-up cannot fail so: {other}")).into()
                }
            })?;
        let delivery = match self.send_code(&account.email).await {
            Ok(()) => Delivery::Sent,
            Err(e) => {
                tracing::warn!(error = %e, "sign-up code not sent");
                Delivery::NotSent
            }
        };
        Ok((profile, delivery))
    }

    /// An anonymous request for a new code, charged to its source's hourly budget
    /// first: a code goes to an unverified account's address, under the send limits;
    /// an unknown or proven address, or one sent a code too recently, gets nothing, and
    /// the caller is told none of this.
    pub async fn resend(&self, email: &Email, source: &RequestSource) -> Result<(), Refusal> {
        let now = self.codes.clock.now().timestamp();
        codes::charge_source(&self.codes.policy, self.accounts, source, now).await?;
        match self.send_code(email).await {
            Err(
                Refusal::UnknownEmail
                | Refusal::AlreadyVerified
                | Refusal::Failed(CodeFailure::Refused(CodeRefusal::RateLimited { .. })),
            ) => Ok(()),
            other => other,
        }
    }

    /// A code to the account's address, under the send limits.
    async fn send_code(&self, email: &Email) -> Result<(), Refusal> {
        let now = self.codes.clock.now().timestamp();
        let state = self.accounts.load_email_verification(email).await?;
        let user = unverified_owner(&state, Refusal::UnknownEmail)?;
        let target = email.normalized();
        self.codes
            .send_by_email(
                codes::Mailing {
                    email: self.email,
                    letter: VERIFY_EMAIL,
                },
                &state.code,
                code_for(&user, &target),
                email,
                now,
            )
            .await?;
        Ok(())
    }

    /// An anonymous code for `email`, charged to its source's hourly budget first; the
    /// right one marks the email verified. Every other outcome but a failure of ours is
    /// `CodeNotAccepted`: unknown, proven, wrong, spent or burned look alike.
    pub async fn verify(
        &self,
        email: &Email,
        code: &OtpCode,
        source: &RequestSource,
    ) -> Result<(), Refusal> {
        let now = self.codes.clock.now().timestamp();
        codes::charge_source(&self.codes.policy, self.accounts, source, now).await?;
        match self.check_code(email, code).await {
            Err(
                Refusal::UnknownEmail
                | Refusal::AlreadyVerified
                | Refusal::Failed(CodeFailure::Refused(
                    CodeRefusal::Wrong { .. }
                    | CodeRefusal::Expired
                    | CodeRefusal::AttemptsExceeded,
                )),
            ) => Err(Refusal::CodeNotAccepted),
            other => other,
        }
    }

    /// Checks `code` against the live one; the right one marks the email verified.
    async fn check_code(&self, email: &Email, code: &OtpCode) -> Result<(), Refusal> {
        let policy = &self.codes.policy;
        let now = self.codes.clock.now().timestamp();
        let state = self.accounts.load_email_verification(email).await?;
        let user = unverified_owner(&state, CodeRefusal::Expired.into())?;
        let target = email.normalized();
        let digest = self
            .codes
            .check(&state.code, code_for(&user, &target), code, now)
            .await?;
        let spent = SpentCode {
            code: &state.code,
            digest: &digest,
            max_attempts: policy.max_attempts,
        };
        self.accounts
            .commit_email_verification(email, &spent, now)
            .await
            .map_err(|e| match e {
                VerifyError::CodeGone => CodeRefusal::Expired.into(),
                VerifyError::Store(e) => e.into(),
            })
    }
}

/// The account an unverified address belongs to; `missing` when none has it.
fn unverified_owner(state: &EmailVerificationState, missing: Refusal) -> Result<UserId, Refusal> {
    let credential = state.credential.as_ref().ok_or(missing)?;
    if credential.email_verified {
        return Err(Refusal::AlreadyVerified);
    }
    Ok(UserId::parse(&credential.user_id)
        .map_err(|e| StoreError::Failed(format!("stored user id: {e}")))?)
}

/// The email that carries a sign-up's code.
const VERIFY_EMAIL: Letter = Letter {
    subject: "Your verification code",
    text: |code, minutes| {
        format!("Your verification code is {code}. It expires in {minutes} minutes.")
    },
};

/// An email code proves the address for the account that registered it.
fn code_for<'a>(user: &'a UserId, address: &'a str) -> CodeFor<'a> {
    CodeFor {
        purpose: Purpose::VerifyEmail,
        subject: user.as_str(),
        target: address,
    }
}
