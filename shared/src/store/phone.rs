//! The phone-change flow's reads and writes (SPEC §4, §5). One consistent BatchGetItem
//! reads everything a decision needs; each outcome is one conditional write, so two
//! requests racing for the same number or the same code cannot both win.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, TransactWriteItem, Update,
};

use super::batch::{Item, batch_get};
use super::expr::Expression;
use super::keys::{ItemKey, PK, TTL_ATTRIBUTE};
use super::{ProfileStore, StoreError};
use crate::domain::{PhoneNumber, Profile, UserId};
use crate::otp::{Challenge, HOUR_SECS, OtpPolicy, Purpose, SendLog};

const PURPOSE: Purpose = Purpose::PhoneChange;

/// What the store holds about a requested change to `phone`.
#[derive(Debug, Clone, Default)]
pub struct PhoneChangeState {
    pub profile: Option<Profile>,
    pub challenge: Option<Challenge>,
    /// The account that holds the number's uniqueness marker.
    pub owner: Option<String>,
    pub sends_to_number: Option<SendLog>,
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("another account holds the number")]
    PhoneTaken,
    #[error("the code was used, replaced or burned meanwhile")]
    CodeGone,
    #[error("the profile changed since it was read")]
    ProfileChanged,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn item_of<T: serde::Serialize>(key: &ItemKey, value: &T) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(value)?;
    item.retain(|_, v| !matches!(v, AttributeValue::Null(_)));
    item.extend(key.to_item());
    Ok(item)
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
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

fn put(table: &str, item: Item, e: Expression) -> Result<TransactWriteItem, StoreError> {
    let built = e.build();
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .set_condition_expression(built.condition)
        .set_expression_attribute_names((!built.names.is_empty()).then_some(built.names))
        .set_expression_attribute_values(built.values)
        .build()
        .map_err(|e| StoreError::Failed(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn delete(table: &str, key: &ItemKey, e: Expression) -> Result<TransactWriteItem, StoreError> {
    let built = e.build();
    let delete = Delete::builder()
        .table_name(table)
        .set_key(Some(key.to_item()))
        .set_condition_expression(built.condition)
        .set_expression_attribute_names((!built.names.is_empty()).then_some(built.names))
        .set_expression_attribute_values(built.values)
        .build()
        .map_err(|e| StoreError::Failed(e.to_string()))?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

fn update(table: &str, key: &ItemKey, e: Expression) -> Result<TransactWriteItem, StoreError> {
    let built = e.build();
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key.to_item()))
        .update_expression(built.update)
        .set_condition_expression(built.condition)
        .set_expression_attribute_names(Some(built.names))
        .set_expression_attribute_values(built.values)
        .build()
        .map_err(|e| StoreError::Failed(e.to_string()))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// Why a transaction was cancelled: by position, whether the item's condition failed;
/// or that it lost a race with another transaction (worth retrying).
enum Cancelled {
    Conditions(Vec<bool>),
    Conflict,
}

fn cancelled<R>(
    err: &aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError, R>,
) -> Option<Cancelled> {
    let Some(TransactWriteItemsError::TransactionCanceledException(e)) = err.as_service_error()
    else {
        return None;
    };
    let codes: Vec<Option<&str>> = e.cancellation_reasons().iter().map(|r| r.code()).collect();
    if codes.contains(&Some("ConditionalCheckFailed")) {
        Some(Cancelled::Conditions(
            codes
                .iter()
                .map(|c| *c == Some("ConditionalCheckFailed"))
                .collect(),
        ))
    } else if codes.contains(&Some("TransactionConflict")) {
        Some(Cancelled::Conflict)
    } else {
        None
    }
}

impl ProfileStore {
    pub async fn load_phone_change(
        &self,
        user: &UserId,
        phone: &PhoneNumber,
    ) -> Result<PhoneChangeState, StoreError> {
        let profile_key = ItemKey::profile(user);
        let challenge_key = ItemKey::challenge(user, PURPOSE);
        let owner_key = ItemKey::phone_owner(phone);
        let sends_key = ItemKey::phone_sends(phone);
        let mut items = batch_get(
            &self.client,
            &self.table,
            vec![
                profile_key.clone(),
                challenge_key.clone(),
                owner_key.clone(),
                sends_key.clone(),
            ],
        )
        .await?;
        let mut take = |key: &ItemKey| items.remove(key);
        Ok(PhoneChangeState {
            profile: take(&profile_key)
                .map(serde_dynamo::from_item)
                .transpose()?,
            challenge: take(&challenge_key)
                .map(serde_dynamo::from_item)
                .transpose()?,
            owner: take(&owner_key).and_then(|item| match item.get("user_id") {
                Some(AttributeValue::S(owner)) => Some(owner.clone()),
                _ => None,
            }),
            sends_to_number: take(&sends_key).map(serde_dynamo::from_item).transpose()?,
        })
    }

    /// Stores the new challenge and send log if nobody sent a code since `before` was
    /// read. `Ok(false)`: someone did (a concurrent request won the send slot).
    pub async fn reserve_code(
        &self,
        user: &UserId,
        phone: &PhoneNumber,
        before: &PhoneChangeState,
        challenge: &Challenge,
        log: &SendLog,
        now: i64,
    ) -> Result<bool, StoreError> {
        let expires = |item: &mut Item| {
            item.insert(TTL_ATTRIBUTE.to_owned(), n(now + HOUR_SECS));
        };
        let mut challenge_item = item_of(&ItemKey::challenge(user, PURPOSE), challenge)?;
        expires(&mut challenge_item);
        let mut log_item = item_of(&ItemKey::phone_sends(phone), log)?;
        expires(&mut log_item);
        let mut c = Expression::default();
        unchanged_since(&mut c, before.challenge.as_ref().map(|c| c.rev));
        let mut l = Expression::default();
        unchanged_since(&mut l, before.sends_to_number.as_ref().map(|l| l.rev));
        let result = self
            .client
            .transact_write_items()
            .transact_items(put(&self.table, challenge_item, c)?)
            .transact_items(put(&self.table, log_item, l)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if cancelled(&err).is_some() => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    /// Undoes `reserve_code` after the SMS could not be sent, so the user is not charged
    /// a cooldown for a message that never left. Leaves anything written since alone.
    pub async fn release_code(
        &self,
        user: &UserId,
        phone: &PhoneNumber,
        before: &PhoneChangeState,
        reserved: &Challenge,
        reserved_log: &SendLog,
    ) -> Result<(), StoreError> {
        let mut items = Vec::new();
        let restore = |key: ItemKey, previous: Option<Item>, reserved_rev: u64| {
            let mut e = Expression::default();
            unchanged_since(&mut e, Some(reserved_rev));
            match previous {
                Some(item) => put(&self.table, item, e),
                None => delete(&self.table, &key, e),
            }
        };
        let challenge_key = ItemKey::challenge(user, PURPOSE);
        let previous = before
            .challenge
            .as_ref()
            .map(|c| item_of(&challenge_key, c))
            .transpose()?;
        items.push(restore(challenge_key, previous, reserved.rev)?);
        let log_key = ItemKey::phone_sends(phone);
        let previous = before
            .sends_to_number
            .as_ref()
            .map(|l| item_of(&log_key, l))
            .transpose()?;
        items.push(restore(log_key, previous, reserved_log.rev)?);
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if cancelled(&err).is_some() => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// Counts a wrong code against the live challenge; `None` if it is gone.
    pub async fn record_wrong_code(
        &self,
        user: &UserId,
        digest: &str,
    ) -> Result<Option<u32>, StoreError> {
        let mut e = Expression::default();
        let attempts = e.name("attempts");
        let one = e.value(n(1));
        let digest_name = e.name("digest");
        let digest_value = e.value(AttributeValue::S(digest.to_owned()));
        e.set_raw(attempts.clone(), format!("{attempts} + {one}"));
        e.condition(format!("{digest_name} = {digest_value}"));
        let built = e.build();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(ItemKey::challenge(user, PURPOSE).to_item()))
            .update_expression(built.update)
            .set_condition_expression(built.condition)
            .set_expression_attribute_names(Some(built.names))
            .set_expression_attribute_values(built.values)
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.attributes.and_then(|a| match a.get("attempts") {
                Some(AttributeValue::N(v)) => v.parse().ok(),
                _ => None,
            })),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Applies the verified change in one transaction: the profile as `next` (if it is
    /// still the version read), the new number's marker (if nobody else holds it), the
    /// old number's marker released, and the code consumed (if still live).
    pub async fn commit_phone_change(
        &self,
        user: &UserId,
        phone: &PhoneNumber,
        before: &PhoneChangeState,
        next: &Profile,
        policy: &OtpPolicy,
        now: i64,
    ) -> Result<(), CommitError> {
        let digest = before
            .challenge
            .as_ref()
            .and_then(|c| c.digest.as_deref())
            .ok_or(CommitError::CodeGone)?;
        let me = AttributeValue::S(user.as_str().to_owned());
        let mut items = Vec::new();

        // 0: the whole profile, written attribute by attribute so attributes this
        // struct does not model are kept.
        let mut p = Expression::default();
        let profile_item: Item = serde_dynamo::to_item(next).map_err(StoreError::from)?;
        for (name, value) in profile_item {
            if let AttributeValue::Null(_) = value {
                let path = p.name(&name);
                p.remove(path);
            } else {
                p.set(&name, value);
            }
        }
        let version = p.name("version");
        match &before.profile {
            None => p.condition(format!("attribute_not_exists({version})")),
            Some(old) => {
                let seen = p.value(n(old.version));
                p.condition(format!("{version} = {seen}"));
            }
        }
        items.push(update(&self.table, &ItemKey::profile(user), p)?);

        // 1: claim the number.
        let owner_key = ItemKey::phone_owner(phone);
        let mut m = Expression::default();
        let (pk, owner) = (m.name(PK), m.name("user_id"));
        let me_value = m.value(me.clone());
        m.condition(format!(
            "attribute_not_exists({pk}) OR {owner} = {me_value}"
        ));
        let marker = Item::from([
            ("user_id".to_owned(), me.clone()),
            (
                "claimed_at".to_owned(),
                AttributeValue::S(next.updated_at.clone()),
            ),
        ]);
        let mut marker_item = marker;
        marker_item.extend(owner_key.to_item());
        items.push(put(&self.table, marker_item, m)?);

        // 2: release the old number, if it was ours.
        let old_phone = before
            .profile
            .as_ref()
            .and_then(|p| p.phone.as_deref())
            .and_then(|p| PhoneNumber::parse(p).ok())
            .filter(|old| old != phone);
        if let Some(old) = &old_phone {
            let mut d = Expression::default();
            let (pk, owner) = (d.name(PK), d.name("user_id"));
            let me_value = d.value(me.clone());
            d.condition(format!(
                "attribute_not_exists({pk}) OR {owner} = {me_value}"
            ));
            items.push(delete(&self.table, &ItemKey::phone_owner(old), d)?);
        }

        // last: consume the code.
        let mut c = Expression::default();
        let (digest_name, attempts, target) =
            (c.name("digest"), c.name("attempts"), c.name("target"));
        let (digest_value, max) = (
            c.value(AttributeValue::S(digest.to_owned())),
            c.value(n(policy.max_attempts)),
        );
        c.remove(digest_name.clone());
        c.remove(target);
        c.set("used_at", n(now));
        c.condition(format!(
            "{digest_name} = {digest_value} AND {attempts} < {max}"
        ));
        items.push(update(&self.table, &ItemKey::challenge(user, PURPOSE), c)?);

        let challenge_index = items.len() - 1;
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) => match cancelled(&err) {
                Some(Cancelled::Conditions(failed)) if failed.get(1) == Some(&true) => {
                    Err(CommitError::PhoneTaken)
                }
                Some(Cancelled::Conditions(failed))
                    if failed.get(challenge_index) == Some(&true) =>
                {
                    Err(CommitError::CodeGone)
                }
                Some(Cancelled::Conditions(_)) | Some(Cancelled::Conflict) => {
                    Err(CommitError::ProfileChanged)
                }
                None => Err(CommitError::Store(err.into())),
            },
        }
    }
}
