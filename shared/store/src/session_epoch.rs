//! Ending sessions: one at a time, or all at once by a generation. `USER#<id>` / `SESSIONS`
//! holds the account's sign-out generation; every session and refresh token records the
//! generation it was opened under, and opening a session or refreshing one is conditioned
//! on that generation being the account's still. So one write (a password reset or change,
//! "sign out everywhere") ends every session, however many there are and whatever races it.
//! The item also counts what ended sessions (`revocations`, with the last reason and count),
//! which the change stream turns into `sessions.revoked`.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use domain::{Actor, UserId};

use crate::account_audit::{FieldChange, FieldChanges, audit_put};

use crate::StoreError;
use crate::batch::{all_pages, user_prefix_query};
use crate::expr::Expression;
use crate::item::{Item, n, text};
use crate::keys::{
    ItemKey, PK, SESSION_ITEMS_PREFIX, SESSION_PREFIX, SESSIONS_SK, SK, TTL_ATTRIBUTE,
};
use crate::session_item::{GENERATION, SessionStore};
use crate::txn::{Tagged, Verdict, condition_check, update};

pub(crate) const REVOCATIONS: &str = "revocations";
/// Present (`true`) on the sign-out item of an account an operator disabled: no session
/// opens, and only an operator ends sessions, until it is enabled.
pub(crate) const DISABLED: &str = "disabled";
/// The account's active authenticator app, by id: a login reads it with the generation,
/// so an account with a second factor costs it no extra read (`mfa`).
pub(crate) const TOTP_FACTOR: &str = "totp_factor";
/// How many passkeys the account has (`passkeys`): a second factor for step-up.
pub(crate) const PASSKEYS: &str = "passkeys";

/// Why sessions ended, as `sessions.revoked` tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedBy {
    /// A password reset ended every session.
    Reset,
    /// A password change ended every session but the caller's.
    Change,
    /// The user ended one session, or all.
    User,
    /// An operator.
    Admin,
}

impl EndedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            EndedBy::Reset => "reset",
            EndedBy::Change => "change",
            EndedBy::User => "user",
            EndedBy::Admin => "admin",
        }
    }
}

/// A live session as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    /// The token family: the access tokens' `sid`.
    pub id: String,
    pub created_at: i64,
    pub last_used_at: i64,
    pub client: Option<String>,
    /// The session's live refresh token (its hash), for a write that keeps the session.
    pub(crate) current: Option<String>,
}

/// The account's sessions: its generation and the sessions still live under it.
#[derive(Debug, Clone, Default)]
pub struct Sessions {
    pub generation: i64,
    pub live: Vec<SessionSummary>,
    /// An operator disabled the account.
    pub disabled: bool,
}

fn number(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

/// The condition that `user`'s sessions are still of `generation`: an item of a
/// transaction that opens or continues a session.
pub(crate) fn generation_is(
    table: &str,
    user: &UserId,
    generation: i64,
) -> Result<TransactWriteItem, StoreError> {
    let mut e = Expression::default();
    let (name, value) = (e.name(GENERATION), e.value(n(generation)));
    e.condition(if generation == 0 {
        format!("attribute_not_exists({name}) OR {name} = {value}")
    } else {
        format!("{name} = {value}")
    });
    condition_check(table, &ItemKey::sessions(user), e)
}

/// The conditions a session opened without a password is opened on: the account is
/// usable (neither erased nor disabled) and still of the generation the opening read.
/// Items of the transaction that opens it.
pub(crate) fn still_signed_in(
    table: &str,
    user: &UserId,
    generation: i64,
) -> Result<[TransactWriteItem; 2], StoreError> {
    let mut alive = Expression::default();
    crate::profile_item::usable(&mut alive);
    Ok([
        condition_check(table, &ItemKey::profile(user), alive)?,
        generation_is(table, user, generation)?,
    ])
}

/// Records that `count` sessions ended, and why, counting the act for the change stream.
fn recorded(e: &mut Expression, by: EndedBy, count: usize, now: i64) {
    e.count_write(REVOCATIONS);
    e.set("last_reason", AttributeValue::S(by.as_str().to_owned()));
    e.set("last_count", n(count));
    e.set("ended_at", n(now));
}

/// Ends every session of `user` in the transaction it joins: the next generation.
/// Refused on a disabled account but by an operator.
pub(crate) fn end_all(
    table: &str,
    user: &UserId,
    by: EndedBy,
    count: usize,
    now: i64,
) -> Result<TransactWriteItem, StoreError> {
    let mut e = Expression::default();
    e.count_write(GENERATION);
    recorded(&mut e, by, count, now);
    if by != EndedBy::Admin {
        not_disabled(&mut e);
    }
    update(table, &ItemKey::sessions(user), e)
}

/// Disables sign-in for `user` and ends every session, an operator's act, in the
/// transaction it joins.
pub(crate) fn disable_sign_in(
    table: &str,
    user: &UserId,
    count: usize,
    now: i64,
) -> Result<TransactWriteItem, StoreError> {
    let mut e = Expression::default();
    e.count_write(GENERATION);
    recorded(&mut e, EndedBy::Admin, count, now);
    e.set(DISABLED, AttributeValue::Bool(true));
    update(table, &ItemKey::sessions(user), e)
}

/// Lets sessions open for `user` again, in the transaction it joins; the generation
/// stays, so the sessions that ended stay ended.
pub(crate) fn enable_sign_in(table: &str, user: &UserId) -> Result<TransactWriteItem, StoreError> {
    let mut e = Expression::default();
    let disabled = e.name(DISABLED);
    e.remove(disabled);
    update(table, &ItemKey::sessions(user), e)
}

fn not_disabled(e: &mut Expression) {
    let disabled = e.name(DISABLED);
    e.condition(format!("attribute_not_exists({disabled})"));
}

/// Ends every session of `user` but `keep`, in the transaction they join: the next
/// generation, with `keep` and its live token moved to it. Conditioned on the generation
/// and the session as listed, so a refresh racing it makes the whole write lose.
pub(crate) fn end_all_but(
    table: &str,
    user: &UserId,
    sessions: &Sessions,
    keep: &SessionSummary,
    by: EndedBy,
    now: i64,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let next = sessions.generation + 1;
    let mut epoch = Expression::default();
    let (name, from) = (epoch.name(GENERATION), epoch.value(n(sessions.generation)));
    epoch.condition(if sessions.generation == 0 {
        format!("attribute_not_exists({name}) OR {name} = {from}")
    } else {
        format!("{name} = {from}")
    });
    epoch.set(GENERATION, n(next));
    recorded(&mut epoch, by, sessions.live.len().saturating_sub(1), now);
    not_disabled(&mut epoch);
    let mut session = Expression::default();
    session.set(GENERATION, n(next));
    let current = keep.current.as_deref().unwrap_or_default();
    let (named, live) = (session.name("current"), session.value(s(current)));
    session.condition(format!("{named} = {live}"));
    let mut token = Expression::default();
    token.set(GENERATION, n(next));
    let pk = token.name(PK);
    token.condition(format!("attribute_exists({pk})"));
    Ok(vec![
        update(table, &ItemKey::sessions(user), epoch)?,
        update(table, &ItemKey::session(user, &keep.id), session)?,
        update(table, &ItemKey::refresh_token(current), token)?,
    ])
}

/// The audit entry of sessions ended by hand.
fn audited(
    table: &str,
    user: &UserId,
    actor: &Actor,
    at: DateTime<Utc>,
    count: usize,
) -> Result<TransactWriteItem, StoreError> {
    let changes = FieldChanges::from([(
        "sessions".to_owned(),
        FieldChange {
            from: None,
            to: serde_json::json!({ "ended": count }),
        },
    )]);
    audit_put(table, user, actor, at, &changes)
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// What a login needs to know of an account besides its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// The sign-out generation sessions open under.
    pub generation: i64,
    /// The active authenticator app's id: the login takes a second step.
    pub totp_factor: Option<String>,
}

impl SessionStore {
    /// The generation `user`'s sessions are opened under now; `Disabled` when an operator
    /// disabled the account, so none may open.
    pub async fn generation(&self, user: &UserId) -> Result<i64, StoreError> {
        Ok(self.sign_in(user).await?.generation)
    }

    /// `generation`, with the account's active second factor, in one read.
    pub async fn sign_in(&self, user: &UserId) -> Result<SignIn, StoreError> {
        let item = crate::item::get_consistent(&self.client, &self.table, &ItemKey::sessions(user))
            .await?;
        if item.as_ref().is_some_and(|i| i.contains_key(DISABLED)) {
            return Err(StoreError::Disabled);
        }
        Ok(SignIn {
            generation: item
                .as_ref()
                .and_then(|i| number(i, GENERATION))
                .unwrap_or(0),
            totp_factor: item
                .as_ref()
                .and_then(|i| text(i, TOTP_FACTOR))
                .map(str::to_owned),
        })
    }

    /// `user`'s sessions that are live at `now`, oldest first: one Query for the
    /// generation and the sessions together.
    pub async fn live(&self, user: &UserId, now: i64) -> Result<Sessions, StoreError> {
        let items = all_pages(
            user_prefix_query(&self.client, &self.table, user, SESSION_ITEMS_PREFIX)
                .consistent_read(true),
        )
        .await?;
        let epoch = items.iter().find(|i| text(i, SK) == Some(SESSIONS_SK));
        let generation = epoch.and_then(|i| number(i, GENERATION)).unwrap_or(0);
        let disabled = epoch.is_some_and(|i| i.contains_key(DISABLED));
        let mut live: Vec<SessionSummary> = items
            .iter()
            .filter_map(|item| {
                let id = text(item, SK)?.strip_prefix(SESSION_PREFIX)?;
                let revoked = matches!(item.get("revoked"), Some(AttributeValue::Bool(true)));
                let expired = number(item, TTL_ATTRIBUTE).is_some_and(|at| at <= now);
                let of_now = number(item, GENERATION).unwrap_or(0) == generation;
                let created_at = number(item, "created_at").unwrap_or(0);
                (!revoked && !expired && of_now).then(|| SessionSummary {
                    id: id.to_owned(),
                    created_at,
                    last_used_at: number(item, "last_used_at").unwrap_or(created_at),
                    client: text(item, "client_id").map(str::to_owned),
                    current: text(item, "current").map(str::to_owned),
                })
            })
            .collect();
        live.sort_by_key(|s| (s.created_at, s.id.clone()));
        Ok(Sessions {
            generation,
            live,
            disabled,
        })
    }

    /// Ends `user`'s live session `id`, on the account's audit. `false`: `user` has no
    /// such live session.
    pub async fn end(
        &self,
        user: &UserId,
        id: &str,
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let now = at.timestamp();
        let sessions = self.live(user, now).await?;
        if !sessions.live.iter().any(|s| s.id == id) {
            return Ok(false);
        }
        let mut session = Expression::default();
        session.set("revoked", AttributeValue::Bool(true));
        let pk = session.name(PK);
        session.condition(format!("attribute_exists({pk})"));
        let mut record = Expression::default();
        recorded(&mut record, EndedBy::User, 1, now);
        let mut txn = Tagged::new();
        txn.push(
            (),
            update(&self.table, &ItemKey::session(user, id), session)?,
        );
        txn.push((), update(&self.table, &ItemKey::sessions(user), record)?);
        txn.push((), audited(&self.table, user, actor, at, 1)?);
        match txn.send(&self.client).await? {
            Verdict::Done => Ok(true),
            Verdict::Refused(()) => Ok(false),
            Verdict::Conflict => Err(StoreError::Unavailable(
                "the session could not be ended".into(),
            )),
        }
    }

    /// Ends every session of `user` ("sign out everywhere"): one write, on the account's
    /// audit. Returns how many were live.
    pub async fn end_every(
        &self,
        user: &UserId,
        by: EndedBy,
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let now = at.timestamp();
        let sessions = self.live(user, now).await?;
        if sessions.disabled && by != EndedBy::Admin {
            return Err(StoreError::Disabled);
        }
        let count = sessions.live.len();
        let mut txn = Tagged::new();
        txn.push((), end_all(&self.table, user, by, count, now)?);
        txn.push((), audited(&self.table, user, actor, at, count)?);
        match txn.send(&self.client).await? {
            Verdict::Done => Ok(count),
            // Disabled since the read: only an operator ends its sessions.
            Verdict::Refused(()) if by != EndedBy::Admin => Err(StoreError::Disabled),
            Verdict::Refused(()) | Verdict::Conflict => Err(StoreError::Unavailable(
                "the sessions could not be ended".into(),
            )),
        }
    }
}
