//! A new password: after forgetting it (a code to the account's proven email or number,
//! then the code with the new password) or knowing it (the current one with the new).
//! A reset ends every session; a change every session but the caller's. The account's
//! proven email is told either way. Nothing here tells whether an address has an account:
//! the request for a code answers alike for every address, and is charged to its source.

use domain::login::LoginLimits;
use domain::otp::{CodeRefusal, OtpCode, Purpose};
use domain::password::Password;
use domain::ports::{BreachedPasswords, EmailSender, OtpKeys, SmsSender};
use domain::source::RequestSource;
use domain::{Actor, UserId};
use store::{
    AccountStore, Attempt, Destination, Earned, Forgiven, PasswordAccount, PasswordError,
    SessionStore, SpentCode,
};

use crate::codes::{self, CodeFailure, CodeFor, CodeSettings, Letter};
use crate::hashing::{hash, password_matches};

/// The check every new password passes besides its length: not common, not breached.
pub struct Screen<B> {
    pub breached: B,
    /// When the check cannot answer: refuse (503) rather than take the password unchecked.
    pub refuse_when_down: bool,
}

/// What the check made of a new password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screened {
    Accepted,
    /// Common, or seen in a breach: the person must choose another.
    Breached,
    /// The check did not answer and the deployment refuses unchecked passwords.
    Unavailable,
}

impl<B: BreachedPasswords> Screen<B> {
    pub async fn judge(&self, password: &Password) -> Screened {
        match self.breached.seen(password).await {
            Ok(false) => Screened::Accepted,
            Ok(true) => Screened::Breached,
            Err(e) => {
                tracing::warn!(error = %e, refuse = self.refuse_when_down, "the breached-password check did not answer");
                if self.refuse_when_down {
                    Screened::Unavailable
                } else {
                    Screened::Accepted
                }
            }
        }
    }
}

pub struct Passwords<'a, S, E, K> {
    pub accounts: &'a AccountStore,
    pub sessions: &'a SessionStore,
    pub sms: &'a S,
    pub email: &'a E,
    pub codes: &'a CodeSettings<K>,
    /// A wrong current password counts as a failed login.
    pub limits: &'a LoginLimits,
}

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The current password is wrong.
    #[error("the current password is wrong")]
    WrongPassword,
    /// Too many wrong passwords for the account lately.
    #[error("too many attempts")]
    Limited { retry_after_secs: i64 },
    /// The account has no password (an identity provider's user).
    #[error("the account has no password")]
    NoPassword,
    /// The credential or the sessions changed while the change was written.
    #[error("the account changed meanwhile")]
    Raced,
    /// The code was refused, or a dependency or the store failed.
    #[error(transparent)]
    Failed(CodeFailure),
}

codes::refusal_from_failure!(Refusal);

/// A reset code proves the request for the account, to where it went.
fn code_for<'a>(user: &'a UserId, target: &'a str) -> CodeFor<'a> {
    CodeFor {
        purpose: Purpose::ResetPassword,
        subject: user.as_str(),
        target,
    }
}

impl<S: SmsSender, E: EmailSender, K: OtpKeys> Passwords<'_, S, E, K> {
    /// A reset code to `to` if an account has proven it; every other outcome (no such
    /// account, a cooldown, a send that failed) is the same quiet success. Only the
    /// source's budget refuses, before anything is read.
    pub async fn forgot(&self, to: Destination<'_>, source: &RequestSource) -> Result<(), Refusal> {
        let now = self.codes.clock.now().timestamp();
        codes::charge_source(&self.codes.policy, self.accounts, source, now).await?;
        if let Err(e) = self.send_reset_code(to, now).await {
            tracing::info!(error = %e, "no reset code sent");
        }
        Ok(())
    }

    /// The account a code to `to` recovers, if any.
    async fn recovering(&self, to: Destination<'_>) -> Result<PasswordAccount, Refusal> {
        let now = self.codes.clock.now();
        match self.accounts.password_account(to).await? {
            Some(account) if account.recovers_by(to, now) => Ok(account),
            _ => Err(CodeRefusal::Expired.into()),
        }
    }

    async fn send_reset_code(&self, to: Destination<'_>, now: i64) -> Result<(), Refusal> {
        let account = self.recovering(to).await?;
        // A disabled account is sent nothing, and the answer stays the same.
        self.sessions.generation(&account.user).await?;
        let items = self.accounts.reset_code(&account, to).await?;
        let target = codes::target_of(to);
        let via = codes::ToHolder {
            sms: self.sms,
            quota: &self.accounts.sms_quota(),
            texts_as: domain::sms::Recipient::NewNumber,
            email: self.email,
            letter: RESET_PASSWORD,
        };
        self.codes
            .send_to_holder(via, to, &items, code_for(&account.user, &target), now)
            .await?;
        Ok(())
    }

    /// Sets `new` on the account that proved `to` with `code`, ending every session.
    /// Charged to the source's budget like the request for the code: guessing, or asking
    /// which addresses have a live code, costs what asking for codes does.
    pub async fn reset(
        &self,
        to: Destination<'_>,
        code: &OtpCode,
        new: &Password,
        actor_request_id: &str,
        source: &RequestSource,
    ) -> Result<(), Refusal> {
        let policy = &self.codes.policy;
        let now = self.codes.clock.now();
        codes::charge_source(policy, self.accounts, source, now.timestamp()).await?;
        let account = self.recovering(to).await?;
        let items = self.accounts.reset_code(&account, to).await?;
        let target = codes::target_of(to);
        let digest = self
            .codes
            .check(
                &items,
                code_for(&account.user, &target),
                code,
                now.timestamp(),
            )
            .await?;
        let hash = hash(new).await?;
        let spent = SpentCode {
            code: &items,
            digest: &digest,
            max_attempts: policy.max_attempts,
        };
        let actor = holder(&account.user, actor_request_id);
        let logins: Vec<Destination<'_>> = [Some(to), account.login()]
            .into_iter()
            .flatten()
            .chain(account.phone.as_ref().map(Destination::Phone))
            .collect();
        let forgiven = Forgiven::new(&logins);
        let ended = self
            .accounts
            .set_password(&account, &hash, Earned::Code(spent), &actor, now)
            .await
            .map_err(|e| match e {
                PasswordError::Changed => CodeRefusal::Expired.into(),
                PasswordError::Store(e) => Refusal::from(e),
            })?;
        tracing::info!(ended, "password reset; every session ended");
        self.accounts.forgive(&forgiven).await;
        self.notify(&account).await;
        Ok(())
    }

    /// Sets `new` on `user`'s account after `current` is checked (and counted as a login
    /// attempt when wrong); every session but `session` (the caller's) ends.
    pub async fn change(
        &self,
        user: &UserId,
        session: Option<&str>,
        current: &Password,
        new: &Password,
        request_id: &str,
        source: &RequestSource,
    ) -> Result<(), Refusal> {
        let now = self.codes.clock.now();
        let Some(account) = self.accounts.password_account_of(user).await? else {
            return Err(Refusal::NoPassword);
        };
        let login = account.login().ok_or(Refusal::NoPassword)?;
        let credential = match self
            .accounts
            .begin_login(login, source, self.limits, now.timestamp())
            .await?
        {
            Attempt::Limited { retry_after_secs } => {
                return Err(Refusal::Limited { retry_after_secs });
            }
            Attempt::Unknown => return Err(Refusal::NoPassword),
            // A right password's place is not given back: it counts until its window ends.
            Attempt::Allowed(found, _) => found.credential,
        };
        if credential.user_id != user.as_str()
            || !password_matches(current, Some(credential.password_hash.clone())).await
        {
            return Err(Refusal::WrongPassword);
        }
        let sessions = self.sessions.live(user, now.timestamp()).await?;
        let keep = session.and_then(|id| sessions.live.iter().find(|s| s.id == id));
        let hash = hash(new).await?;
        let earned = Earned::CurrentPassword {
            hash: &credential.password_hash,
            sessions: &sessions,
            keep,
        };
        let actor = holder(user, request_id);
        let ended = self
            .accounts
            .set_password(&account, &hash, earned, &actor, now)
            .await
            .map_err(|e| match e {
                PasswordError::Changed => Refusal::Raced,
                PasswordError::Store(e) => Refusal::from(e),
            })?;
        tracing::info!(ended, "password changed; the other sessions ended");
        self.notify(&account).await;
        Ok(())
    }

    /// Tells the account's proven email that its password changed; a failure is logged,
    /// the change stands.
    async fn notify(&self, account: &PasswordAccount) {
        let Some(address) = account.proven_email() else {
            return;
        };
        if let Err(e) = self
            .email
            .send(address, PASSWORD_CHANGED_SUBJECT, PASSWORD_CHANGED_TEXT)
            .await
        {
            tracing::warn!(error = %e, "the password-changed notice was not sent");
        }
    }
}

fn holder(user: &UserId, request_id: &str) -> Actor {
    Actor {
        source: domain::Source::Holder,
        actor: user.to_string(),
        request_id: request_id.to_owned(),
    }
}

/// The email a reset code goes by.
const RESET_PASSWORD: Letter = Letter {
    subject: "Reset your password",
    text: |code, minutes| {
        format!(
            "Your code to set a new password is {code}. It expires in {minutes} minutes. \
             If you did not ask for it, ignore this message: your password stays as it is."
        )
    },
};

/// The notice a proven email gets after a reset or a change.
const PASSWORD_CHANGED_SUBJECT: &str = "Your password was changed";
const PASSWORD_CHANGED_TEXT: &str = "The password of your account was just changed, and \
     every other session was signed out. If this was not you, reset your password now.";
