//! The table's key layout. Nothing outside this module builds a key.
//!
//! | item            | pk               | sk        |
//! |-----------------|------------------|-----------|
//! | profile         | `USER#<user_id>` | `PROFILE` |

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::UserId;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// Epoch seconds after which DynamoDB TTL deletes an item.
pub const TTL_ATTRIBUTE: &str = "expires_at";

const USER_PREFIX: &str = "USER#";
const PROFILE_SK: &str = "PROFILE";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemKey {
    pub pk: String,
    pub sk: String,
}

impl ItemKey {
    pub fn profile(user: &UserId) -> Self {
        Self {
            pk: format!("{USER_PREFIX}{}", user.as_str()),
            sk: PROFILE_SK.to_owned(),
        }
    }

    pub fn to_item(&self) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (PK.to_owned(), AttributeValue::S(self.pk.clone())),
            (SK.to_owned(), AttributeValue::S(self.sk.clone())),
        ])
    }
}
