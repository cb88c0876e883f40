//! Loyalty card items (`USER#<id>` / `LOYALTY`): written `pending` with the number we
//! chose, in the same transaction as whatever asked for the card, before the platform
//! is called; made `active` with the platform's member id by a conditional update, so
//! a late or repeated answer cannot move a card backwards.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use domain::loyalty::{CardStatus, LoyaltyCard};
use domain::{Profile, UserId};

use crate::StoreError;
use crate::batch::batch_get;
use crate::expr::Expression;
use crate::item::{Item, get_consistent};
use crate::keys::{ItemKey, PK};
use crate::profile_item::{ERASURE, VERSION, live_profile};
use crate::txn::{
    Outcome, condition_check, put, transact, unless_condition_failed, update, update_item,
};

const STATUS: &str = "status";
const MEMBER_ID: &str = "member_id";
const PUSHED_VERSION: &str = "pushed_version";

/// What became of a member the platform created for a pending card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// The card now names the member.
    Recorded,
    /// The card was active already.
    AlreadyActive,
    /// No card or no account is left to hold the member: the account is being erased,
    /// so the member must be anonymized at the platform.
    Orphaned,
}

/// A new card's item, and the condition that the user has none.
fn new_card(user: &UserId, card: &LoyaltyCard) -> Result<(Item, Expression), StoreError> {
    let mut item: Item = serde_dynamo::to_item(card)?;
    item.extend(ItemKey::loyalty_card(user).to_item());
    // The card aggregate's first change is its link; the sync's bookkeeping after it
    // announces nothing and leaves the count alone.
    item.insert(VERSION.into(), AttributeValue::N("1".into()));
    let mut e = Expression::default();
    let pk = e.name(PK);
    e.condition(format!("attribute_not_exists({pk})"));
    Ok((item, e))
}

/// The put of a new card in a transaction: refused if the user has one.
pub(crate) fn card_put(
    table: &str,
    user: &UserId,
    card: &LoyaltyCard,
) -> Result<TransactWriteItem, StoreError> {
    let (item, e) = new_card(user, card)?;
    put(table, item, e)
}

pub(crate) fn card_from_item(item: Item) -> Result<LoyaltyCard, StoreError> {
    Ok(serde_dynamo::from_item(item)?)
}

crate::table_store! {
    #[derive(Clone, Debug)]
    LoyaltyStore
}

impl LoyaltyStore {
    /// The profile and the card, in one BatchGetItem.
    pub async fn profile_with_card(
        &self,
        user: &UserId,
    ) -> Result<(Option<Profile>, Option<LoyaltyCard>), StoreError> {
        let (profile_key, card_key) = (ItemKey::profile(user), ItemKey::loyalty_card(user));
        let mut found = batch_get(
            &self.client,
            &self.table,
            vec![profile_key.clone(), card_key.clone()],
        )
        .await?;
        let profile = found
            .remove(&profile_key)
            .map(live_profile)
            .transpose()?
            .flatten();
        let card = found.remove(&card_key).map(card_from_item).transpose()?;
        Ok((profile, card))
    }

    /// The card, strongly consistent.
    pub async fn card(&self, user: &UserId) -> Result<Option<LoyaltyCard>, StoreError> {
        let out = get_consistent(&self.client, &self.table, &ItemKey::loyalty_card(user)).await?;
        out.map(card_from_item).transpose()
    }

    /// Links `card` to a user who has none; nothing if one was linked meanwhile.
    pub async fn link(&self, user: &UserId, card: &LoyaltyCard) -> Result<(), StoreError> {
        let (item, e) = new_card(user, card)?;
        unless_condition_failed(
            crate::txn::put_item(&self.client, &self.table, item, e)
                .send()
                .await,
        )
    }

    /// Records the platform's member of a pending card, in one transaction with the
    /// check that the account is not being erased: an erasure reads the card after its
    /// mark, so a member recorded here is one the erasure will see.
    pub async fn activate(
        &self,
        user: &UserId,
        member_id: &str,
        pushed_version: u64,
    ) -> Result<Activation, StoreError> {
        let mut e = Expression::default();
        let status = e.name(STATUS);
        let pending = e.value(AttributeValue::S(CardStatus::Pending.as_str().to_owned()));
        e.condition(format!("{status} = {pending}"));
        e.set(
            STATUS,
            AttributeValue::S(CardStatus::Active.as_str().to_owned()),
        );
        e.set(MEMBER_ID, AttributeValue::S(member_id.to_owned()));
        e.set(
            PUSHED_VERSION,
            AttributeValue::N(pushed_version.to_string()),
        );
        let mut alive = Expression::default();
        let erasure = alive.name(ERASURE);
        alive.condition(format!("attribute_not_exists({erasure})"));
        let items = vec![
            update(&self.table, &ItemKey::loyalty_card(user), e)?,
            condition_check(&self.table, &ItemKey::profile(user), alive)?,
        ];
        Ok(match transact(&self.client, items).await? {
            Outcome::Done => Activation::Recorded,
            // Activated by an earlier call: the same member, found by the card number.
            Outcome::FirstFailed(Some(_)) => Activation::AlreadyActive,
            // The card is gone, or the account is being erased.
            Outcome::FirstFailed(None) | Outcome::Failed(..) => Activation::Orphaned,
            Outcome::Conflict => {
                return Err(StoreError::Unavailable(
                    "the card changed while it was activated".into(),
                ));
            }
        })
    }

    /// Records that the member carries the profile of `version`; nothing if a later
    /// one was pushed already.
    pub async fn record_pushed(&self, user: &UserId, version: u64) -> Result<(), StoreError> {
        let mut e = Expression::default();
        let pushed = e.name(PUSHED_VERSION);
        let v = e.value(AttributeValue::N(version.to_string()));
        e.condition(format!("{pushed} < {v}"));
        e.set(PUSHED_VERSION, AttributeValue::N(version.to_string()));
        unless_condition_failed(
            update_item(&self.client, &self.table, &ItemKey::loyalty_card(user), e)
                .send()
                .await,
        )
    }
}
