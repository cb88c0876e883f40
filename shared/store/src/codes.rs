//! One-time code items, whatever a code proves: the subject's challenge and the
//! destination's send log (`domain::otp`). Reserving a send is one transaction
//! conditioned on both being as read, so two requests cannot both send; a failed send
//! is released; a wrong code is counted against the live challenge only.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use domain::otp::{Challenge, HOUR_SECS, Purpose, SendLog};
use domain::{Email, PhoneNumber, UserId};

use crate::StoreError;
use crate::batch::batch_get;
use crate::expr::Expression;
use crate::item::{Item, item_of, n};
use crate::keys::{ItemKey, PK, TTL_ATTRIBUTE};
use crate::txn::{Outcome, delete, put, transact, update_item};

/// Where a code is sent.
#[derive(Debug, Clone, Copy)]
pub enum Destination<'a> {
    Phone(&'a PhoneNumber),
    Email(&'a Email),
}

impl Destination<'_> {
    /// The destination's send log, shared by the flows anyone can start (sign-ups,
    /// verification, resets).
    fn sends(self) -> ItemKey {
        match self {
            Self::Phone(phone) => ItemKey::phone_sends(phone),
            Self::Email(email) => ItemKey::email_sends(email),
        }
    }

    /// The destination's log of the codes a signed-in holder asked for (an email
    /// change's confirmation, an erasure, a first factor): kept apart, so a stolen
    /// session spending them leaves the sends a reset needs.
    fn holder_sends(self) -> ItemKey {
        match self {
            Self::Phone(phone) => ItemKey::phone_holder_sends(phone),
            Self::Email(email) => ItemKey::email_holder_sends(email),
        }
    }
}

/// Every flow that proves something with a one-time code. Adding a flow is a variant
/// here (where its code lives), its texts, and its route.
#[derive(Debug, Clone, Copy)]
pub enum CodeKind<'a> {
    /// A user's new number, sent by a profile write.
    PhoneChange {
        user: &'a UserId,
        phone: &'a PhoneNumber,
    },
    /// The address of an account signed up with an email.
    VerifyEmail(&'a Email),
    /// The number of a sign-up by phone, before any account exists.
    RegisterPhone(&'a PhoneNumber),
    /// The new address of a user's email change.
    ChangeEmail {
        user: &'a UserId,
        new_email: &'a Email,
    },
    /// The holder's confirmation of an email change, sent to the account's current
    /// proven address or number.
    ConfirmEmailChange {
        user: &'a UserId,
        to: Destination<'a>,
    },
    /// The holder's proof of an erasure, sent to a proven number or address.
    EraseAccount {
        user: &'a UserId,
        to: Destination<'a>,
    },
    /// A password reset, sent to a proven number or address of the account.
    ResetPassword {
        user: &'a UserId,
        to: Destination<'a>,
    },
    /// The holder's confirmation of the account's first second factor, sent to a
    /// proven address or number.
    AddFactor {
        user: &'a UserId,
        to: Destination<'a>,
    },
}

impl CodeKind<'_> {
    pub fn purpose(self) -> Purpose {
        match self {
            Self::PhoneChange { .. } => Purpose::PhoneChange,
            Self::VerifyEmail(_) => Purpose::VerifyEmail,
            Self::RegisterPhone(_) => Purpose::RegisterPhone,
            Self::ChangeEmail { .. } => Purpose::ChangeEmail,
            Self::ConfirmEmailChange { .. } => Purpose::ConfirmEmailChange,
            Self::EraseAccount { .. } => Purpose::EraseAccount,
            Self::ResetPassword { .. } => Purpose::ResetPassword,
            Self::AddFactor { .. } => Purpose::AddFactor,
        }
    }

    /// The subject's challenge (a user's, or the destination's before there is a user)
    /// and the destination's send log.
    pub fn slot(self) -> CodeSlot {
        let purpose = self.purpose();
        let (challenge, to, by_holder) = match self {
            Self::PhoneChange { user, phone } => (
                ItemKey::challenge(user, purpose),
                Destination::Phone(phone),
                false,
            ),
            Self::VerifyEmail(email) => (
                ItemKey::email_challenge(email, purpose),
                Destination::Email(email),
                false,
            ),
            Self::RegisterPhone(phone) => (
                ItemKey::phone_challenge(phone, purpose),
                Destination::Phone(phone),
                false,
            ),
            Self::ChangeEmail { user, new_email } => (
                ItemKey::challenge(user, purpose),
                Destination::Email(new_email),
                false,
            ),
            Self::ResetPassword { user, to } => (ItemKey::challenge(user, purpose), to, false),
            Self::ConfirmEmailChange { user, to }
            | Self::EraseAccount { user, to }
            | Self::AddFactor { user, to } => (ItemKey::challenge(user, purpose), to, true),
        };
        CodeSlot {
            challenge,
            sends: match by_holder {
                true => to.holder_sends(),
                false => to.sends(),
            },
        }
    }
}

/// Where one flow keeps its code.
#[derive(Debug, Clone)]
pub struct CodeSlot {
    /// The subject's challenge (`OTP#<purpose>`).
    pub challenge: ItemKey,
    /// The destination's send log.
    pub sends: ItemKey,
}

impl CodeSlot {
    /// The keys a flow's batch read adds for its code.
    pub(crate) fn keys(&self) -> [ItemKey; 2] {
        [self.challenge.clone(), self.sends.clone()]
    }
}

/// A flow's code as it was read, and every write on it: reserving a send, releasing
/// one that did not leave, counting a wrong code, spending the right one. The writes are
/// conditioned on the items being as read, so two requests cannot both send and a code
/// is spent at most once.
#[derive(Debug, Clone)]
pub struct OneTimeCode {
    client: Client,
    table: String,
    slot: CodeSlot,
    challenge: Option<Challenge>,
    sends: Option<SendLog>,
}

impl OneTimeCode {
    /// `keys` and the code of `kind` in one consistent BatchGetItem: the items found
    /// (the code's taken out), and the code.
    pub(crate) async fn read_with(
        client: &Client,
        table: &str,
        kind: CodeKind<'_>,
        keys: &[&ItemKey],
    ) -> Result<(HashMap<ItemKey, Item>, Self), StoreError> {
        let slot = kind.slot();
        let mut all: Vec<ItemKey> = keys.iter().map(|k| (*k).clone()).collect();
        all.extend(slot.keys());
        let mut found = batch_get(client, table, all).await?;
        let code = Self::take(client, table, slot, &mut found)?;
        Ok((found, code))
    }

    /// The slot's items, taken out of a batch read that included `slot.keys()`.
    pub(crate) fn take(
        client: &Client,
        table: &str,
        slot: CodeSlot,
        found: &mut HashMap<ItemKey, Item>,
    ) -> Result<Self, StoreError> {
        let challenge = found
            .remove(&slot.challenge)
            .map(serde_dynamo::from_item)
            .transpose()?;
        let sends = found
            .remove(&slot.sends)
            .map(serde_dynamo::from_item)
            .transpose()?;
        Ok(Self {
            client: client.clone(),
            table: table.to_owned(),
            slot,
            challenge,
            sends,
        })
    }

    pub fn challenge(&self) -> Option<&Challenge> {
        self.challenge.as_ref()
    }

    pub fn sends(&self) -> Option<&SendLog> {
        self.sends.as_ref()
    }

    /// Stores `challenge` and `log` if nobody sent a code since the read. `Ok(false)`:
    /// someone did (a concurrent request won the send slot).
    pub async fn reserve(
        &self,
        challenge: &Challenge,
        log: &SendLog,
        now: i64,
    ) -> Result<bool, StoreError> {
        reserve(&self.client, &self.table, self, challenge, log, now).await
    }

    /// Undoes `reserve` after the code could not be sent, so nobody is charged a
    /// cooldown for a message that never left.
    pub async fn release(&self, challenge: &Challenge, log: &SendLog) -> Result<(), StoreError> {
        release(&self.client, &self.table, self, challenge, log).await
    }

    /// Takes one of the live code's tries for a wrong code: one conditional write (the
    /// code still holding `digest`, fewer than `max` tries taken), so however many wrong
    /// codes arrive at once, at most `max` tries are taken.
    pub async fn take_try(&self, digest: &str, max: u32) -> Result<Try, StoreError> {
        take_try(&self.client, &self.table, &self.slot.challenge, digest, max).await
    }

    /// The transaction item that spends the live code holding `digest`.
    pub(crate) fn spend(
        &self,
        digest: &str,
        max_attempts: u32,
        now: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        crate::txn::update(
            &self.table,
            &self.slot.challenge,
            consume(digest, max_attempts, now),
        )
    }

    /// Spends the live code holding `digest` on its own, for a flow whose write cannot
    /// take it along (an erasure's mark): `false` when it was used, replaced or burned
    /// since it was judged.
    pub async fn spend_alone(
        &self,
        digest: &str,
        max_attempts: u32,
        now: i64,
    ) -> Result<bool, StoreError> {
        let e = consume(digest, max_attempts, now);
        let result = update_item(&self.client, &self.table, &self.slot.challenge, e)
            .send()
            .await;
        Ok(crate::txn::none_if_condition_failed(result)?.is_some())
    }
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

async fn reserve(
    client: &Client,
    table: &str,
    before: &OneTimeCode,
    challenge: &Challenge,
    log: &SendLog,
    now: i64,
) -> Result<bool, StoreError> {
    let expires = |item: &mut Item| {
        item.insert(TTL_ATTRIBUTE.to_owned(), n(now + HOUR_SECS));
    };
    let slot = &before.slot;
    let mut challenge_item = item_of(&slot.challenge, challenge)?;
    expires(&mut challenge_item);
    let mut log_item = item_of(&slot.sends, log)?;
    expires(&mut log_item);
    let mut c = Expression::default();
    unchanged_since(&mut c, before.challenge.as_ref().map(|c| c.rev));
    let mut l = Expression::default();
    unchanged_since(&mut l, before.sends.as_ref().map(|l| l.rev));
    let items = vec![put(table, challenge_item, c)?, put(table, log_item, l)?];
    Ok(matches!(transact(client, items).await?, Outcome::Done))
}

/// Leaves anything written since the reservation alone.
async fn release(
    client: &Client,
    table: &str,
    before: &OneTimeCode,
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
    let slot = &before.slot;
    let previous = before
        .challenge
        .as_ref()
        .map(|c| item_of(&slot.challenge, c))
        .transpose()?;
    let previous_log = before
        .sends
        .as_ref()
        .map(|l| item_of(&slot.sends, l))
        .transpose()?;
    let items = vec![
        restore(&slot.challenge, previous, reserved.rev)?,
        restore(&slot.sends, previous_log, reserved_log.rev)?,
    ];
    // A failed condition means a newer write owns the items now: leave them.
    transact(client, items).await.map(|_| ())
}

/// What taking a try of a live code came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Try {
    /// Taken: the tries taken now, this one included.
    Taken(u32),
    /// Every try is taken; the code is burned.
    Exhausted,
    /// The code was used, replaced or expired away since it was read.
    Gone,
}

async fn take_try(
    client: &Client,
    table: &str,
    challenge: &ItemKey,
    digest: &str,
    max: u32,
) -> Result<Try, StoreError> {
    let mut e = Expression::default();
    let attempts = e.name("attempts");
    let (one, limit) = (e.value(n(1)), e.value(n(max)));
    let digest_name = e.name("digest");
    let digest_value = e.value(AttributeValue::S(digest.to_owned()));
    e.set_raw(attempts.clone(), format!("{attempts} + {one}"));
    e.condition(format!(
        "{digest_name} = {digest_value} AND {attempts} < {limit}"
    ));
    let result = update_item(client, table, challenge, e)
        .return_values(ReturnValue::UpdatedNew)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await;
    let attempts_of = |item: Option<&Item>| match item.and_then(|i| i.get("attempts")) {
        Some(AttributeValue::N(v)) => v.parse::<u32>().ok(),
        _ => None,
    };
    match result {
        Ok(out) => Ok(attempts_of(out.attributes.as_ref()).map_or(Try::Gone, Try::Taken)),
        Err(err) => match err.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                let old = failed.item.as_ref();
                let same_code = matches!(
                    old.and_then(|i| i.get("digest")),
                    Some(AttributeValue::S(d)) if d == digest
                );
                Ok(match attempts_of(old) {
                    Some(taken) if same_code && taken >= max => Try::Exhausted,
                    _ => Try::Gone,
                })
            }
            _ => Err(err.into()),
        },
    }
}

/// The transaction item that spends the live code holding `digest`: it fails if the code
/// was used, replaced or burned since it was judged, so a code commits at most once.
fn consume(digest: &str, max_attempts: u32, now: i64) -> Expression {
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
    c
}

/// A code judged right, to be spent by the write it authorises: that write fails if
/// the code was used, replaced or burned since it was judged.
pub struct SpentCode<'a> {
    pub code: &'a OneTimeCode,
    pub digest: &'a str,
    pub max_attempts: u32,
}

impl SpentCode<'_> {
    pub(crate) fn item(&self, now: i64) -> Result<TransactWriteItem, StoreError> {
        self.code.spend(self.digest, self.max_attempts, now)
    }
}
