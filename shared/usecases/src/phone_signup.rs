//! Seed 000's sign-up (`POST /users/register`): an account proven by its phone number.
//! Without a code (or with `resend`) a 6-digit code goes by SMS to the number and only
//! the code is stored; with the right code the account, its profile (phone verified),
//! the number's marker, the spent code and the first login session are written in one
//! transaction, and the caller gets the account and its tokens.
//!
//! No account exists while the code is out, so the code is bound to the email being
//! registered (its digest's subject): a code sent for one sign-up cannot finish another.

use domain::loyalty::{CardNumber, CardStatus, LoyaltyCard};
use domain::otp::{CodeRefusal, CodeSent, OtpCode, Purpose};
use domain::password::Password;
use domain::ports::{AccessTokens, OtpKeys, SmsSender};
use domain::session::Authentication;
use domain::source::RequestSource;
use domain::{Actor, Email, PhoneNumber, Profile, ProfilePatch};
use store::{
    AccountRecord, AccountStore, PhoneRegistrationState, RegisterError, SpentCode, StoreError,
};

use crate::auth::{Tokens, issue};
use crate::codes::{self, CodeFailure, CodeFor, CodeSettings};
use crate::registration::new_user_id;

pub struct PhoneSignUp<'a, S, K, T> {
    pub accounts: &'a AccountStore,
    pub sms: &'a S,
    pub codes: &'a CodeSettings<K>,
    pub tokens: &'a T,
    /// The app the first session is for: first-party apps' client id.
    pub client: &'a domain::session::ClientId,
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
    /// Where the request came from: sign-ups are counted per source.
    pub source: RequestSource,
    /// Ask for a loyalty card too: it is stored `pending` with the account.
    pub with_loyalty_card: bool,
}

#[derive(Debug)]
pub enum Outcome {
    /// A code went to the number; nothing but the code is stored.
    CodeSent(CodeSent),
    /// The account exists, with a session open.
    Registered {
        profile: Box<Profile>,
        tokens: Tokens,
        /// The card asked for, `pending` until the platform holds its member.
        card: Option<LoyaltyCard>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("another account has this email")]
    EmailTaken,
    #[error("another account holds the number")]
    PhoneTaken,
    /// The code was refused, or a dependency or the store failed.
    #[error(transparent)]
    Failed(CodeFailure),
}

codes::refusal_from_failure!(Refusal);

impl<S: SmsSender, K: OtpKeys, T: AccessTokens> PhoneSignUp<'_, S, K, T> {
    pub async fn run(&self, request: Request) -> Result<Outcome, Refusal> {
        let asks_for_code = request.code.is_none() || request.resend;
        // Every request spends the source's budget, a code sent in as much as one asked
        // for: the number's one pending challenge takes five tries, and a stranger's
        // wrong codes must not burn its holder's sign-up for free.
        let now = self.codes.clock.now().timestamp();
        codes::charge_source(&self.codes.policy, self.accounts, &request.source, now).await?;
        let state = self
            .accounts
            .load_phone_registration(&request.email, &request.phone)
            .await?;
        match &request.code {
            Some(code) if !asks_for_code => self.register(&request, code, &state).await,
            _ => {
                refuse_taken(&state)?;
                self.send_code(&request, &state).await
            }
        }
    }

    async fn send_code(
        &self,
        request: &Request,
        state: &PhoneRegistrationState,
    ) -> Result<Outcome, Refusal> {
        let phone = &request.phone;
        let subject = request.email.normalized();
        let code = CodeFor {
            purpose: Purpose::RegisterPhone,
            subject: &subject,
            target: phone.e164(),
        };
        let now = self.codes.clock.now().timestamp();
        let sent = self
            .codes
            .send_by_sms(
                codes::Texting {
                    sms: self.sms,
                    quota: &self.accounts.sms_quota(),
                    to: domain::sms::Recipient::NewNumber,
                },
                &state.code,
                code,
                phone,
                now,
            )
            .await?;
        Ok(Outcome::CodeSent(sent))
    }

    async fn register(
        &self,
        request: &Request,
        code: &OtpCode,
        state: &PhoneRegistrationState,
    ) -> Result<Outcome, Refusal> {
        let (policy, phone) = (&self.codes.policy, &request.phone);
        let now = self.codes.clock.now();
        let subject = request.email.normalized();
        let code_for = CodeFor {
            purpose: Purpose::RegisterPhone,
            subject: &subject,
            target: phone.e164(),
        };
        let digest = self
            .codes
            .check(&state.code, code_for, code, now.timestamp())
            .await?;
        // Only now: a made-up code learns nothing of who holds the email or the number.
        refuse_taken(state)?;
        let hash = crate::hashing::hash(&request.password).await?;
        let user = new_user_id();
        // Signed before the write: a key-store failure leaves no account behind.
        let auth = Authentication::password(now.timestamp());
        let (tokens, first) = issue(self.tokens, &user, "", self.client, 0, &auth)
            .await
            .map_err(unavailable)?;
        let actor = Actor {
            source: domain::Source::Holder,
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
            code: &state.code,
            digest: &digest,
            max_attempts: policy.max_attempts,
        };
        let card = request.with_loyalty_card.then(|| LoyaltyCard {
            number: CardNumber::generate(),
            status: CardStatus::Pending,
            member_id: None,
            linked_at: domain::timestamp(now),
            pushed_version: 0,
        });
        let profile = self
            .accounts
            .register_with_phone(&record, phone, &spent, &first.session(), card.as_ref())
            .await
            .map_err(|e| match e {
                RegisterError::EmailTaken => Refusal::EmailTaken,
                RegisterError::PhoneTaken => Refusal::PhoneTaken,
                RegisterError::CodeGone => CodeRefusal::Expired.into(),
                other @ (RegisterError::UserExists | RegisterError::EarlierChanged) => {
                    StoreError::Failed(format!("a phone sign-up cannot fail so: {other}")).into()
                }
                RegisterError::Store(e) => e.into(),
            })?;
        tracing::info!(user = %user, "account registered with a verified phone");
        Ok(Outcome::Registered {
            profile: Box::new(profile),
            tokens,
            card,
        })
    }
}

fn refuse_taken(state: &PhoneRegistrationState) -> Result<(), Refusal> {
    if state.email_taken {
        return Err(Refusal::EmailTaken);
    }
    if state.phone_owner.is_some() {
        return Err(Refusal::PhoneTaken);
    }
    Ok(())
}

fn unavailable(e: impl std::fmt::Display) -> Refusal {
    tracing::warn!(error = %e, "a dependency of the sign-up is unavailable");
    Refusal::Failed(CodeFailure::Unavailable(e.to_string()))
}
