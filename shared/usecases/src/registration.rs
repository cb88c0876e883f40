//! Sign-up with an email (seed 001) and proving the email with a code (issue 8). The
//! account and its profile are created at once, unverified; a 6-digit code goes to the
//! address under the OTP rules of SPEC §5 (the same `OtpPolicy` and code items as the
//! phone change); the right code marks the email verified, after which login works.

use domain::otp::{OtpCode, OtpPolicy, Purpose, Verdict};
use domain::password::{self, Password};
use domain::ports::{EmailSender, OtpKeys};
use domain::{Clock, ConsentActor, Email, PhoneNumber, Profile, ProfilePatch, UserId};
use store::{AccountCode, AccountRecord, AccountStore, RegisterError, StoreError, VerifyError};

pub struct Registration<'a, E, K> {
    pub accounts: &'a AccountStore,
    pub email: &'a E,
    pub keys: &'a K,
    pub policy: &'a OtpPolicy,
    pub clock: &'a Clock,
}

pub struct NewAccount {
    pub email: Email,
    pub password: Password,
    pub profile: ProfilePatch,
    pub phone: Option<PhoneNumber>,
    /// Names the sign-up in the consent audit trail.
    pub request_id: String,
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
    #[error("too many codes requested")]
    RateLimited { retry_after_secs: u64 },
    #[error("no live code")]
    CodeExpired,
    #[error("too many wrong codes")]
    AttemptsExceeded,
    #[error("wrong code")]
    WrongCode { tries_left: u32 },
    #[error("a dependency is unavailable: {0}")]
    DependencyUnavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub(crate) fn new_user_id() -> UserId {
    UserId::parse(&format!("usr_{}", domain::session::new_family_id()))
        .expect("a generated id is valid")
}

impl<E: EmailSender, K: OtpKeys> Registration<'_, E, K> {
    pub async fn register(&self, account: NewAccount) -> Result<(Profile, Delivery), Refusal> {
        let password = account.password.clone();
        let hash = tokio::task::spawn_blocking(move || password::hash(&password))
            .await
            .map_err(|e| Refusal::DependencyUnavailable(e.to_string()))?;
        let user = new_user_id();
        let actor = ConsentActor {
            source: "self",
            actor: user.to_string(),
            request_id: account.request_id.clone(),
        };
        let record = AccountRecord {
            user: &user,
            email: &account.email,
            password_hash: &hash,
            profile: &account.profile,
            actor: &actor,
            now: self.clock.now(),
        };
        let profile = self
            .accounts
            .register(&record, account.phone.as_ref())
            .await
            .map_err(|e| match e {
                RegisterError::EmailTaken => Refusal::EmailTaken,
                RegisterError::Store(e) => Refusal::Store(e),
                other => Refusal::Store(StoreError::Failed(format!(
                    "an email sign-up cannot fail so: {other}"
                ))),
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

    /// A code to the account's address, under the send limits.
    pub async fn send_code(&self, email: &Email) -> Result<(), Refusal> {
        let policy = self.policy;
        let now = self.clock.now().timestamp();
        let state = self.accounts.load_email_verification(email).await?;
        let credential = state.credential.as_ref().ok_or(Refusal::UnknownEmail)?;
        if credential.email_verified {
            return Err(Refusal::AlreadyVerified);
        }
        let user = UserId::parse(&credential.user_id)
            .map_err(|e| StoreError::Failed(format!("stored user id: {e}")))?;
        policy
            .check_send(now, state.challenge.as_ref(), state.sends.as_ref())
            .map_err(|limited| Refusal::RateLimited {
                retry_after_secs: limited.retry_after_secs.max(1) as u64,
            })?;
        let key = self
            .keys
            .key()
            .await
            .map_err(|e| Refusal::DependencyUnavailable(e.to_string()))?;
        let code = OtpCode::generate();
        let target = email.normalized();
        let digest = key.digest(Purpose::VerifyEmail, user.as_str(), &target, &code);
        let challenge = policy.issue(now, state.challenge.as_ref(), &target, digest);
        let log = policy.log_send(now, state.sends.as_ref());
        if !self
            .accounts
            .reserve_code(
                AccountCode::VerifyEmail(email),
                &state.codes(),
                &challenge,
                &log,
                now,
            )
            .await?
        {
            return Err(Refusal::RateLimited {
                retry_after_secs: policy.resend_cooldown_secs.max(1) as u64,
            });
        }
        let minutes = (policy.lifetime_secs + 59) / 60;
        let text = format!(
            "Your verification code is {}. It expires in {minutes} minutes.",
            code.expose()
        );
        if let Err(e) = self
            .email
            .send(email, "Your verification code", &text)
            .await
        {
            if let Err(release) = self
                .accounts
                .release_code(
                    AccountCode::VerifyEmail(email),
                    &state.codes(),
                    &challenge,
                    &log,
                )
                .await
            {
                tracing::warn!(error = %release, "could not release the unsent code's cooldown");
            }
            return Err(Refusal::DependencyUnavailable(e.to_string()));
        }
        Ok(())
    }

    /// Checks `code` against the live one; the right one marks the email verified.
    pub async fn verify(&self, email: &Email, code: &OtpCode) -> Result<(), Refusal> {
        let policy = self.policy;
        let now = self.clock.now().timestamp();
        let state = self.accounts.load_email_verification(email).await?;
        let credential = state.credential.as_ref().ok_or(Refusal::CodeExpired)?;
        if credential.email_verified {
            return Err(Refusal::AlreadyVerified);
        }
        let user = UserId::parse(&credential.user_id)
            .map_err(|e| StoreError::Failed(format!("stored user id: {e}")))?;
        let key = self
            .keys
            .key()
            .await
            .map_err(|e| Refusal::DependencyUnavailable(e.to_string()))?;
        let target = email.normalized();
        let verdict = policy.judge(now, state.challenge.as_ref(), &target, |digest| {
            key.matches(Purpose::VerifyEmail, user.as_str(), &target, code, digest)
        });
        let digest = state
            .challenge
            .as_ref()
            .and_then(|c| c.digest.clone())
            .unwrap_or_default();
        match verdict {
            Verdict::NoLiveCode => Err(Refusal::CodeExpired),
            Verdict::Exhausted => Err(Refusal::AttemptsExceeded),
            Verdict::Wrong => match self
                .accounts
                .record_wrong_code(AccountCode::VerifyEmail(email), &digest)
                .await?
            {
                None => Err(Refusal::CodeExpired),
                Some(n) if n >= policy.max_attempts => Err(Refusal::AttemptsExceeded),
                Some(n) => Err(Refusal::WrongCode {
                    tries_left: policy.max_attempts - n,
                }),
            },
            Verdict::Right => self
                .accounts
                .commit_email_verification(email, &digest, policy.max_attempts, now)
                .await
                .map_err(|e| match e {
                    VerifyError::CodeGone => Refusal::CodeExpired,
                    VerifyError::Store(e) => Refusal::Store(e),
                }),
        }
    }
}
