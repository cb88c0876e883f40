//! A login's second step (`MFA_CHALLENGE#<hash>`, keyed by the SHA-256 of the
//! `mfa_token` the client holds) and the account's hourly count of second-step codes.
//! Every code is charged before it is judged (a conditional increment that stops at the
//! limit), and a right one is spent in the transaction that checks the charge: a step no
//! later than the last one taken, or a recovery code already used, cancels it.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem};
use domain::UserId;
use domain::mfa::{CHALLENGE_LIFETIME_SECS, MAX_SECOND_STEP_CODES_PER_HOUR, MAX_WRONG_CODES};
use domain::session::ClientId;

use crate::StoreError;
use crate::counter::COUNT;
use crate::expr::Expression;
use crate::item::{Item, n, number, s, text};
use crate::keys::{ItemKey, PK, TTL_ATTRIBUTE};
use crate::mfa::{
    ACTIVE, FACTOR_ID, Guard, LAST_STEP, MfaStore, RECOVERY, Spent, VERSION, factor_is,
};

/// Codes charged to a second step.
const ATTEMPTS: &str = "attempts";
use crate::session_epoch::still_signed_in;
use crate::session_item::{NewSession, open_items};
use crate::txn::{Tagged, Verdict, delete, delete_item, put, update, update_item};

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

/// The condition on the app's item under which `spend` may be spent, and the update
/// that spends it.
fn spending(e: &mut Expression, factor_id: &str, spend: &Spend<'_>) {
    e.count_write(VERSION);
    factor_is(e, factor_id, Some(true));
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
            &ItemKey::second_step_codes(user, hour),
            MAX_SECOND_STEP_CODES_PER_HOUR,
            hour + 7200,
        )
        .await
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
    /// `factor_id`, gives back the place the code took in the hour's count (at
    /// `charged_at`: a right code is no guess), and opens the session, on the account's
    /// generation as the login read it and while the account is usable.
    pub async fn finish_challenge(
        &self,
        token_hash: &str,
        factor_id: &str,
        spend: &Spend<'_>,
        session: &NewSession<'_>,
        charged_at: i64,
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
        let mut given_back = Expression::default();
        let (count, one) = (given_back.name(COUNT), given_back.value(n(1)));
        given_back.set_raw(
            count.clone(),
            format!("if_not_exists({count}, {one}) - {one}"),
        );
        let hour = charged_at - charged_at.rem_euclid(3600);
        let mut txn = Tagged::new();
        txn.push(
            Guard::Challenge,
            delete(&self.table, &ItemKey::mfa_challenge(token_hash), challenge)?,
        );
        txn.push(
            Guard::Factor,
            update(&self.table, &ItemKey::totp(session.user), factor)?,
        );
        txn.push(
            Guard::Other,
            update(
                &self.table,
                &ItemKey::second_step_codes(session.user, hour),
                given_back,
            )?,
        );
        txn.extend(Guard::Other, open_items(&self.table, session)?);
        txn.extend(
            Guard::Account,
            still_signed_in(&self.table, session.user, session.generation)?,
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

/// Whether the app's item is still the active `factor_id` (so a refused spend was a
/// replay, not a removal).
fn still(item: &Item, factor_id: &str) -> bool {
    text(item, FACTOR_ID) == Some(factor_id)
        && matches!(item.get(ACTIVE), Some(AttributeValue::Bool(true)))
}
