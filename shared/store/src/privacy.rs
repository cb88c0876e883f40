//! An account's erasure in the table. The profile item is marked `erasing`
//! first: from then on every read shows no profile and every write refuses
//! (`profile_item::ERASURE`). Then the account's items go, outside its partition first
//! (the credential and the phone marker, which name the account, the codes and send
//! logs of its addresses), then its sessions with their tokens, then the rest of its
//! partition in batches, and last the profile item becomes the tombstone. Every step
//! can be repeated: a retry after a crash starts again from the mark and deletes what is
//! left, and a uniqueness claim is deleted only while it still names this account.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use domain::{Email, PhoneNumber, Profile, UserId};

use crate::StoreError;
use crate::expr::Expression;
use crate::item::{Item, get_consistent, text};
use crate::keys::{ItemKey, PK, SK};
use crate::loyalty::card_from_item;
use crate::profile_item::{ERASED, ERASING, ERASURE, VERSION, live_profile};
use crate::txn::{unless_condition_failed, update_item};

/// Attributes of a profile item being erased: who asked, when, and what the erasure
/// still needs (the addresses whose items it deletes, the loyalty member it hands on).
pub(crate) const ERASED_AT: &str = "erased_at";
pub(crate) const ERASED_BY: &str = "erased_by";
const ERASE_REQUEST: &str = "erase_request_id";
const EMAIL_HASH: &str = "email_hash";
const PHONE_HASH: &str = "phone_hash";
/// The loyalty platform's member of the account, kept on the tombstone until the
/// loyalty sync has anonymized it.
pub(crate) const LOYALTY_MEMBER: &str = "loyalty_member";

crate::table_store! {
    #[derive(Clone, Debug)]
    PrivacyStore
}

/// Who, when and why, as the tombstone keeps it.
#[derive(Debug, Clone)]
pub struct ErasureRequest<'a> {
    pub by: &'a str,
    pub request_id: &'a str,
    pub at: &'a str,
    /// Keyed hashes of the account's email and phone.
    pub email_hash: Option<String>,
    pub phone_hash: Option<String>,
}

/// An erasure under way: what its steps need, read from the marked profile item.
#[derive(Debug, Clone)]
pub struct Erasure {
    pub user: UserId,
    pub email: Option<Email>,
    pub phone: Option<PhoneNumber>,
    /// The objects the profile points at (older images live under the owner's folder).
    pub avatar_keys: Vec<String>,
}

/// An account as an erasure finds it.
#[derive(Debug, Clone)]
pub struct Account {
    pub standing: Standing,
    /// While the account is live.
    pub profile: Option<Profile>,
}

/// What a mark expects to find.
#[derive(Debug, Clone, Copy)]
enum Marking {
    /// A live profile.
    Account,
    /// No profile, only other items of the id.
    Orphan,
}

/// Where an account stands.
#[derive(Debug, Clone)]
pub enum Standing {
    /// No profile item: an unknown user.
    Missing,
    /// A live account.
    Live,
    /// Marked; its items are being deleted.
    Erasing(Erasure),
    /// Nothing but the tombstone remains.
    Erased,
}

fn standing_of(user: &UserId, item: Option<Item>) -> Standing {
    let Some(item) = item else {
        return Standing::Missing;
    };
    match text(&item, ERASURE) {
        None => Standing::Live,
        Some(ERASING) => Standing::Erasing(Erasure {
            user: user.clone(),
            email: text(&item, "email").and_then(|e| Email::parse(e).ok()),
            phone: text(&item, "phone").and_then(|p| PhoneNumber::parse(p).ok()),
            avatar_keys: match item.get("avatar_keys") {
                Some(AttributeValue::Ss(keys)) => keys.clone(),
                _ => Vec::new(),
            },
        }),
        Some(_) => Standing::Erased,
    }
}

impl PrivacyStore {
    /// Where `user`'s account stands, with its profile while live: one strongly
    /// consistent GetItem.
    pub async fn account(&self, user: &UserId) -> Result<Account, StoreError> {
        let item = get_consistent(&self.client, &self.table, &ItemKey::profile(user)).await?;
        let profile = item.clone().map(live_profile).transpose()?.flatten();
        Ok(Account {
            standing: standing_of(user, item),
            profile,
        })
    }

    /// Copies the loyalty card's member onto the marked profile item, so the tombstone
    /// names it until the platform has anonymized it. Read after the mark: a card is
    /// activated only while its account is not marked (`LoyaltyStore::activate`), so no
    /// member can come after this read. A retry finds the member kept, or the card still
    /// there: the card goes with the partition, after this step.
    pub async fn keep_member(&self, user: &UserId) -> Result<(), StoreError> {
        let card = get_consistent(&self.client, &self.table, &ItemKey::loyalty_card(user))
            .await?
            .map(card_from_item)
            .transpose()?;
        let Some(member) = card.and_then(|c| c.member_id) else {
            return Ok(());
        };
        let mut e = Expression::default();
        e.set(LOYALTY_MEMBER, AttributeValue::S(member));
        let (erasure, erasing) = (
            e.name(ERASURE),
            e.value(AttributeValue::S(ERASING.to_owned())),
        );
        e.condition(format!("{erasure} = {erasing}"));
        unless_condition_failed(
            update_item(&self.client, &self.table, &ItemKey::profile(user), e)
                .send()
                .await,
        )
    }

    /// Whether `user`'s partition holds any item at all: an id without a profile item
    /// may still have data (an identity provider's user who joined segments and never
    /// wrote a profile), which an erasure must reach. One strongly consistent Query of
    /// one key.
    pub async fn holds_items(&self, user: &UserId) -> Result<bool, StoreError> {
        let page = self.keys_page(user, 1).send().await?;
        Ok(page.count > 0)
    }

    /// Marks a live account `erasing` (one conditional UpdateItem); an account marked
    /// already is handed back as it stands, so a retry continues the erasure.
    pub async fn mark(
        &self,
        user: &UserId,
        request: &ErasureRequest<'_>,
    ) -> Result<Standing, StoreError> {
        self.mark_if(user, request, Marking::Account).await
    }

    /// Marks the items of an id that has no profile `erasing`: the mark creates the
    /// profile item, only while there is none (a profile written meanwhile answers
    /// `Live`, for the caller to start over from the account).
    pub async fn mark_orphan(
        &self,
        user: &UserId,
        request: &ErasureRequest<'_>,
    ) -> Result<Standing, StoreError> {
        self.mark_if(user, request, Marking::Orphan).await
    }

    async fn mark_if(
        &self,
        user: &UserId,
        request: &ErasureRequest<'_>,
        marking: Marking,
    ) -> Result<Standing, StoreError> {
        let mut e = Expression::default();
        e.set("user_id", AttributeValue::S(user.as_str().to_owned()));
        e.set(ERASURE, AttributeValue::S(ERASING.to_owned()));
        e.set(ERASED_AT, AttributeValue::S(request.at.to_owned()));
        e.set(ERASED_BY, AttributeValue::S(request.by.to_owned()));
        e.set(
            ERASE_REQUEST,
            AttributeValue::S(request.request_id.to_owned()),
        );
        for (name, value) in [
            (EMAIL_HASH, &request.email_hash),
            (PHONE_HASH, &request.phone_hash),
        ] {
            if let Some(value) = value {
                e.set(name, AttributeValue::S(value.clone()));
            }
        }
        let (version, erasure) = (e.name(VERSION), e.name(ERASURE));
        let profile = match marking {
            Marking::Account => "attribute_exists",
            Marking::Orphan => "attribute_not_exists",
        };
        e.condition(format!(
            "{profile}({version}) AND attribute_not_exists({erasure})"
        ));
        let result = update_item(&self.client, &self.table, &ItemKey::profile(user), e)
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => Ok(standing_of(user, out.attributes)),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Ok(match (marking, standing_of(user, failed.item.clone())) {
                        // A profile item without a version: nothing to erase.
                        (Marking::Account, Standing::Live) => Standing::Missing,
                        (_, other) => other,
                    })
                }
                _ => Err(err.into()),
            },
        }
    }

    /// The profile item becomes the tombstone: the user id, when, by whom, the request,
    /// the keyed hashes, and the loyalty member until the sync has anonymized it.
    pub async fn finish(&self, user: &UserId) -> Result<(), StoreError> {
        let out = get_consistent(&self.client, &self.table, &ItemKey::profile(user)).await?;
        let Some(marked) = out else {
            return Ok(());
        };
        let keep = [
            PK,
            SK,
            "user_id",
            ERASED_AT,
            ERASED_BY,
            ERASE_REQUEST,
            EMAIL_HASH,
            PHONE_HASH,
            LOYALTY_MEMBER,
        ];
        let mut tombstone: Item = marked
            .into_iter()
            .filter(|(name, _)| keep.contains(&name.as_str()))
            .collect();
        tombstone.insert(ERASURE.to_owned(), AttributeValue::S(ERASED.to_owned()));
        tombstone.insert(
            "user_id".to_owned(),
            AttributeValue::S(user.as_str().to_owned()),
        );
        let mut e = Expression::default();
        let (erasure, erasing) = (
            e.name(ERASURE),
            e.value(AttributeValue::S(ERASING.to_owned())),
        );
        e.condition(format!("{erasure} = {erasing}"));
        let result = crate::txn::put_item(&self.client, &self.table, tombstone, e)
            .send()
            .await;
        // Already the tombstone: a repeated finish.
        crate::txn::unless_condition_failed(result)
    }

    /// The loyalty member an erased account's tombstone still names.
    pub async fn erased_member(&self, user: &UserId) -> Result<Option<String>, StoreError> {
        let out = get_consistent(&self.client, &self.table, &ItemKey::profile(user)).await?;
        Ok(out
            .filter(|item| text(item, ERASURE) == Some(ERASED))
            .and_then(|item| text(&item, LOYALTY_MEMBER).map(str::to_owned)))
    }

    /// Forgets the member once the platform anonymized it.
    pub async fn forget_member(&self, user: &UserId) -> Result<(), StoreError> {
        let mut e = Expression::default();
        let member = e.name(LOYALTY_MEMBER);
        e.remove(member.clone());
        e.condition(format!("attribute_exists({member})"));
        let result = update_item(&self.client, &self.table, &ItemKey::profile(user), e)
            .send()
            .await;
        crate::txn::unless_condition_failed(result)
    }
}
