//! The profile item: how a stored item becomes a `Profile`, and the update expression
//! that writes a `ProfilePatch` under a guess about what is stored.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use domain::{ExpectedVersion, Field, MAX_ATTRIBUTES, Profile, ProfilePatch, UserId, timestamp};
use serde::Deserialize;

use crate::StoreError;
use crate::consent_item::consents_from_item;
use crate::expr::Expression;
use crate::item::Item;

pub(crate) const ATTRIBUTES: &str = "attributes";
pub(crate) const VERSION: &str = "version";
pub(crate) const AVATAR_URL: &str = "avatar_url";
/// The object keys of the profile's image (a string set), for retiring it once replaced.
pub(crate) const AVATAR_KEYS: &str = "avatar_keys";
/// Present on a profile item once its account is being erased (`erasing`) and on the
/// tombstone that remains (`erased`): such an item is no profile, and no write may
/// touch it but the erasure's.
pub(crate) const ERASURE: &str = "erasure";
/// `erasure` while the account's items are deleted.
pub(crate) const ERASING: &str = "erasing";
/// `erasure` once nothing but the tombstone remains.
pub(crate) const ERASED: &str = "erased";

/// Present on the profile item of an account an operator disabled: the time (RFC 3339).
pub(crate) const DISABLED_AT: &str = "disabled_at";

/// The condition that the account may be acted on by its holder or a partner: neither
/// erased nor disabled.
pub(crate) fn usable(e: &mut Expression) {
    let (erasure, disabled) = (e.name(ERASURE), e.name(DISABLED_AT));
    e.condition(format!(
        "attribute_not_exists({erasure}) AND attribute_not_exists({disabled})"
    ));
}

/// Why `usable` refused, from the profile item as DynamoDB returned it.
pub(crate) fn unusable(old: Option<&Item>) -> StoreError {
    if old.is_some_and(|item| item.contains_key(DISABLED_AT)) {
        StoreError::Disabled
    } else {
        StoreError::Erased
    }
}

pub(crate) fn is_erased(item: &Item) -> bool {
    item.contains_key(ERASURE)
}

/// The profile a read shows: none for an account that is erased or being erased, as
/// for a missing user.
pub(crate) fn live_profile(item: Item) -> Result<Option<Profile>, StoreError> {
    if is_erased(&item) {
        return Ok(None);
    }
    profile_from_item(item).map(Some)
}

/// The profile a write starts from: an erased or disabled account refuses the write.
pub(crate) fn writable_profile(item: Item) -> Result<Option<Profile>, StoreError> {
    if is_erased(&item) {
        return Err(StoreError::Erased);
    }
    if item.contains_key(DISABLED_AT) {
        return Err(StoreError::Disabled);
    }
    profile_from_item(item).map(Some)
}

#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("the stored version does not match If-Match")]
    VersionConflict,
    #[error("the user has no profile")]
    NotFound,
    #[error("the patch would leave more than {MAX_ATTRIBUTES} attributes")]
    TooManyAttributes,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether a write may create the user's item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existence {
    Any,
    /// Partner writes touch only users who have a profile (else 4004).
    MustExist,
}

/// What a write assumes about the stored item.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Guard {
    /// The attributes map exists and has room for every key the patch sets.
    Optimistic,
    /// No attributes map yet: write the whole map.
    CreateAttributes,
    /// No item at all (read just now).
    New,
    /// Exactly the version read.
    SeenVersion(u64),
}

/// The attributes of a profile item besides its fields and consents.
#[derive(Deserialize)]
struct StoredProfile {
    user_id: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    phone_verified: bool,
    #[serde(default)]
    phone_changed_at: Option<String>,
    #[serde(default)]
    disabled_at: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, domain::AttributeValue>,
    #[serde(default)]
    avatar_url: Option<String>,
    created_at: String,
    updated_at: String,
    version: u64,
}

pub(crate) fn profile_from_item(item: Item) -> Result<Profile, StoreError> {
    let consents = consents_from_item(&item);
    let fields = Field::ALL
        .into_iter()
        .filter_map(|field| match item.get(field.name()) {
            Some(AttributeValue::S(value)) => Some((field, value.clone())),
            _ => None,
        })
        .collect();
    let stored: StoredProfile = serde_dynamo::from_item(item)?;
    Ok(Profile {
        user_id: stored.user_id,
        email: stored.email,
        phone: stored.phone,
        phone_verified: stored.phone_verified,
        phone_changed_at: stored.phone_changed_at,
        disabled_at: stored.disabled_at,
        fields,
        attributes: stored.attributes,
        consents,
        avatar_url: stored.avatar_url,
        created_at: stored.created_at,
        updated_at: stored.updated_at,
        version: stored.version,
    })
}

/// The update of a profile item for `patch` under `guard`: the fields it sets, the
/// bookkeeping every write does (version, timestamps, the attributes map), and the
/// condition that makes the write safe.
pub(crate) fn update_expression(
    user: &UserId,
    patch: &ProfilePatch,
    now: DateTime<Utc>,
    guard: Guard,
) -> Expression {
    created_expression(user, patch, now, now, guard)
}

/// `update_expression`, for a profile created at `created_at` (an imported user's own
/// time) if the write creates it.
pub(crate) fn created_expression(
    user: &UserId,
    patch: &ProfilePatch,
    now: DateTime<Utc>,
    created_at: DateTime<Utc>,
    guard: Guard,
) -> Expression {
    let mut e = Expression::default();
    let now = AttributeValue::S(timestamp(now));
    e.set("user_id", AttributeValue::S(user.as_str().to_owned()));
    e.set("updated_at", now);
    let created = e.name("created_at");
    let created_v = e.value(AttributeValue::S(timestamp(created_at)));
    e.set_raw(
        created.clone(),
        format!("if_not_exists({created}, {created_v})"),
    );
    // Its place in the index of profiles by creation, set once. A profile from before
    // the index gets the time of its first write since: the backfill sets its creation.
    let listed = e.name(crate::keys::LIST_SORT);
    e.set_raw(
        listed.clone(),
        format!("if_not_exists({listed}, {created_v})"),
    );
    let version = e.count_write(VERSION);
    // Its place in the index of profiles by creation (set once, the same every time).
    let shard = e.name(crate::keys::LIST_SHARD);
    let shard_v = e.value(AttributeValue::S(crate::keys::list_shard(user)));
    e.set_raw(shard.clone(), format!("if_not_exists({shard}, {shard_v})"));

    for (field, value) in &patch.fields {
        match value {
            Some(v) => e.set(field.name(), AttributeValue::S(v.as_str().to_owned())),
            None => {
                let path = e.name(field.name());
                e.remove(path);
            }
        }
    }

    let attrs = e.name(ATTRIBUTES);
    let whole_map = matches!(guard, Guard::CreateAttributes | Guard::New);
    if !patch.touches_attributes() {
        // Every profile carries the map, so later writes can address keys in it.
        let empty = e.value(AttributeValue::M(HashMap::new()));
        e.set_raw(attrs.clone(), format!("if_not_exists({attrs}, {empty})"));
    } else if whole_map {
        let map = patch
            .attributes
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k.as_str().to_owned(), to_av(v))))
            .collect();
        e.set(ATTRIBUTES, AttributeValue::M(map));
    } else {
        for (key, value) in &patch.attributes {
            let path = format!("{attrs}.{}", e.name(key.as_str()));
            match value {
                Some(v) => {
                    let v = e.value(to_av(v));
                    e.set_raw(path, v);
                }
                None => e.remove(path),
            }
        }
    }

    if let Some(avatar) = &patch.avatar {
        e.set(AVATAR_URL, AttributeValue::S(avatar.url.clone()));
        e.set(AVATAR_KEYS, AttributeValue::Ss(avatar.keys.clone()));
    }

    // Never onto an erased account's tombstone, nor a disabled account, whatever else
    // the write assumes.
    usable(&mut e);
    match guard {
        Guard::Optimistic if patch.touches_attributes() => {
            e.condition(format!("attribute_exists({attrs})"));
            let added = patch.attributes.values().filter(|v| v.is_some()).count();
            if added > 0 {
                let room = e.value(AttributeValue::N((MAX_ATTRIBUTES - added).to_string()));
                e.condition(format!("size({attrs}) <= {room}"));
            }
        }
        Guard::Optimistic => {}
        Guard::CreateAttributes => e.condition(format!("attribute_not_exists({attrs})")),
        Guard::New => e.condition(format!("attribute_not_exists({version})")),
        Guard::SeenVersion(seen) => {
            let seen = e.value(AttributeValue::N(seen.to_string()));
            e.condition(format!("{version} = {seen}"));
        }
    }
    e
}

pub(crate) fn add_expectation(e: &mut Expression, expected: ExpectedVersion) {
    match expected {
        ExpectedVersion::Any => {}
        ExpectedVersion::Exists => {
            let version = e.name(VERSION);
            e.condition(format!("attribute_exists({version})"));
        }
        ExpectedVersion::Exactly(expected) => {
            let version = e.name(VERSION);
            let expected = e.value(AttributeValue::N(expected.to_string()));
            e.condition(format!("{version} = {expected}"));
        }
    }
}

/// After a failed condition: a 412, a 400, or the guard for the next attempt.
pub(crate) fn next_guard(
    patch: &ProfilePatch,
    expected: ExpectedVersion,
    old: Option<&Item>,
) -> Result<Guard, PatchError> {
    if old.is_some_and(is_erased) {
        return Err(StoreError::Erased.into());
    }
    if old.is_some_and(|item| item.contains_key(DISABLED_AT)) {
        return Err(StoreError::Disabled.into());
    }
    let old_version = old.and_then(|item| match item.get(VERSION) {
        Some(AttributeValue::N(n)) => n.parse::<u64>().ok(),
        _ => None,
    });
    match (expected, old_version) {
        (ExpectedVersion::Exists, None) => return Err(PatchError::VersionConflict),
        (ExpectedVersion::Exactly(expected), seen) if seen != Some(expected) => {
            return Err(PatchError::VersionConflict);
        }
        _ => {}
    }
    let Some(AttributeValue::M(stored)) = old.and_then(|item| item.get(ATTRIBUTES)) else {
        return Ok(Guard::CreateAttributes);
    };
    let mut keys: BTreeSet<&str> = stored.keys().map(String::as_str).collect();
    for (key, value) in &patch.attributes {
        if value.is_some() {
            keys.insert(key.as_str());
        } else {
            keys.remove(key.as_str());
        }
    }
    if keys.len() > MAX_ATTRIBUTES {
        return Err(PatchError::TooManyAttributes);
    }
    Ok(Guard::SeenVersion(old_version.unwrap_or(0)))
}

fn to_av(value: &domain::AttributeValue) -> AttributeValue {
    serde_dynamo::to_attribute_value(value).expect("scalar attribute values always convert")
}
