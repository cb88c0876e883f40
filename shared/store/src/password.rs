//! Setting a new password: after a reset code (`POST /auth/password/reset`) or with the
//! current one (`POST /users/me/password`). The new hash, the spent code or the checked
//! hash, the sessions ended and the audit entry are one transaction, conditioned on the
//! credential being the account's as read; the use case then has a reset forgive login
//! failures (`Forgiven`).

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use domain::number_settled;
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
    /// The address the credential is kept under; `None` when it is kept under the
    /// account, after another sign-up took over the claim on an address it never proved.
    pub email: Option<Email>,
    /// The number the account proved, when the account was found through its profile.
    pub phone: Option<PhoneNumber>,
    /// When the holder last proved a new number by a change, as the profile says.
    pub phone_changed_at: Option<String>,
    pub credential: Credential,
}

impl PasswordAccount {
    /// The account's proven email, where a notice of the change goes.
    pub fn proven_email(&self) -> Option<&Email> {
        self.email
            .as_ref()
            .filter(|_| self.credential.email_verified)
    }

    /// What the account logs in with, where its failed logins are counted: its email,
    /// else its proven number.
    pub fn login(&self) -> Option<Destination<'_>> {
        match (&self.email, &self.phone) {
            (Some(email), _) => Some(Destination::Email(email)),
            (None, Some(phone)) => Some(Destination::Phone(phone)),
            (None, None) => None,
        }
    }

    /// Whether a code to `to` may recover the account: an email always, a number once
    /// it has settled (`Profile::settled_phone`: a number a stolen session just proved
    /// recovers nothing for a day).
    pub fn recovers_by(&self, to: Destination<'_>, now: chrono::DateTime<chrono::Utc>) -> bool {
        match to {
            Destination::Email(_) => true,
            Destination::Phone(_) => number_settled(self.phone_changed_at.as_deref(), now),
        }
    }

    /// Where the credential is kept.
    pub(crate) fn credential_key(&self) -> ItemKey {
        credential_key(&self.user, self.email.as_ref())
    }
}

/// Where an account's credential is kept: under its address (the address's uniqueness
/// marker), or under the account when it holds no address.
pub(crate) fn credential_key(user: &UserId, email: Option<&Email>) -> ItemKey {
    email.map_or_else(|| ItemKey::user_credential(user), ItemKey::credential)
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
        match to {
            Destination::Email(email) => {
                let Some(credential) = self.credential(email).await? else {
                    return Ok(None);
                };
                if !credential.email_verified {
                    return Ok(None);
                }
                Ok(UserId::parse(&credential.user_id)
                    .ok()
                    .map(|user| PasswordAccount {
                        user,
                        email: Some(email.clone()),
                        phone: None,
                        phone_changed_at: None,
                        credential,
                    }))
            }
            Destination::Phone(phone) => {
                let owner =
                    get_consistent(&self.client, &self.table, &ItemKey::phone_owner(phone)).await?;
                let Some(user) = crate::markers::holder(owner).and_then(|u| UserId::parse(&u).ok())
                else {
                    return Ok(None);
                };
                let found = self.password_account_of(&user).await?;
                Ok(found.filter(|account| account.phone.as_ref() == Some(phone)))
            }
        }
    }

    /// `user`'s account under the address their profile names (or under the account,
    /// when it names none), with the number it proved; `None`: no password.
    pub async fn password_account_of(
        &self,
        user: &UserId,
    ) -> Result<Option<PasswordAccount>, StoreError> {
        let Some(profile) =
            get_consistent(&self.client, &self.table, &ItemKey::profile(user)).await?
        else {
            return Ok(None);
        };
        let email = text(&profile, "email").and_then(|e| Email::parse(e).ok());
        let phone = text(&profile, "phone")
            .filter(|_| {
                matches!(
                    profile.get("phone_verified"),
                    Some(AttributeValue::Bool(true))
                )
            })
            .and_then(|p| PhoneNumber::parse(p).ok());
        let key = credential_key(user, email.as_ref());
        let credential: Option<Credential> = get_consistent(&self.client, &self.table, &key)
            .await?
            .map(serde_dynamo::from_item)
            .transpose()?;
        Ok(credential
            .filter(|c| c.user_id == user.as_str())
            .map(|credential| PasswordAccount {
                user: user.clone(),
                email,
                phone,
                phone_changed_at: text(&profile, "phone_changed_at").map(str::to_owned),
                credential,
            }))
    }

    pub(crate) async fn credential(&self, email: &Email) -> Result<Option<Credential>, StoreError> {
        let item = get_consistent(&self.client, &self.table, &ItemKey::credential(email)).await?;
        Ok(item.map(serde_dynamo::from_item).transpose()?)
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
                if sessions.disabled {
                    return Err(StoreError::Disabled.into());
                }
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
            update(&self.table, &account.credential_key(), credential)?,
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

    /// How many sessions a reset ends; `Disabled` for a disabled account, whose password
    /// only changes once an operator enables it (the sessions' item refuses a race).
    async fn sessions_live(&self, user: &UserId, now: i64) -> Result<usize, StoreError> {
        let sessions =
            crate::session_item::SessionStore::new(self.client.clone(), self.table.clone());
        let sessions = sessions.live(user, now).await?;
        if sessions.disabled {
            return Err(StoreError::Disabled);
        }
        Ok(sessions.live.len())
    }
}
