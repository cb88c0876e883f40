//! The second factor: enrolling an authenticator app (its secret shown once, proven by a
//! first code), its recovery codes, removing it, and a login's second step. Codes are
//! charged before they are judged and spent in the transaction that checks the charge
//! (`store::MfaStore`); the session the second step opens says `["pwd","otp"]`, `aal2`.

use domain::mfa::{
    MAX_WRONG_CODES, SecondFactorCode, TotpSecret, new_factor_id, new_recovery_codes,
};
use domain::ports::{AccessTokens, KeyUnavailable, OtpKeys};
use domain::session::Authentication;
use domain::{Actor, Clock, UserId};
use store::{MfaStore, Spend, Spent, StoreError, TotpFactor};

use crate::auth::{MfaToken, Tokens, issue};

pub struct MfaFlow<'a, T, K> {
    pub mfa: &'a MfaStore,
    pub tokens: &'a T,
    pub keys: &'a K,
    pub clock: &'a Clock,
}

/// A new authenticator app to show once: its id, the secret in base32, the URI apps
/// scan and that URI as a QR code (SVG).
#[derive(Debug)]
pub struct Enrolment {
    pub factor_id: String,
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MfaRefusal {
    #[error("wrong code")]
    Invalid { tries_left: u32 },
    #[error("too many wrong codes")]
    AttemptsExceeded,
    /// The account's second-step codes of the hour are taken.
    #[error("too many second-step codes this hour")]
    Limited { retry_after_secs: i64 },
    /// No such factor (or enrolment) on the account: never made, removed, or over.
    #[error("no such factor")]
    NoFactor,
    /// An authenticator app is active already: remove it first.
    #[error("an authenticator app is set up already")]
    AlreadyEnrolled,
    /// The second step is unknown, expired, over or its login no longer stands.
    #[error("the second step is not valid")]
    StepGone,
    #[error("a dependency is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<KeyUnavailable> for MfaRefusal {
    fn from(e: KeyUnavailable) -> Self {
        tracing::warn!(error = %e, "key unavailable");
        Self::Unavailable(e.to_string())
    }
}

/// Where a factor's sealed secret belongs: the account and the factor.
fn seal_context(user: &UserId, factor_id: &str) -> String {
    format!("{}/{factor_id}", user.as_str())
}

impl<T: AccessTokens, K: OtpKeys> MfaFlow<'_, T, K> {
    /// Whether the account has an active second factor.
    pub async fn has_factor(&self, user: &UserId) -> Result<bool, StoreError> {
        self.mfa.has_factor(user).await
    }

    /// A pending authenticator app for `user`, named in apps as `label` at `issuer`.
    pub async fn enroll(
        &self,
        user: &UserId,
        issuer: &str,
        label: &str,
    ) -> Result<Enrolment, MfaRefusal> {
        let key = self.keys.key().await?;
        let secret = TotpSecret::generate();
        let factor_id = new_factor_id();
        let sealed = key.seal(&seal_context(user, &factor_id), secret.as_bytes());
        let now = self.clock.now().timestamp();
        if !self.mfa.begin_totp(user, &factor_id, &sealed, now).await? {
            return Err(MfaRefusal::AlreadyEnrolled);
        }
        Ok(Enrolment {
            otpauth_uri: secret.otpauth_uri(issuer, label),
            qr_svg: secret.qr_svg(issuer, label),
            secret: secret.base32(),
            factor_id,
        })
    }

    fn secret_of(
        &self,
        key: &domain::otp::OtpKey,
        user: &UserId,
        factor: &TotpFactor,
    ) -> Result<TotpSecret, MfaRefusal> {
        key.open(&seal_context(user, &factor.id), &factor.sealed_secret)
            .and_then(|bytes| TotpSecret::from_bytes(bytes).ok())
            .ok_or_else(|| {
                MfaRefusal::Store(StoreError::Failed("a sealed secret did not open".into()))
            })
    }

    /// Activates the pending `factor_id` with a first code of it: the recovery codes,
    /// shown once.
    pub async fn confirm(
        &self,
        user: &UserId,
        factor_id: &str,
        code: &str,
        actor: &Actor,
    ) -> Result<Vec<String>, MfaRefusal> {
        let key = self.keys.key().await?;
        let now = self.clock.now().timestamp();
        let Some(factor) = self.mfa.charge_enrolment(user, factor_id, now).await? else {
            return Err(MfaRefusal::NoFactor);
        };
        let secret = self.secret_of(key, user, &factor)?;
        let Some(step) = secret.step_of(code, now) else {
            if factor.attempts >= MAX_WRONG_CODES {
                self.mfa.end_enrolment(user, factor_id).await?;
                return Err(MfaRefusal::AttemptsExceeded);
            }
            return Err(MfaRefusal::Invalid {
                tries_left: MAX_WRONG_CODES - factor.attempts,
            });
        };
        let codes = new_recovery_codes();
        let digests = digests(key, user, &codes);
        match self
            .mfa
            .activate_totp(user, factor_id, step, &digests, actor, now)
            .await?
        {
            Spent::Done => Ok(codes),
            _ => Err(MfaRefusal::NoFactor),
        }
    }

    /// A new set of recovery codes for the active authenticator app; the old set is void.
    pub async fn new_recovery_codes(
        &self,
        user: &UserId,
        actor: &Actor,
    ) -> Result<Vec<String>, MfaRefusal> {
        let key = self.keys.key().await?;
        let factor = self.mfa.totp(user).await?.filter(|f| f.active);
        let Some(factor) = factor else {
            return Err(MfaRefusal::NoFactor);
        };
        let codes = new_recovery_codes();
        let now = self.clock.now().timestamp();
        match self
            .mfa
            .replace_recovery(user, &factor.id, &digests(key, user, &codes), actor, now)
            .await?
        {
            Spent::Done => Ok(codes),
            _ => Err(MfaRefusal::NoFactor),
        }
    }

    pub async fn remove(
        &self,
        user: &UserId,
        factor_id: &str,
        actor: &Actor,
    ) -> Result<(), MfaRefusal> {
        let now = self.clock.now().timestamp();
        match self.mfa.remove_totp(user, factor_id, actor, now).await? {
            true => Ok(()),
            false => Err(MfaRefusal::NoFactor),
        }
    }

    /// Finishes a login's second step with a code of the app or a recovery code: the
    /// session's tokens.
    pub async fn finish_login(
        &self,
        mfa_token: &str,
        code: &SecondFactorCode,
    ) -> Result<Tokens, MfaRefusal> {
        let presented = MfaToken::parse(mfa_token).ok_or(MfaRefusal::StepGone)?;
        let token_hash = presented.hash();
        let key = self.keys.key().await?;
        let now = self.clock.now().timestamp();
        let Some(challenge) = self.mfa.charge_challenge(&token_hash, now).await? else {
            return Err(MfaRefusal::StepGone);
        };
        let user = &challenge.user;
        if !self.mfa.take_second_step_code(user, now).await? {
            return Err(MfaRefusal::Limited {
                retry_after_secs: 3600 - now.rem_euclid(3600),
            });
        }
        let factor = self.mfa.totp(user).await?.filter(|f| f.active);
        let Some(factor) = factor else {
            self.mfa.end_challenge(&token_hash).await?;
            return Err(MfaRefusal::StepGone);
        };
        let recovery;
        let spend = match code {
            SecondFactorCode::Totp(code) => self
                .secret_of(key, user, &factor)?
                .step_of(code, now)
                .map(Spend::Step),
            SecondFactorCode::Recovery(code) => {
                recovery = key.recovery_digest(user, code);
                Some(Spend::Recovery(&recovery))
            }
        };
        if let Some(spend) = spend {
            let auth = Authentication::password_and_code(now);
            let (tokens, first) = issue(
                self.tokens,
                user,
                &challenge.scope,
                &challenge.client,
                challenge.generation,
                &auth,
            )
            .await?;
            match self
                .mfa
                .finish_challenge(&token_hash, &factor.id, &spend, &first.session(), now)
                .await?
            {
                // The transaction gave its place in the hour's count back.
                Spent::Done => return Ok(tokens),
                // A step taken before or a used recovery code: a wrong code.
                Spent::Replayed => {}
                Spent::Gone | Spent::Refused => return Err(MfaRefusal::StepGone),
            }
        }
        if challenge.attempts >= MAX_WRONG_CODES {
            self.mfa.end_challenge(&token_hash).await?;
            return Err(MfaRefusal::AttemptsExceeded);
        }
        Err(MfaRefusal::Invalid {
            tries_left: MAX_WRONG_CODES - challenge.attempts,
        })
    }
}

fn digests(key: &domain::otp::OtpKey, user: &UserId, codes: &[String]) -> Vec<String> {
    codes
        .iter()
        .filter_map(|c| domain::mfa::normalized_recovery_code(c))
        .map(|c| key.recovery_digest(user, &c))
        .collect()
}
