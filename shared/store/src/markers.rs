//! Uniqueness markers: an item whose key is the unique value and whose
//! `user_id` names the holder. Claims and releases are transaction items written with
//! the change they belong to, so a value is never held by two accounts.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use domain::{PhoneNumber, UserId};

use crate::StoreError;
use crate::expr::Expression;
use crate::item::Item;
use crate::keys::{ItemKey, PK};
use crate::txn::{delete, put};

/// The account a marker (or a credential, the email's marker) names.
pub(crate) fn holder(marker: Option<Item>) -> Option<String> {
    match marker?.remove("user_id") {
        Some(AttributeValue::S(owner)) => Some(owner),
        _ => None,
    }
}

/// `attribute_not_exists(pk) OR user_id = :user`: the marker is free or `user`'s.
fn free_or_held_by(e: &mut Expression, user: &UserId) {
    let (pk, owner) = (e.name(PK), e.name("user_id"));
    let me = e.value(AttributeValue::S(user.as_str().to_owned()));
    e.condition(format!("attribute_not_exists({pk}) OR {owner} = {me}"));
}

/// Makes `phone` `user`'s; fails if another account holds it.
pub(crate) fn claim_phone(
    table: &str,
    phone: &PhoneNumber,
    user: &UserId,
    at: &str,
) -> Result<TransactWriteItem, StoreError> {
    let mut e = Expression::default();
    free_or_held_by(&mut e, user);
    let mut marker = Item::from([
        (
            "user_id".to_owned(),
            AttributeValue::S(user.as_str().to_owned()),
        ),
        ("claimed_at".to_owned(), AttributeValue::S(at.to_owned())),
    ]);
    marker.extend(ItemKey::phone_owner(phone).to_item());
    put(table, marker, e)
}

/// Gives `phone` up, if `user` holds it; another holder's marker is left alone.
pub(crate) fn release_phone(
    table: &str,
    phone: &PhoneNumber,
    user: &UserId,
) -> Result<TransactWriteItem, StoreError> {
    let mut e = Expression::default();
    free_or_held_by(&mut e, user);
    delete(table, &ItemKey::phone_owner(phone), e)
}
