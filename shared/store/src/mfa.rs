//! The second factor's items: the account's authenticator app (`MFA#TOTP` in its
//! partition: pending until a first code proves it, then active, with the digests of its
//! recovery codes and the last step a code was taken from), and a login's second step
//! (`MFA_CHALLENGE#<hash>`, keyed by the SHA-256 of the `mfa_token` the client holds).
//!
//! Every wrong code is charged before it is judged (a conditional increment that stops
//! at the limit), and a right one is spent in the transaction that checks the charge: a
//! step no later than the last one taken, or a recovery code already used, cancels it.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use domain::mfa::{CHALLENGE_LIFETIME_SECS, MAX_SECOND_STEP_CODES_PER_HOUR, MAX_WRONG_CODES};
use domain::session::ClientId;
use domain::{Actor, UserId};
use serde_json::json;
use std::collections::HashMap;

use crate::StoreError;
use crate::account_audit::{FieldChange, FieldChanges, audit_put};
use crate::expr::Expression;
use crate::item::{Item, get_consistent, n, text};
use crate::keys::{ItemKey, PK, TTL_ATTRIBUTE};
use crate::profile_item::{unusable, usable};
use crate::session_epoch::{PASSKEYS, TOTP_FACTOR, generation_is};
use crate::session_item::{NewSession, open_items};
use crate::txn::{Tagged, Verdict, condition_check, delete, delete_item, put, update, update_item};

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
const LAST_STEP: &str = "last_step";
const RECOVERY: &str = "recovery";
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

fn number(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
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

/// What the audit trail says of a change to the second factor.
fn audited(
    table: &str,
    user: &UserId,
    actor: &Actor,
    now: i64,
    what: &str,
) -> Result<TransactWriteItem, StoreError> {
    let changes = FieldChanges::from([(
        "mfa.totp".to_owned(),
        FieldChange {
            from: None,
            to: json!(what),
        },
    )]);
    let at = DateTime::<Utc>::from_timestamp(now, 0).unwrap_or_default();
    audit_put(table, user, actor, at, &changes)
}

fn recovery_map(digests: &[String]) -> AttributeValue {
    AttributeValue::M(
        digests
            .iter()
            .map(|d| (d.clone(), AttributeValue::N("1".into())))
            .collect::<HashMap<_, _>>(),
    )
}

/// A login's second step, as the login left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub user: UserId,
    pub scope: String,
    pub client: ClientId,
    pub generation: i64,
    pub auth_time: i64,
    pub attempts: u32,
}

/// A login's second step to store, in the transaction that checks the password's
/// credential as read (`SessionStore::open_second_step`).
pub struct NewChallenge<'a> {
    pub token_hash: &'a str,
    pub user: &'a UserId,
    pub scope: &'a str,
    pub client: &'a ClientId,
    pub generation: i64,
    pub now: i64,
}

pub(crate) fn challenge_put(
    table: &str,
    c: &NewChallenge<'_>,
) -> Result<TransactWriteItem, StoreError> {
    let mut item = Item::from([
        ("user_id".to_owned(), s(c.user.as_str())),
        ("scope".to_owned(), s(c.scope)),
        ("client_id".to_owned(), s(c.client.as_str())),
        ("generation".to_owned(), n(c.generation)),
        ("auth_time".to_owned(), n(c.now)),
        (ATTEMPTS.to_owned(), n(0)),
        (TTL_ATTRIBUTE.to_owned(), n(c.now + CHALLENGE_LIFETIME_SECS)),
    ]);
    item.extend(ItemKey::mfa_challenge(c.token_hash).to_item());
    let mut e = Expression::default();
    let pk = e.name(PK);
    e.condition(format!("attribute_not_exists({pk})"));
    put(table, item, e)
}

/// What a right code spends: a step of the app, or one recovery code (its digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spend<'a> {
    Step(i64),
    Recovery(&'a str),
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
enum Guard {
    Factor,
    Challenge,
    Account,
    Other,
}

/// The condition on the app's item under which `spend` may be spent, and the update
/// that spends it.
fn spending(e: &mut Expression, factor_id: &str, spend: &Spend<'_>) {
    e.count_write(VERSION);
    let (id, active, yes) = (
        e.name(FACTOR_ID),
        e.name(ACTIVE),
        e.value(AttributeValue::Bool(true)),
    );
    let id_v = e.value(s(factor_id));
    e.condition(format!("{id} = {id_v} AND {active} = {yes}"));
    match spend {
        Spend::Step(step) => {
            let (last, v) = (e.name(LAST_STEP), e.value(n(*step)));
            e.condition(format!("attribute_not_exists({last}) OR {last} < {v}"));
            e.set(LAST_STEP, n(*step));
        }
        Spend::Recovery(digest) => {
            let (map, key) = (e.name(RECOVERY), e.name(digest));
            e.condition(format!("attribute_exists({map}.{key})"));
            e.remove(format!("{map}.{key}"));
        }
    }
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
        let (id, active, id_v, no) = (
            e.name(FACTOR_ID),
            e.name(ACTIVE),
            e.value(s(factor_id)),
            e.value(AttributeValue::Bool(false)),
        );
        e.condition(format!("{id} = {id_v} AND {active} = {no}"));
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
        let (id, active, id_v, no) = (
            e.name(FACTOR_ID),
            e.name(ACTIVE),
            e.value(s(factor_id)),
            e.value(AttributeValue::Bool(false)),
        );
        e.condition(format!("{id} = {id_v} AND {active} = {no}"));
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
        let (id, active, id_v, yes) = (
            e.name(FACTOR_ID),
            e.name(ACTIVE),
            e.value(s(factor_id)),
            e.value(AttributeValue::Bool(true)),
        );
        e.condition(format!("{id} = {id_v} AND {active} = {yes}"));
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
        txn.push(Guard::Other, audited(&self.table, user, actor, now, what)?);
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
        let (id, id_v) = (e.name(FACTOR_ID), e.value(s(factor_id)));
        e.condition(format!("{id} = {id_v}"));
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
            audited(&self.table, user, actor, now, "removed")?,
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

    /// Charges one code to the login's second step before it is judged: the step as
    /// charged, or `None` when it is unknown, expired or has taken its wrong codes.
    pub async fn charge_challenge(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<Challenge>, StoreError> {
        let mut e = Expression::default();
        let (pk, attempts, expires) = (e.name(PK), e.name(ATTEMPTS), e.name(TTL_ATTRIBUTE));
        let (max, now_v) = (e.value(n(MAX_WRONG_CODES)), e.value(n(now)));
        e.condition(format!(
            "attribute_exists({pk}) AND {attempts} < {max} AND {expires} > {now_v}"
        ));
        e.count_write(ATTEMPTS);
        let out = update_item(
            &self.client,
            &self.table,
            &ItemKey::mfa_challenge(token_hash),
            e,
        )
        .return_values(ReturnValue::AllNew)
        .send()
        .await;
        let Some(item) = crate::txn::none_if_condition_failed(out)?.and_then(|o| o.attributes)
        else {
            return Ok(None);
        };
        let field = |name: &str| {
            text(&item, name).ok_or_else(|| StoreError::Failed(format!("challenge without {name}")))
        };
        Ok(Some(Challenge {
            user: UserId::parse(field("user_id")?)
                .map_err(|e| StoreError::Failed(format!("stored user id: {e}")))?,
            scope: field("scope")?.to_owned(),
            client: ClientId::parse(field("client_id")?)
                .map_err(|e| StoreError::Failed(format!("stored client id: {e}")))?,
            generation: number(&item, "generation").unwrap_or_default(),
            auth_time: number(&item, "auth_time").unwrap_or_default(),
            attempts: number(&item, ATTEMPTS).unwrap_or_default().max(0) as u32,
        }))
    }

    /// Takes one of the account's second-step codes of the hour `now` falls in
    /// (`MAX_SECOND_STEP_CODES_PER_HOUR`), before the code is judged; `false` when the
    /// hour's are taken.
    pub async fn take_second_step_code(&self, user: &UserId, now: i64) -> Result<bool, StoreError> {
        let hour = now - now.rem_euclid(3600);
        crate::counter::take_one(
            &self.client,
            &self.table,
            &second_step_codes(user, hour),
            MAX_SECOND_STEP_CODES_PER_HOUR,
            hour + 7200,
        )
        .await
    }

    /// Gives back the place of a right code.
    pub async fn give_back_second_step_code(
        &self,
        user: &UserId,
        now: i64,
    ) -> Result<(), StoreError> {
        let hour = now - now.rem_euclid(3600);
        crate::counter::give_back(&self.client, &self.table, &second_step_codes(user, hour)).await
    }

    /// Ends a login's second step (its wrong codes are used up).
    pub async fn end_challenge(&self, token_hash: &str) -> Result<(), StoreError> {
        let out = delete_item(
            &self.client,
            &self.table,
            &ItemKey::mfa_challenge(token_hash),
            Expression::default(),
        )
        .send()
        .await;
        crate::txn::unless_condition_failed(out)
    }

    /// Finishes a login's second step with a right code: one transaction ends the step
    /// (while it has not taken its wrong codes), spends the code on the app's item
    /// `factor_id`, and opens the session, on the account's generation as the login read
    /// it and while the account is not erased.
    pub async fn finish_challenge(
        &self,
        token_hash: &str,
        factor_id: &str,
        spend: &Spend<'_>,
        session: &NewSession<'_>,
    ) -> Result<Spent, StoreError> {
        let mut challenge = Expression::default();
        let (pk, attempts, max) = (
            challenge.name(PK),
            challenge.name(ATTEMPTS),
            challenge.value(n(MAX_WRONG_CODES)),
        );
        challenge.condition(format!("attribute_exists({pk}) AND {attempts} <= {max}"));
        let mut factor = Expression::default();
        spending(&mut factor, factor_id, spend);
        let mut alive = Expression::default();
        usable(&mut alive);
        let mut txn = Tagged::new();
        txn.push(
            Guard::Challenge,
            delete(&self.table, &ItemKey::mfa_challenge(token_hash), challenge)?,
        );
        txn.push(
            Guard::Factor,
            update(&self.table, &ItemKey::totp(session.user), factor)?,
        );
        txn.extend(Guard::Other, open_items(&self.table, session)?);
        txn.push(
            Guard::Account,
            condition_check(&self.table, &ItemKey::profile(session.user), alive)?,
        );
        txn.push(
            Guard::Account,
            generation_is(&self.table, session.user, session.generation)?,
        );
        Ok(match txn.send_reading(&self.client).await? {
            (Verdict::Done, _) => Spent::Done,
            (Verdict::Refused(Guard::Challenge), _) => Spent::Gone,
            (Verdict::Refused(Guard::Factor), Some(old)) if still(&old, factor_id) => {
                Spent::Replayed
            }
            (Verdict::Refused(Guard::Factor), _) => Spent::Gone,
            (Verdict::Refused(_), _) => Spent::Refused,
            (Verdict::Conflict, _) => {
                return Err(StoreError::Unavailable(
                    "the second step kept racing".into(),
                ));
            }
        })
    }
}

/// The account's count of second-step codes in the hour beginning at `hour`.
fn second_step_codes(user: &UserId, hour: i64) -> ItemKey {
    ItemKey::in_user_partition(user, format!("{SECOND_STEP_CODES_PREFIX}{hour}"))
}

/// What the hourly counts' sort keys begin with (the export lists them as counters).
pub(crate) const SECOND_STEP_CODES_PREFIX: &str = "MFA_CODES#";

/// Whether the app's item is still the active `factor_id` (so a refused spend was a
/// replay, not a removal).
fn still(item: &Item, factor_id: &str) -> bool {
    text(item, FACTOR_ID) == Some(factor_id)
        && matches!(item.get(ACTIVE), Some(AttributeValue::Bool(true)))
}

/// The app as an export shows it: what it is and when it was set up, how many recovery
/// codes are left; never the secret, a recovery code or its digest.
pub(crate) fn exported(item: &Item) -> Option<serde_json::Value> {
    item.contains_key(FACTOR_ID).then(|| exported_factor(item))
}

fn exported_factor(item: &Item) -> serde_json::Value {
    let at = |name: &str| {
        number(item, name).map(|secs| {
            DateTime::<Utc>::from_timestamp(secs, 0)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
    };
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
