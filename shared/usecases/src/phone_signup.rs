//! Seed 000's sign-up (`POST /users/register`): an account proven by its phone number.
//! Without a code (or with `resend`) a 6-digit code goes by SMS to the number and only
//! the code is stored; with the right code the account, its profile (phone verified),
//! the number's marker, the spent code and the first login session are written in one
//! transaction, and the caller gets the account and its tokens.
//!
//! No account exists while the code is out, so the code is bound to the email being
//! registered (its digest's subject): a code sent for one sign-up cannot finish another.

use domain::otp::{OtpCode, OtpPolicy, Purpose, Verdict};
use domain::password::{self, Password};
use domain::ports::{AccessTokens, OtpKeys, SmsSender};
use domain::{Clock, ConsentActor, Email, PhoneNumber, Profile, ProfilePatch};
use store::{
    AccountCode, AccountRecord, AccountStore, PhoneRegistrationState, RegisterError, SpentCode,
    StoreError,
};

use crate::auth::{Tokens, issue};
use crate::registration::new_user_id;

pub struct PhoneSignUp<'a, S, K, T> {
    pub accounts: &'a AccountStore,
    pub sms: &'a S,
    pub keys: &'a K,
    pub tokens: &'a T,
    pub policy: &'a OtpPolicy,
    pub clock: &'a Clock,
}

pub struct Request {
    pub email: Email,
    pub password: Password,
    pub phone: PhoneNumber,
    /// The rest of the profile: names, birth date, consents, attributes...
    pub profile: ProfilePatch,
    pub code: Option<OtpCode>,
    pub resend: bool,
    /// Names the sign-up in the consent audit trail.
    pub request_id: String,
}

#[derive(Debug)]
pub enum Outcome {
    /// A code went to the number; nothing but the code is stored.
    CodeSent {
        masked_phone: String,
        expires_in: i64,
        resend_after: i64,
    },
    /// The account exists, with a session open.
    Registered {
        profile: Box<Profile>,
        tokens: Tokens,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("another account has this email")]
    EmailTaken,
    #[error("another account holds the number")]
    PhoneTaken,
    #[error("too many codes requested")]
    RateLimited { retry_after_secs: u64 },
    #[error("no live code for this number")]
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

impl<S: SmsSender, K: OtpKeys, T: AccessTokens> PhoneSignUp<'_, S, K, T> {
    pub async fn run(&self, request: Request) -> Result<Outcome, Refusal> {
        let state = self
            .accounts
            .load_phone_registration(&request.email, &request.phone)
            .await?;
        if state.email_taken {
            return Err(Refusal::EmailTaken);
        }
        if state.phone_owner.is_some() {
            return Err(Refusal::PhoneTaken);
        }
        match &request.code {
            Some(code) if !request.resend => self.register(&request, code, &state).await,
            _ => self.send_code(&request, &state).await,
        }
    }

    async fn send_code(
        &self,
        request: &Request,
        state: &PhoneRegistrationState,
    ) -> Result<Outcome, Refusal> {
        let (policy, phone) = (self.policy, &request.phone);
        let now = self.clock.now().timestamp();
        let limited = |retry_after_secs: i64| Refusal::RateLimited {
            retry_after_secs: retry_after_secs.max(1) as u64,
        };
        policy
            .check_send(now, state.challenge.as_ref(), state.sends.as_ref())
            .map_err(|l| limited(l.retry_after_secs))?;
        let key = self.keys.key().await.map_err(unavailable)?;
        let code = OtpCode::generate();
        let digest = key.digest(
            Purpose::RegisterPhone,
            &request.email.normalized(),
            phone.e164(),
            &code,
        );
        let challenge = policy.issue(now, state.challenge.as_ref(), phone.e164(), digest);
        let log = policy.log_send(now, state.sends.as_ref());
        let which = AccountCode::RegisterPhone(phone);
        if !self
            .accounts
            .reserve_code(which, &state.codes(), &challenge, &log, now)
            .await?
        {
            return Err(limited(policy.resend_cooldown_secs));
        }
        if let Err(e) = self.sms.send_code(phone, &code, policy.lifetime_secs).await {
            if let Err(release) = self
                .accounts
                .release_code(which, &state.codes(), &challenge, &log)
                .await
            {
                tracing::warn!(error = %release, "could not release the unsent code's cooldown");
            }
            return Err(Refusal::DependencyUnavailable(e.to_string()));
        }
        tracing::info!(to = %phone, "sign-up code sent");
        Ok(Outcome::CodeSent {
            masked_phone: phone.masked(),
            expires_in: policy.lifetime_secs,
            resend_after: policy.resend_cooldown_secs,
        })
    }

    async fn register(
        &self,
        request: &Request,
        code: &OtpCode,
        state: &PhoneRegistrationState,
    ) -> Result<Outcome, Refusal> {
        let (policy, phone) = (self.policy, &request.phone);
        let now = self.clock.now();
        let key = self.keys.key().await.map_err(unavailable)?;
        let subject = request.email.normalized();
        let verdict = policy.judge(
            now.timestamp(),
            state.challenge.as_ref(),
            phone.e164(),
            |digest| key.matches(Purpose::RegisterPhone, &subject, phone.e164(), code, digest),
        );
        let digest = state
            .challenge
            .as_ref()
            .and_then(|c| c.digest.as_deref())
            .unwrap_or_default();
        match verdict {
            Verdict::NoLiveCode => return Err(Refusal::CodeExpired),
            Verdict::Exhausted => return Err(Refusal::AttemptsExceeded),
            Verdict::Wrong => {
                return match self
                    .accounts
                    .record_wrong_code(AccountCode::RegisterPhone(phone), digest)
                    .await?
                {
                    None => Err(Refusal::CodeExpired),
                    Some(n) if n >= policy.max_attempts => Err(Refusal::AttemptsExceeded),
                    Some(n) => Err(Refusal::WrongCode {
                        tries_left: policy.max_attempts - n,
                    }),
                };
            }
            Verdict::Right => {}
        }
        let password = request.password.clone();
        let hash = tokio::task::spawn_blocking(move || password::hash(&password))
            .await
            .map_err(|e| Refusal::DependencyUnavailable(e.to_string()))?;
        let user = new_user_id();
        // Signed before the write: a key-store failure leaves no account behind.
        let (tokens, first) = issue(self.tokens, &user, "", now.timestamp())
            .await
            .map_err(unavailable)?;
        let actor = ConsentActor {
            source: "self",
            actor: user.to_string(),
            request_id: request.request_id.clone(),
        };
        let record = AccountRecord {
            user: &user,
            email: &request.email,
            password_hash: &hash,
            profile: &request.profile,
            actor: &actor,
            now,
        };
        let spent = SpentCode {
            digest,
            max_attempts: policy.max_attempts,
        };
        let profile = self
            .accounts
            .register_with_phone(&record, phone, &spent, &first.session())
            .await
            .map_err(|e| match e {
                RegisterError::EmailTaken => Refusal::EmailTaken,
                RegisterError::PhoneTaken => Refusal::PhoneTaken,
                RegisterError::CodeGone => Refusal::CodeExpired,
                RegisterError::UserExists => {
                    Refusal::Store(StoreError::Failed("a generated user id collided".into()))
                }
                RegisterError::Store(e) => Refusal::Store(e),
            })?;
        tracing::info!(user = %user, "account registered with a verified phone");
        Ok(Outcome::Registered {
            profile: Box::new(profile),
            tokens,
        })
    }
}

fn unavailable(e: impl std::fmt::Display) -> Refusal {
    tracing::warn!(error = %e, "a dependency of the sign-up is unavailable");
    Refusal::DependencyUnavailable(e.to_string())
}
