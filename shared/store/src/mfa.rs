//! The account's authenticator app (`MFA#TOTP` in its partition): pending until a first
//! code proves it, then active, with the digests of its recovery codes and the last step
//! a code was taken from. A login's second step is `second_step`. A set-up's wrong codes
//! are charged before they are judged (a conditional increment that stops at the limit).

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use domain::mfa::{CHALLENGE_LIFETIME_SECS, MAX_WRONG_CODES};
use domain::{Actor, UserId};
use serde_json::json;
use std::collections::HashMap;

use crate::StoreError;
use crate::account_audit::audit_note;
use crate::expr::Expression;
use crate::item::{Item, get_consistent, n, number, rfc3339, s, text};
use crate::keys::ItemKey;
use crate::profile_item::{unusable, usable};
use crate::session_epoch::{PASSKEYS, TOTP_FACTOR};
use crate::txn::{Tagged, Verdict, condition_check, update, update_item};

crate::table_store! {
    /// The second factor: an authenticator app, its recovery codes, and logins' second
    /// steps.
    #[derive(Clone, Debug)]
    MfaStore
}

/// Attributes of the authenticator app's item; the change stream reads `FACTOR_ID` and
/// `ACTIVE`.
pub(crate) const FACTOR_ID: &str = "factor_id";
pub(crate) const ACTIVE: &str = "active";
const SECRET: &str = "secret";
const ATTEMPTS: &str = "attempts";
pub(crate) const LAST_STEP: &str = "last_step";
pub(crate) const RECOVERY: &str = "recovery";
const CREATED_AT: &str = "created_at";
const ACTIVATED_AT: &str = "activated_at";
/// Counts every write of the item: the version of the `mfa` events.
pub(crate) const VERSION: &str = "version";

/// The account's authenticator app as stored. The secret stays sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpFactor {
    pub id: String,
    pub sealed_secret: String,
    pub active: bool,
    pub created_at: i64,
    /// Wrong codes charged to a pending enrolment.
    pub attempts: u32,
    pub last_step: Option<i64>,
    /// How many recovery codes are left.
    pub recovery_left: usize,
}

/// The app an item holds; `None` for an item whose app was removed (it keeps only its
/// version count, so the change stream's versions go on rising).
fn factor_of(item: &Item) -> Result<Option<TotpFactor>, StoreError> {
    if !item.contains_key(FACTOR_ID) {
        return Ok(None);
    }
    let missing = |name: &str| StoreError::Failed(format!("authenticator item without {name}"));
    Ok(Some(TotpFactor {
        id: text(item, FACTOR_ID)
            .ok_or_else(|| missing(FACTOR_ID))?
            .to_owned(),
        sealed_secret: text(item, SECRET)
            .ok_or_else(|| missing(SECRET))?
            .to_owned(),
        active: matches!(item.get(ACTIVE), Some(AttributeValue::Bool(true))),
        created_at: number(item, CREATED_AT).unwrap_or_default(),
        attempts: number(item, ATTEMPTS).unwrap_or_default().max(0) as u32,
        last_step: number(item, LAST_STEP),
        recovery_left: match item.get(RECOVERY) {
            Some(AttributeValue::M(m)) => m.len(),
            _ => 0,
        },
    }))
}

/// The condition that the app's item holds `factor_id`, pending (`Some(false)`), active
/// (`Some(true)`) or either (`None`).
pub(crate) fn factor_is(e: &mut Expression, factor_id: &str, active: Option<bool>) {
    let (id, id_v) = (e.name(FACTOR_ID), e.value(s(factor_id)));
    e.condition(format!("{id} = {id_v}"));
    if let Some(active) = active {
        let (state, v) = (e.name(ACTIVE), e.value(AttributeValue::Bool(active)));
        e.condition(format!("{state} = {v}"));
    }
}

/// What a removal (or a set-up that ran out of codes) leaves: no app, the version
/// counted.
fn cleared(e: &mut Expression) {
    for name in [
        FACTOR_ID,
        SECRET,
        ATTEMPTS,
        LAST_STEP,
        RECOVERY,
        CREATED_AT,
        ACTIVATED_AT,
    ] {
        let path = e.name(name);
        e.remove(path);
    }
    e.set(ACTIVE, AttributeValue::Bool(false));
    e.count_write(VERSION);
}

fn recovery_map(digests: &[String]) -> AttributeValue {
    AttributeValue::M(
        digests
            .iter()
            .map(|d| (d.clone(), AttributeValue::N("1".into())))
            .collect::<HashMap<_, _>>(),
    )
}

/// How spending a right code went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    Done,
    /// The step was taken before, or the recovery code used: a replay.
    Replayed,
    /// The enrolment, the challenge or the factor is gone (over, removed, replaced).
    Gone,
    /// The account signed out everywhere, or was erased or disabled, meanwhile.
    Refused,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guard {
    Factor,
    Challenge,
    Account,
    Other,
}

impl MfaStore {
    /// The account's authenticator app, pending or active.
    pub async fn totp(&self, user: &UserId) -> Result<Option<TotpFactor>, StoreError> {
        get_consistent(&self.client, &self.table, &ItemKey::totp(user))
            .await?
            .map(|item| factor_of(&item))
            .transpose()
            .map(Option::flatten)
    }

    /// Whether the account has an active second factor (an authenticator app or a
    /// passkey): one read of its sign-in item.
    pub async fn has_factor(&self, user: &UserId) -> Result<bool, StoreError> {
        let item = get_consistent(&self.client, &self.table, &ItemKey::sessions(user)).await?;
        Ok(item.is_some_and(|i| {
            i.contains_key(TOTP_FACTOR) || number(&i, PASSKEYS).is_some_and(|n| n > 0)
        }))
    }

    /// A pending authenticator app, replacing any pending one; `false` while an active one
    /// exists (it must be removed first). Refused on an erased or disabled account.
    pub async fn begin_totp(
        &self,
        user: &UserId,
        factor_id: &str,
        sealed_secret: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut e = Expression::default();
        let (active, yes) = (e.name(ACTIVE), e.value(AttributeValue::Bool(true)));
        e.condition(format!(
            "attribute_not_exists({active}) OR {active} <> {yes}"
        ));
        for name in [LAST_STEP, RECOVERY, ACTIVATED_AT] {
            let path = e.name(name);
            e.remove(path);
        }
        e.set(FACTOR_ID, s(factor_id));
        e.set(SECRET, s(sealed_secret));
        e.set(ACTIVE, AttributeValue::Bool(false));
        e.set(CREATED_AT, n(now));
        e.set(ATTEMPTS, n(0));
        e.count_write(VERSION);
        let mut account = Expression::default();
        usable(&mut account);
        let mut txn = Tagged::new();
        txn.push(Guard::Factor, update(&self.table, &ItemKey::totp(user), e)?);
        txn.push(
            Guard::Account,
            condition_check(&self.table, &ItemKey::profile(user), account)?,
        );
        match txn.send_reading(&self.client).await? {
            (Verdict::Done, _) => Ok(true),
            (Verdict::Refused(Guard::Factor), _) => Ok(false),
            (Verdict::Refused(_), old) => Err(unusable(old.as_ref())),
            (Verdict::Conflict, _) => Err(StoreError::Unavailable(
                "the authenticator kept changing".into(),
            )),
        }
    }

    /// Charges one code to the pending enrolment `factor_id` before it is judged: the
    /// factor as charged, or `None` when it is not pending any more, has run out of
    /// time, or has taken its wrong codes.
    pub async fn charge_enrolment(
        &self,
        user: &UserId,
        factor_id: &str,
        now: i64,
    ) -> Result<Option<TotpFactor>, StoreError> {
        let mut e = Expression::default();
        let (id, active, created, attempts) = (
            e.name(FACTOR_ID),
            e.name(ACTIVE),
            e.name(CREATED_AT),
            e.name(ATTEMPTS),
        );
        let (id_v, no, since, max) = (
            e.value(s(factor_id)),
            e.value(AttributeValue::Bool(false)),
            e.value(n(now - CHALLENGE_LIFETIME_SECS)),
            e.value(n(MAX_WRONG_CODES)),
        );
        e.condition(format!(
            "{id} = {id_v} AND {active} = {no} AND {created} > {since} AND {attempts} < {max}"
        ));
        e.count_write(ATTEMPTS);
        let out = update_item(&self.client, &self.table, &ItemKey::totp(user), e)
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        Ok(crate::txn::none_if_condition_failed(out)?
            .and_then(|out| out.attributes)
            .map(|item| factor_of(&item))
            .transpose()?
            .flatten())
    }

    /// Ends a pending enrolment (its wrong codes are used up).
    pub async fn end_enrolment(&self, user: &UserId, factor_id: &str) -> Result<(), StoreError> {
        let mut e = Expression::default();
        factor_is(&mut e, factor_id, Some(false));
        cleared(&mut e);
        let out = update_item(&self.client, &self.table, &ItemKey::totp(user), e)
            .send()
            .await;
        crate::txn::unless_condition_failed(out)
    }

    /// Activates the pending `factor_id` with the step its first code was of and the
    /// digests of a new set of recovery codes; the audit trail records it.
    pub async fn activate_totp(
        &self,
        user: &UserId,
        factor_id: &str,
        step: i64,
        recovery_digests: &[String],
        actor: &Actor,
        now: i64,
    ) -> Result<Spent, StoreError> {
        let mut e = Expression::default();
        factor_is(&mut e, factor_id, Some(false));
        e.set(ACTIVE, AttributeValue::Bool(true));
        e.set(LAST_STEP, n(step));
        e.set(RECOVERY, recovery_map(recovery_digests));
        e.set(ACTIVATED_AT, n(now));
        e.count_write(VERSION);
        let attempts = e.name(ATTEMPTS);
        e.remove(attempts);
        // The login reads it beside the generation (`SessionStore::sign_in`).
        let mut sign_in = Expression::default();
        sign_in.set(TOTP_FACTOR, s(factor_id));
        self.factor_write(user, e, actor, now, "enrolled", Some(sign_in))
            .await
    }

    /// A new set of recovery codes for the active `factor_id`: the old set is void.
    pub async fn replace_recovery(
        &self,
        user: &UserId,
        factor_id: &str,
        recovery_digests: &[String],
        actor: &Actor,
        now: i64,
    ) -> Result<Spent, StoreError> {
        let mut e = Expression::default();
        factor_is(&mut e, factor_id, Some(true));
        e.set(RECOVERY, recovery_map(recovery_digests));
        e.count_write(VERSION);
        self.factor_write(user, e, actor, now, "recovery codes replaced", None)
            .await
    }

    async fn factor_write(
        &self,
        user: &UserId,
        e: Expression,
        actor: &Actor,
        now: i64,
        what: &str,
        sign_in: Option<Expression>,
    ) -> Result<Spent, StoreError> {
        let mut account = Expression::default();
        usable(&mut account);
        let mut txn = Tagged::new();
        txn.push(Guard::Factor, update(&self.table, &ItemKey::totp(user), e)?);
        if let Some(sign_in) = sign_in {
            txn.push(
                Guard::Other,
                update(&self.table, &ItemKey::sessions(user), sign_in)?,
            );
        }
        txn.push(
            Guard::Account,
            condition_check(&self.table, &ItemKey::profile(user), account)?,
        );
        txn.push(
            Guard::Other,
            audit_note(&self.table, user, actor, now, "mfa.totp", what)?,
        );
        match txn.send_reading(&self.client).await? {
            (Verdict::Done, _) => Ok(Spent::Done),
            (Verdict::Refused(Guard::Factor), _) => Ok(Spent::Gone),
            (Verdict::Refused(Guard::Account), old) => Err(unusable(old.as_ref())),
            (Verdict::Refused(_) | Verdict::Conflict, _) => Err(StoreError::Unavailable(
                "the authenticator kept changing".into(),
            )),
        }
    }

    /// Removes the authenticator app `factor_id` (pending or active) and its recovery
    /// codes; `false` when the account has no such factor.
    pub async fn remove_totp(
        &self,
        user: &UserId,
        factor_id: &str,
        actor: &Actor,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut e = Expression::default();
        factor_is(&mut e, factor_id, None);
        cleared(&mut e);
        let mut account = Expression::default();
        usable(&mut account);
        let mut sign_in = Expression::default();
        let flag = sign_in.name(TOTP_FACTOR);
        sign_in.remove(flag);
        let mut txn = Tagged::new();
        txn.push(Guard::Factor, update(&self.table, &ItemKey::totp(user), e)?);
        txn.push(
            Guard::Other,
            update(&self.table, &ItemKey::sessions(user), sign_in)?,
        );
        txn.push(
            Guard::Account,
            condition_check(&self.table, &ItemKey::profile(user), account)?,
        );
        txn.push(
            Guard::Other,
            audit_note(&self.table, user, actor, now, "mfa.totp", "removed")?,
        );
        match txn.send_reading(&self.client).await? {
            (Verdict::Done, _) => Ok(true),
            (Verdict::Refused(Guard::Factor), _) => Ok(false),
            (Verdict::Refused(Guard::Account), old) => Err(unusable(old.as_ref())),
            (Verdict::Refused(_) | Verdict::Conflict, _) => Err(StoreError::Unavailable(
                "the authenticator kept changing".into(),
            )),
        }
    }
}

/// The app as an export shows it: what it is and when it was set up, how many recovery
/// codes are left; never the secret, a recovery code or its digest.
pub(crate) fn exported(item: &Item) -> Option<serde_json::Value> {
    item.contains_key(FACTOR_ID).then(|| exported_factor(item))
}

fn exported_factor(item: &Item) -> serde_json::Value {
    let at = |name: &str| number(item, name).map(rfc3339);
    json!({
        "id": text(item, FACTOR_ID),
        "type": "totp",
        "active": matches!(item.get(ACTIVE), Some(AttributeValue::Bool(true))),
        "created_at": at(CREATED_AT),
        "activated_at": at(ACTIVATED_AT),
        "recovery_codes_left": match item.get(RECOVERY) {
            Some(AttributeValue::M(m)) => m.len(),
            _ => 0,
        },
    })
}

/// `mfa.enrolled` when an app becomes active, `mfa.removed` when the holder removes an
/// active one (an erasure's deletion is the account's `account.deleted`). Never the
/// secret or a recovery code's digest.
pub(crate) fn changes(old: Option<&Item>, new: Option<&Item>) -> Vec<domain::events::Change> {
    use domain::events::{Aggregate, Change, EventType};
    let active = |i: Option<&Item>| {
        i.is_some_and(|i| matches!(i.get(ACTIVE), Some(AttributeValue::Bool(true))))
    };
    let id = |i: Option<&Item>| i.and_then(|i| text(i, FACTOR_ID)).map(str::to_owned);
    let (was, is) = (active(old), active(new));
    let event = match (was, is, new.is_some()) {
        (false, true, _) => EventType::MfaEnrolled,
        (true, false, true) => EventType::MfaRemoved,
        _ => return Vec::new(),
    };
    let factor = if is { id(new) } else { id(old) };
    vec![Change {
        event_type: event,
        aggregate: Aggregate::Mfa,
        data: json!({ "factor_id": factor, "type": "totp" }),
    }]
}
