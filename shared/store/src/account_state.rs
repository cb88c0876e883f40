//! Disabling and enabling an account, an operator's act. A disabled account keeps its
//! data but nobody acts on it through the service but its operators: the profile item's
//! `disabled_at` refuses every profile write (the condition every write carries for an
//! erasure), and the sign-out item's `disabled` refuses every session and password,
//! while the next generation ends the sessions it had. One transaction sets both, so no
//! read sees one without the other; enabling removes both and leaves the ended sessions
//! ended. Disabling also voids every code the account was sent (a reset, an email or
//! number change, an erasure, its address's verification): one asked for by whoever
//! the account was disabled against must not work once it is enabled.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use domain::otp::Purpose;
use domain::{Actor, DisableReason, Email, Profile, UserId, timestamp};
use serde_json::Value;

use crate::StoreError;
use crate::account_audit::{FieldChange, FieldChanges, audit_put};
use crate::accounts::AccountStore;
use crate::expr::Expression;
use crate::item::get_consistent;
use crate::keys::ItemKey;
use crate::profile_item::{DISABLED_AT, ERASURE, VERSION, live_profile};
use crate::session_epoch::{disable_sign_in, enable_sign_in};
use crate::session_item::SessionStore;
use crate::txn::{Tagged, Verdict, delete, update};

/// What disabling or enabling did.
#[derive(Debug)]
pub enum Toggled {
    /// The account is now as asked; the profile as it is now, and the sessions ended.
    Changed { profile: Profile, ended: usize },
    /// It already was.
    Unchanged(Profile),
    /// No such account, or an erased one.
    NotFound,
}

const ATTEMPTS: usize = 3;

impl AccountStore {
    /// Disables `user` for `reason` (kept on the account's audit), ending every session.
    pub async fn disable(
        &self,
        user: &UserId,
        reason: &DisableReason,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Toggled, StoreError> {
        self.toggle(user, Some(reason.as_str()), actor, now).await
    }

    /// Enables `user` again: sessions may open; those that ended stay ended.
    pub async fn enable(
        &self,
        user: &UserId,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Toggled, StoreError> {
        self.toggle(user, None, actor, now).await
    }

    /// `reason` is `Some` to disable, `None` to enable. Read, then one transaction on the
    /// version read; a write that came between is read again.
    async fn toggle(
        &self,
        user: &UserId,
        reason: Option<&str>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Toggled, StoreError> {
        let disable = reason.is_some();
        let sessions = SessionStore::new(self.client.clone(), self.table.clone());
        for _ in 0..ATTEMPTS {
            let item = get_consistent(&self.client, &self.table, &ItemKey::profile(user)).await?;
            let Some(mut profile) = item.map(live_profile).transpose()?.flatten() else {
                return Ok(Toggled::NotFound);
            };
            if profile.disabled_at.is_some() == disable {
                return Ok(Toggled::Unchanged(profile));
            }
            let ended = if disable {
                sessions.live(user, now.timestamp()).await?.live.len()
            } else {
                0
            };
            let mut e = Expression::default();
            let (version, erasure) = (e.name(VERSION), e.name(ERASURE));
            let seen = e.value(AttributeValue::N(profile.version.to_string()));
            e.condition(format!(
                "{version} = {seen} AND attribute_not_exists({erasure})"
            ));
            e.count_write(VERSION);
            let at = timestamp(now);
            if disable {
                e.set(DISABLED_AT, AttributeValue::S(at.clone()));
            } else {
                let disabled = e.name(DISABLED_AT);
                e.remove(disabled);
            }
            let mut changes = FieldChanges::from([(
                "disabled".to_owned(),
                FieldChange {
                    from: Some(Value::Bool(!disable)),
                    to: Value::Bool(disable),
                },
            )]);
            if let Some(reason) = reason {
                changes.insert(
                    "reason".to_owned(),
                    FieldChange {
                        from: None,
                        to: Value::String(reason.to_owned()),
                    },
                );
            }
            let mut txn = Tagged::new();
            txn.push((), update(&self.table, &ItemKey::profile(user), e)?);
            txn.push(
                (),
                if disable {
                    disable_sign_in(&self.table, user, ended, now.timestamp())?
                } else {
                    enable_sign_in(&self.table, user)?
                },
            );
            txn.push((), audit_put(&self.table, user, actor, now, &changes)?);
            if disable {
                for key in live_codes(user, &profile) {
                    txn.push((), delete(&self.table, &key, Expression::default())?);
                }
            }
            match txn.send(&self.client).await? {
                Verdict::Done => {
                    profile.version += 1;
                    profile.disabled_at = disable.then_some(at);
                    return Ok(Toggled::Changed { profile, ended });
                }
                Verdict::Refused(()) | Verdict::Conflict => continue,
            }
        }
        Err(StoreError::Unavailable(format!(
            "the account kept changing while it was {}",
            if disable { "disabled" } else { "enabled" }
        )))
    }
}

/// The keys of every code `user` may have been sent: each purpose's one challenge, and
/// its address's verification.
fn live_codes(user: &UserId, profile: &Profile) -> Vec<ItemKey> {
    let mut keys: Vec<ItemKey> = [
        Purpose::PhoneChange,
        Purpose::ChangeEmail,
        Purpose::ConfirmEmailChange,
        Purpose::EraseAccount,
        Purpose::ResetPassword,
        Purpose::AddFactor,
    ]
    .into_iter()
    .map(|purpose| ItemKey::challenge(user, purpose))
    .collect();
    if let Some(email) = profile.email.as_deref().and_then(|e| Email::parse(e).ok()) {
        keys.push(ItemKey::email_challenge(&email, Purpose::VerifyEmail));
    }
    keys
}
