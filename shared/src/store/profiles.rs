//! Profile items: one strongly consistent GetItem to read, one conditional UpdateItem
//! to change. No read-before-write: the condition expression carries what the write
//! assumed, and only when it fails does the store look at the item it got back.
//! A PATCH that changes consents must also write audit entries, so it reads first and
//! commits profile and audit entries in one transaction.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};

use super::StoreError;
use super::batch::Item;
use super::consents::{audit_puts, consents_from_item, expect_from, set_consents};
use super::expr::Expression;
use super::keys::ItemKey;
use super::txn::{Outcome, transact, update};
use crate::clock::Clock;
use crate::domain::{
    ChannelState, ConsentActor, ConsentChange, Consents, MAX_ATTRIBUTES, Profile, ProfilePatch,
    UserId, timestamp,
};

/// Attempts before a write that keeps losing races gives up with 503.
const MAX_ATTEMPTS: usize = 8;
const ATTRIBUTES: &str = "attributes";
const VERSION: &str = "version";

/// What the client's `If-Match` demands of the stored profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    None,
    /// `If-Match: *` — the profile must exist.
    Exists,
    /// `If-Match: "<version>"`.
    Version(u64),
}

impl Precondition {
    pub fn holds_for(self, profile: Option<&Profile>) -> bool {
        match self {
            Self::None => true,
            Self::Exists => profile.is_some(),
            Self::Version(v) => profile.is_some_and(|p| p.version == v),
        }
    }
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
pub(super) enum Guard {
    /// The attributes map exists and has room for every key the patch sets.
    Optimistic,
    /// No attributes map yet: write the whole map.
    CreateAttributes,
    /// No item at all (read just now).
    New,
    /// Exactly the version read.
    SeenVersion(u64),
}

#[derive(Clone, Debug)]
pub struct ProfileStore {
    pub(super) client: Client,
    pub(super) table: String,
}

pub(super) fn profile_from_item(item: Item) -> Result<Profile, StoreError> {
    let consents = consents_from_item(&item);
    let profile: Profile = serde_dynamo::from_item(item)?;
    Ok(profile.with_consents(consents))
}

impl ProfileStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub async fn get(&self, user: &UserId) -> Result<Option<Profile>, StoreError> {
        self.get_item(user)
            .await?
            .map(profile_from_item)
            .transpose()
    }

    /// Up to 100 profiles in one BatchGetItem (plus retries of unprocessed keys).
    pub async fn get_many(&self, users: &[UserId]) -> Result<HashMap<UserId, Profile>, StoreError> {
        let keys = users.iter().map(ItemKey::profile).collect();
        let mut found = super::batch::batch_get(&self.client, &self.table, keys).await?;
        let mut out = HashMap::new();
        for user in users {
            if let Some(item) = found.remove(&ItemKey::profile(user)) {
                out.insert(user.clone(), profile_from_item(item)?);
            }
        }
        Ok(out)
    }

    /// Applies `patch`, creating the profile on first write.
    pub async fn patch(
        &self,
        user: &UserId,
        patch: &ProfilePatch,
        precondition: Precondition,
        actor: &ConsentActor,
        clock: &Clock,
    ) -> Result<Profile, PatchError> {
        if patch.consents.is_empty() {
            self.patch_fields(user, patch, precondition, clock.now())
                .await
        } else {
            self.patch_with_consents(user, patch, precondition, actor, clock)
                .await
        }
    }

    /// One UpdateItem when the guess about the stored item holds; on a failed condition
    /// the returned old item tells which guess to make next.
    async fn patch_fields(
        &self,
        user: &UserId,
        patch: &ProfilePatch,
        precondition: Precondition,
        now: DateTime<Utc>,
    ) -> Result<Profile, PatchError> {
        let mut guard = Guard::Optimistic;
        for _ in 0..MAX_ATTEMPTS {
            let mut expr = update_expression(user, patch, now, guard);
            add_precondition(&mut expr, precondition);
            let built = expr.build();
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(ItemKey::profile(user).to_item()))
                .update_expression(built.update)
                .set_condition_expression(built.condition)
                .set_expression_attribute_names(Some(built.names))
                .set_expression_attribute_values(built.values)
                .return_values(ReturnValue::AllNew)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            match result {
                Ok(output) => return Ok(profile_from_item(output.attributes.unwrap_or_default())?),
                Err(err) => match err.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                        guard = next_guard(patch, precondition, failed.item.as_ref())?;
                    }
                    _ => return Err(StoreError::from(err).into()),
                },
            }
        }
        Err(StoreError::Unavailable("profile write kept losing races".into()).into())
    }

    /// A partner's update of one user: only if the user has a profile.
    pub async fn partner_update(
        &self,
        user: &UserId,
        patch: &ProfilePatch,
        actor: &ConsentActor,
        clock: &Clock,
    ) -> Result<(), PatchError> {
        if patch.consents.is_empty() {
            match self
                .patch_fields(user, patch, Precondition::Exists, clock.now())
                .await
            {
                Err(PatchError::VersionConflict) => Err(PatchError::NotFound),
                other => other.map(|_| ()),
            }
        } else {
            self.write_audited(user, patch, Existence::MustExist, actor, clock)
                .await
                .map(|_| ())
        }
    }

    /// `patch` and an audit entry per consent it changes, in one transaction, without
    /// reading first: the first attempt guesses every named channel was never set (and,
    /// for attributes, that there is room). A wrong guess fails the condition, DynamoDB
    /// returns the stored item with the cancellation, and the next attempt is exact.
    /// Returns the consent changes made and the consents after the write.
    pub(super) async fn write_audited(
        &self,
        user: &UserId,
        patch: &ProfilePatch,
        existence: Existence,
        actor: &ConsentActor,
        clock: &Clock,
    ) -> Result<(Vec<ConsentChange>, Consents), PatchError> {
        // What the last failed attempt showed: `Some(None)` = no item.
        let mut seen: Option<Option<Item>> = None;
        for _ in 0..MAX_ATTEMPTS {
            // A fresh time per attempt: an audit entry is never stamped earlier than
            // the state it was conditioned on.
            let now = clock.now();
            let stored = seen
                .as_ref()
                .map(|old| old.as_ref().map(consents_from_item).unwrap_or_default());
            let changes = stored.clone().unwrap_or_default().diff(&patch.consents);
            let only_consents = patch.assignments().is_empty() && !patch.touches_attributes();
            if let Some(state) = &stored
                && changes.is_empty()
                && only_consents
            {
                return Ok((changes, state.clone()));
            }
            let guard = match &seen {
                None => Guard::Optimistic,
                Some(None) => Guard::New,
                Some(Some(old)) => next_guard(patch, Precondition::None, Some(old))?,
            };
            let mut e = update_expression(user, patch, now, guard);
            set_consents(&mut e, &changes, now);
            expect_from(&mut e, &changes);
            if existence == Existence::MustExist {
                let version = e.name(VERSION);
                e.condition(format!("attribute_exists({version})"));
            }
            let mut items = vec![update(&self.table, &ItemKey::profile(user), e)?];
            items.extend(audit_puts(&self.table, user, &changes, actor, now)?);
            match transact(&self.client, items).await? {
                Outcome::Done => {
                    let mut state = stored.unwrap_or_default();
                    for change in &changes {
                        let updated_at = timestamp(now);
                        state.0.insert(
                            change.channel,
                            ChannelState {
                                status: change.to,
                                updated_at,
                            },
                        );
                    }
                    return Ok((changes, state));
                }
                Outcome::FirstFailed(None) if existence == Existence::MustExist => {
                    return Err(PatchError::NotFound);
                }
                Outcome::FirstFailed(old) => seen = Some(old),
                Outcome::Conflict => seen = Some(self.get_item(user).await?),
                Outcome::Failed(_) => {
                    return Err(
                        StoreError::Failed("an audit entry key was already taken".into()).into(),
                    );
                }
            }
        }
        Err(StoreError::Unavailable("write kept losing races".into()).into())
    }

    async fn get_item(&self, user: &UserId) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(ItemKey::profile(user).to_item()))
            .consistent_read(true)
            .send()
            .await?;
        Ok(output.item)
    }

    /// Read, then one transaction: the profile (if still the version read) and an audit
    /// entry per consent that really changes.
    async fn patch_with_consents(
        &self,
        user: &UserId,
        patch: &ProfilePatch,
        precondition: Precondition,
        actor: &ConsentActor,
        clock: &Clock,
    ) -> Result<Profile, PatchError> {
        for _ in 0..MAX_ATTEMPTS {
            let now = clock.now();
            let old = self.get(user).await?;
            if !precondition.holds_for(old.as_ref()) {
                return Err(PatchError::VersionConflict);
            }
            let base = old.clone().unwrap_or_else(|| Profile::empty(user, now));
            let changes = base.consents.diff(&patch.consents);
            if let Some(old) = &old
                && changes.is_empty()
                && patch.assignments().is_empty()
                && !patch.touches_attributes()
            {
                return Ok(old.clone());
            }
            let next = base
                .patched(patch, now)
                .map_err(|_| PatchError::TooManyAttributes)?;
            let guard = old
                .as_ref()
                .map_or(Guard::New, |p| Guard::SeenVersion(p.version));
            let mut e = update_expression(user, patch, now, guard);
            set_consents(&mut e, &changes, now);
            let mut items = vec![update(&self.table, &ItemKey::profile(user), e)?];
            items.extend(audit_puts(&self.table, user, &changes, actor, now)?);
            match transact(&self.client, items).await? {
                Outcome::Done => return Ok(next),
                Outcome::FirstFailed(_) | Outcome::Conflict => continue,
                Outcome::Failed(_) => {
                    return Err(
                        StoreError::Failed("an audit entry key was already taken".into()).into(),
                    );
                }
            }
        }
        Err(StoreError::Unavailable("profile write kept losing races".into()).into())
    }
}

/// The update of a profile item for `patch` under `guard`: the fields it sets, the
/// bookkeeping every write does (version, timestamps, the attributes map), and the
/// condition that makes the write safe.
pub(super) fn update_expression(
    user: &UserId,
    patch: &ProfilePatch,
    now: DateTime<Utc>,
    guard: Guard,
) -> Expression {
    let mut e = Expression::default();
    let now = AttributeValue::S(timestamp(now));
    e.set("user_id", AttributeValue::S(user.as_str().to_owned()));
    e.set("updated_at", now.clone());
    let created = e.name("created_at");
    let now_v = e.value(now);
    e.set_raw(
        created.clone(),
        format!("if_not_exists({created}, {now_v})"),
    );
    let version = e.name(VERSION);
    let zero = e.value(AttributeValue::N("0".into()));
    let one = e.value(AttributeValue::N("1".into()));
    e.set_raw(
        version.clone(),
        format!("if_not_exists({version}, {zero}) + {one}"),
    );

    for (field, value) in patch.assignments() {
        match value {
            Some(s) => e.set(field, AttributeValue::S(s)),
            None => {
                let path = e.name(field);
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

fn add_precondition(e: &mut Expression, precondition: Precondition) {
    match precondition {
        Precondition::None => {}
        Precondition::Exists => {
            let version = e.name(VERSION);
            e.condition(format!("attribute_exists({version})"));
        }
        Precondition::Version(expected) => {
            let version = e.name(VERSION);
            let expected = e.value(AttributeValue::N(expected.to_string()));
            e.condition(format!("{version} = {expected}"));
        }
    }
}

/// After a failed condition: a 412, a 400, or the guard for the next attempt.
fn next_guard(
    patch: &ProfilePatch,
    precondition: Precondition,
    old: Option<&Item>,
) -> Result<Guard, PatchError> {
    let old_version = old.and_then(|item| match item.get(VERSION) {
        Some(AttributeValue::N(n)) => n.parse::<u64>().ok(),
        _ => None,
    });
    match (precondition, old_version) {
        (Precondition::Exists, None) => return Err(PatchError::VersionConflict),
        (Precondition::Version(expected), seen) if seen != Some(expected) => {
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

fn to_av(value: &crate::domain::AttributeValue) -> AttributeValue {
    serde_dynamo::to_attribute_value(value).expect("scalar attribute values always convert")
}
