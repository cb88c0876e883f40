//! One-time code items, whatever a code proves: the subject's challenge and the
//! destination's send log (`domain::otp`). Reserving a send is one transaction
//! conditioned on both being as read, so two requests cannot both send; a failed send
//! is released; a wrong code is counted against the live challenge only.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use domain::otp::{Challenge, HOUR_SECS, SendLog};

use crate::StoreError;
use crate::expr::Expression;
use crate::item::{Item, item_of, n};
use crate::keys::{ItemKey, PK, TTL_ATTRIBUTE};
use crate::txn::{Outcome, delete, none_if_condition_failed, put, transact, update_item};

/// Where one flow keeps its code.
#[derive(Debug, Clone)]
pub struct CodeSlot {
    /// The subject's challenge (`OTP#<purpose>`).
    pub challenge: ItemKey,
    /// The destination's send log.
    pub sends: ItemKey,
}

/// What the slot held when it was read.
pub struct CodeState<'a> {
    pub challenge: Option<&'a Challenge>,
    pub sends: Option<&'a SendLog>,
}

/// `attribute_not_exists(pk)` when there was no item, else `rev = :seen`.
fn unchanged_since(e: &mut Expression, seen_rev: Option<u64>) {
    match seen_rev {
        None => {
            let pk = e.name(PK);
            e.condition(format!("attribute_not_exists({pk})"));
        }
        Some(rev) => {
            let name = e.name("rev");
            let value = e.value(n(rev));
            e.condition(format!("{name} = {value}"));
        }
    }
}

/// Stores `challenge` and `log` if nobody sent a code since `before` was read.
pub(crate) async fn reserve(
    client: &Client,
    table: &str,
    slot: &CodeSlot,
    before: &CodeState<'_>,
    challenge: &Challenge,
    log: &SendLog,
    now: i64,
) -> Result<bool, StoreError> {
    let expires = |item: &mut Item| {
        item.insert(TTL_ATTRIBUTE.to_owned(), n(now + HOUR_SECS));
    };
    let mut challenge_item = item_of(&slot.challenge, challenge)?;
    expires(&mut challenge_item);
    let mut log_item = item_of(&slot.sends, log)?;
    expires(&mut log_item);
    let mut c = Expression::default();
    unchanged_since(&mut c, before.challenge.map(|c| c.rev));
    let mut l = Expression::default();
    unchanged_since(&mut l, before.sends.map(|l| l.rev));
    let items = vec![put(table, challenge_item, c)?, put(table, log_item, l)?];
    Ok(matches!(transact(client, items).await?, Outcome::Done))
}

/// Undoes `reserve` after the code could not be sent, so nobody is charged a cooldown
/// for a message that never left. Leaves anything written since alone.
pub(crate) async fn release(
    client: &Client,
    table: &str,
    slot: &CodeSlot,
    before: &CodeState<'_>,
    reserved: &Challenge,
    reserved_log: &SendLog,
) -> Result<(), StoreError> {
    // The restored items expire as the reservation's would have: they hold a number or
    // an address and a digest, which must not outlive the hour they count for.
    let expires_at = reserved.sent_at + HOUR_SECS;
    let restore = |key: &ItemKey, previous: Option<Item>, reserved_rev: u64| {
        let mut e = Expression::default();
        unchanged_since(&mut e, Some(reserved_rev));
        match previous {
            Some(mut item) => {
                item.insert(TTL_ATTRIBUTE.to_owned(), n(expires_at));
                put(table, item, e)
            }
            None => delete(table, key, e),
        }
    };
    let previous = before
        .challenge
        .map(|c| item_of(&slot.challenge, c))
        .transpose()?;
    let previous_log = before.sends.map(|l| item_of(&slot.sends, l)).transpose()?;
    let items = vec![
        restore(&slot.challenge, previous, reserved.rev)?,
        restore(&slot.sends, previous_log, reserved_log.rev)?,
    ];
    // A failed condition means a newer write owns the items now: leave them.
    transact(client, items).await.map(|_| ())
}

/// Counts a wrong code against the challenge still holding `digest`; `None` if gone.
pub(crate) async fn record_wrong(
    client: &Client,
    table: &str,
    challenge: &ItemKey,
    digest: &str,
) -> Result<Option<u32>, StoreError> {
    let mut e = Expression::default();
    let attempts = e.name("attempts");
    let one = e.value(n(1));
    let digest_name = e.name("digest");
    let digest_value = e.value(AttributeValue::S(digest.to_owned()));
    e.set_raw(attempts.clone(), format!("{attempts} + {one}"));
    e.condition(format!("{digest_name} = {digest_value}"));
    let result = update_item(client, table, challenge, e)
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await;
    Ok(
        none_if_condition_failed(result)?.and_then(|out| match out.attributes?.get("attempts") {
            Some(AttributeValue::N(v)) => v.parse().ok(),
            _ => None,
        }),
    )
}

/// The transaction item that spends the live code holding `digest`: it fails if the code
/// was used, replaced or burned since it was judged, so a code commits at most once.
pub(crate) fn consume(
    table: &str,
    challenge: &ItemKey,
    digest: &str,
    max_attempts: u32,
    now: i64,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    let mut c = Expression::default();
    let (digest_name, attempts, target) = (c.name("digest"), c.name("attempts"), c.name("target"));
    let digest_value = c.value(AttributeValue::S(digest.to_owned()));
    let max = c.value(n(max_attempts));
    c.remove(digest_name.clone());
    c.remove(target);
    c.set("used_at", n(now));
    c.condition(format!(
        "{digest_name} = {digest_value} AND {attempts} < {max}"
    ));
    crate::txn::update(table, challenge, c)
}
