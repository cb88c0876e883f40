//! Setting a new password: after a reset code (`POST /auth/password/reset`) or with the
//! current one (`POST /users/me/password`). The new hash, the spent code or the checked
//! hash, the login failures cleared, the sessions ended and the audit entry are one
//! transaction, conditioned on the credential being the account's as read.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use domain::{Actor, Email, PhoneNumber, UserId};
use serde_json::Value;

use crate::StoreError;
use crate::account_audit::{FieldChange, FieldChanges, audit_put};
use crate::accounts::{AccountStore, Credential};
use crate::codes::{CodeKind, Destination, OneTimeCode, SpentCode};
use crate::expr::Expression;
use crate::item::{get_consistent, text};
use crate::keys::{ItemKey, PK};
use crate::profile_item::VERSION;
use crate::session_epoch::{EndedBy, SessionSummary, Sessions, end_all, end_all_but};
use crate::txn::{Tagged, Verdict, update};

/// An account a password is set on: its user and the address its credential is under.
/// How many times the credential's password was set after sign-up, and why last: the
/// change stream's `password.changed`.
pub(crate) const PASSWORD_CHANGES: &str = "password_changes";
pub(crate) const PASSWORD_REASON: &str = "password_reason";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordAccount {
    pub user: UserId,
    /// The login address: the credential's key.
    pub login: Email,
    pub credential: Credential,
}

impl PasswordAccount {
    /// The account's proven email, where a notice of the change goes.
    pub fn proven_email(&self) -> Option<&Email> {
        self.credential.email_verified.then_some(&self.login)
    }
}

/// How the new password was earned.
pub enum Earned<'a> {
    /// A reset code, spent in the same transaction.
    Code(SpentCode<'a>),
    /// The current password, whose hash must still be the credential's; the caller's
    /// session goes on when it names one.
    CurrentPassword {
        hash: &'a str,
        sessions: &'a Sessions,
        keep: Option<&'a SessionSummary>,
    },
}

/// Why a new password was not set.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The code was used, replaced or burned, or the credential changed since it was read.
    #[error("the code or the credential changed since it was read")]
    Changed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AccountStore {
    /// The account whose proven email or number is `to`, with its credential; `None` when
    /// no account has proven it or the account has no password.
    pub async fn password_account(
        &self,
        to: Destination<'_>,
    ) -> Result<Option<PasswordAccount>, StoreError> {
        let (user, login) = match to {
            Destination::Email(email) => {
                let Some(credential) = self.credential(email).await? else {
                    return Ok(None);
                };
                if !credential.email_verified {
                    return Ok(None);
                }
                return Ok(UserId::parse(&credential.user_id)
                    .ok()
                    .map(|user| PasswordAccount {
                        user,
                        login: email.clone(),
                        credential,
                    }));
            }
            Destination::Phone(phone) => match self.proven_phone_holder(phone).await? {
                Some(found) => found,
                None => return Ok(None),
            },
        };
        self.account_of(user, login).await
    }

    /// `user`'s account under the address their profile names; `None`: no password.
    pub async fn password_account_of(
        &self,
        user: &UserId,
    ) -> Result<Option<PasswordAccount>, StoreError> {
        let profile = get_consistent(&self.client, &self.table, &ItemKey::profile(user)).await?;
        let Some(login) = profile
            .as_ref()
            .and_then(|p| text(p, "email"))
            .and_then(|e| Email::parse(e).ok())
        else {
            return Ok(None);
        };
        self.account_of(user.clone(), login).await
    }

    async fn account_of(
        &self,
        user: UserId,
        login: Email,
    ) -> Result<Option<PasswordAccount>, StoreError> {
        let credential = self.credential(&login).await?;
        Ok(credential
            .filter(|c| c.user_id == user.as_str())
            .map(|credential| PasswordAccount {
                user,
                login,
                credential,
            }))
    }

    pub(crate) async fn credential(&self, email: &Email) -> Result<Option<Credential>, StoreError> {
        let item = get_consistent(&self.client, &self.table, &ItemKey::credential(email)).await?;
        Ok(item.map(serde_dynamo::from_item).transpose()?)
    }

    /// The holder of `phone` and their login address, when their profile shows the
    /// number proven.
    async fn proven_phone_holder(
        &self,
        phone: &PhoneNumber,
    ) -> Result<Option<(UserId, Email)>, StoreError> {
        let owner = get_consistent(&self.client, &self.table, &ItemKey::phone_owner(phone)).await?;
        let Some(user) = crate::markers::holder(owner).and_then(|u| UserId::parse(&u).ok()) else {
            return Ok(None);
        };
        let profile = get_consistent(&self.client, &self.table, &ItemKey::profile(&user))
            .await?
            .unwrap_or_default();
        let proven = text(&profile, "phone") == Some(phone.e164())
            && matches!(
                profile.get("phone_verified"),
                Some(AttributeValue::Bool(true))
            );
        let login = text(&profile, "email").and_then(|e| Email::parse(e).ok());
        Ok(proven.then_some(()).and(login).map(|login| (user, login)))
    }

    /// The reset code of `account`, sent to `to`.
    pub async fn reset_code(
        &self,
        account: &PasswordAccount,
        to: Destination<'_>,
    ) -> Result<OneTimeCode, StoreError> {
        let kind = CodeKind::ResetPassword {
            user: &account.user,
            to,
        };
        Ok(OneTimeCode::read_with(&self.client, &self.table, kind, &[])
            .await?
            .1)
    }

    /// Sets `hash` as `account`'s password, ending its sessions (all, or all but the
    /// caller's). Returns how many sessions ended.
    pub async fn set_password(
        &self,
        account: &PasswordAccount,
        hash: &str,
        earned: Earned<'_>,
        actor: &Actor,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, PasswordError> {
        let (user, secs) = (&account.user, now.timestamp());
        let mut credential = Expression::default();
        credential.set("password_hash", AttributeValue::S(hash.to_owned()));
        let (pk, owner) = (credential.name(PK), credential.name("user_id"));
        let me = credential.value(AttributeValue::S(user.as_str().to_owned()));
        credential.condition(format!("attribute_exists({pk}) AND {owner} = {me}"));
        let mut txn = Tagged::new();
        let (how, ended, sessions): (&str, usize, Vec<TransactWriteItem>) = match earned {
            Earned::Code(code) => {
                txn.push((), code.item(secs)?);
                let ended = self.sessions_live(user, secs).await?;
                (
                    "reset",
                    ended,
                    vec![end_all(&self.table, user, EndedBy::Reset, ended, secs)?],
                )
            }
            Earned::CurrentPassword {
                hash: current,
                sessions,
                keep,
            } => {
                let (stored, read) = (
                    credential.name("password_hash"),
                    credential.value(AttributeValue::S(current.to_owned())),
                );
                credential.condition(format!("{stored} = {read}"));
                let ended = sessions.live.len() - usize::from(keep.is_some());
                let items = match keep {
                    Some(keep) => {
                        end_all_but(&self.table, user, sessions, keep, EndedBy::Change, secs)?
                    }
                    None => vec![end_all(&self.table, user, EndedBy::Change, ended, secs)?],
                };
                ("change", ended, items)
            }
        };
        credential.count_write(PASSWORD_CHANGES);
        credential.count_write(VERSION);
        credential.set(PASSWORD_REASON, AttributeValue::S(how.to_owned()));
        txn.push(
            (),
            update(
                &self.table,
                &ItemKey::credential(&account.login),
                credential,
            )?,
        );
        txn.extend((), sessions);
        let changes = FieldChanges::from([(
            "password".to_owned(),
            FieldChange {
                from: None,
                to: Value::String(how.to_owned()),
            },
        )]);
        txn.push((), audit_put(&self.table, user, actor, now, &changes)?);
        match txn.send(&self.client).await? {
            Verdict::Done => Ok(ended),
            Verdict::Refused(()) => Err(PasswordError::Changed),
            Verdict::Conflict => Err(PasswordError::Store(StoreError::Unavailable(
                "the password write lost a race; try again".into(),
            ))),
        }
    }

    async fn sessions_live(&self, user: &UserId, now: i64) -> Result<usize, StoreError> {
        let sessions =
            crate::session_item::SessionStore::new(self.client.clone(), self.table.clone());
        Ok(sessions.live(user, now).await?.live.len())
    }
}
