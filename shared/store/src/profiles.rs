//! Profile items: one strongly consistent GetItem to read, one conditional UpdateItem
//! to change. No read-before-write: the condition expression carries what the write
//! assumed, and only when it fails does the store look at the item it got back.
//! A PATCH that changes consents, or that someone other than the holder makes, must
//! also write audit entries, so it reads first and commits profile and audit entries in
//! one transaction; a partner's batch update writes both without reading.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use chrono::{DateTime, Utc};
use domain::{
    Actor, ChannelState, Clock, ConsentChange, Consents, ExpectedVersion, Profile, ProfilePatch,
    UserId, timestamp,
};

use crate::StoreError;
use crate::account_audit::{audit_put, patch_changes};
use crate::batch::batch_get;
use crate::consent_item::{audit_puts, consents_from_item, expect_from, set_consents};
use crate::item::{Item, get_consistent};
use crate::keys::ItemKey;
use crate::profile_item::{
    Existence, Guard, PatchError, VERSION, add_expectation, live_profile, next_guard,
    profile_from_item, update_expression, writable_profile,
};
use crate::txn::{Outcome, transact, update, update_item};

/// Attempts before a write that keeps losing races gives up with 503.
pub(crate) const MAX_ATTEMPTS: usize = 8;

crate::table_store! {
    #[derive(Clone, Debug)]
    ProfileStore
}

impl ProfileStore {
    /// The hourly cap on texts, in this store's table.
    pub fn sms_quota(&self) -> crate::SmsQuota {
        crate::SmsQuota::new(self.client.clone(), &self.table)
    }

    pub async fn get(&self, user: &UserId) -> Result<Option<Profile>, StoreError> {
        Ok(self
            .get_item(user)
            .await?
            .map(live_profile)
            .transpose()?
            .flatten())
    }

    /// The profile as its holder reads it: `Disabled` once an operator disabled the
    /// account, whose holder may still hold an access token.
    pub async fn get_for_holder(&self, user: &UserId) -> Result<Option<Profile>, StoreError> {
        match self.get(user).await? {
            Some(profile) if profile.disabled_at.is_some() => Err(StoreError::Disabled),
            found => Ok(found),
        }
    }

    /// `Disabled` when an operator disabled `user`, for the holder's reads that do not
    /// read the profile item themselves (run beside them: one GetItem of one attribute).
    pub async fn holder_may_read(&self, user: &UserId) -> Result<(), StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(ItemKey::profile(user).to_item()))
            .projection_expression("#disabled")
            .expression_attribute_names("#disabled", crate::profile_item::DISABLED_AT)
            .consistent_read(true)
            .send()
            .await?;
        match out.item {
            Some(item) if item.contains_key(crate::profile_item::DISABLED_AT) => {
                Err(StoreError::Disabled)
            }
            _ => Ok(()),
        }
    }

    /// Up to 100 profiles in one BatchGetItem (plus retries of unprocessed keys).
    pub async fn get_many(&self, users: &[UserId]) -> Result<HashMap<UserId, Profile>, StoreError> {
        let keys = users.iter().map(ItemKey::profile).collect();
        let mut found = batch_get(&self.client, &self.table, keys).await?;
        let mut out = HashMap::new();
        for user in users {
            if let Some(profile) = found
                .remove(&ItemKey::profile(user))
                .map(live_profile)
                .transpose()?
                .flatten()
            {
                out.insert(user.clone(), profile);
            }
        }
        Ok(out)
    }

    /// Applies `patch`, creating the profile on first write.
    pub async fn patch(
        &self,
        user: &UserId,
        patch: &ProfilePatch,
        expected: ExpectedVersion,
        actor: &Actor,
        clock: &Clock,
    ) -> Result<Profile, PatchError> {
        if patch.consents.is_empty() && actor.is_holder() {
            self.patch_fields(user, patch, expected, clock.now()).await
        } else {
            self.patch_recorded(user, patch, expected, actor, clock)
                .await
        }
    }

    /// One UpdateItem when the guess about the stored item holds; on a failed condition
    /// the returned old item tells which guess to make next.
    async fn patch_fields(
        &self,
        user: &UserId,
        patch: &ProfilePatch,
        expected: ExpectedVersion,
        now: DateTime<Utc>,
    ) -> Result<Profile, PatchError> {
        let mut guard = Guard::Optimistic;
        for _ in 0..MAX_ATTEMPTS {
            let mut expr = update_expression(user, patch, now, guard);
            add_expectation(&mut expr, expected);
            let result = update_item(&self.client, &self.table, &ItemKey::profile(user), expr)
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
                        guard = next_guard(patch, expected, failed.item.as_ref())?;
                    }
                    _ => return Err(StoreError::from(err).into()),
                },
            }
        }
        Err(StoreError::Unavailable("profile write kept losing races".into()).into())
    }

    /// A partner's update of one user: only if the user has a profile, and on the
    /// record (one transaction, no read).
    pub async fn partner_update(
        &self,
        user: &UserId,
        patch: &ProfilePatch,
        actor: &Actor,
        clock: &Clock,
    ) -> Result<(), PatchError> {
        self.write_audited(user, patch, Existence::MustExist, actor, clock)
            .await
            .map(|_| ())
    }

    /// `patch`, an audit entry per consent it changes and, when someone other than the
    /// holder acts, one of the fields it sets, in one transaction, without reading
    /// first: the first attempt guesses every named channel was never set (and, for
    /// attributes, that there is room). A wrong guess fails the condition, DynamoDB
    /// returns the stored item with the cancellation, and the next attempt is exact.
    /// Returns the consent changes made and the consents after the write.
    pub(crate) async fn write_audited(
        &self,
        user: &UserId,
        patch: &ProfilePatch,
        existence: Existence,
        actor: &Actor,
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
            let only_consents = patch.only_consents();
            if let Some(state) = &stored
                && changes.is_empty()
                && only_consents
            {
                return Ok((changes, state.clone()));
            }
            let guard = match &seen {
                None => Guard::Optimistic,
                Some(None) => Guard::New,
                Some(Some(old)) => next_guard(patch, ExpectedVersion::Any, Some(old))?,
            };
            let mut e = update_expression(user, patch, now, guard);
            set_consents(&mut e, &changes, actor, now);
            expect_from(&mut e, &changes);
            if existence == Existence::MustExist {
                let version = e.name(VERSION);
                e.condition(format!("attribute_exists({version})"));
            }
            let mut items = vec![update(&self.table, &ItemKey::profile(user), e)?];
            items.extend(audit_puts(&self.table, user, &changes, actor, now)?);
            items.extend(field_audit(&self.table, user, patch, None, actor, now)?);
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
                Outcome::Failed(..) => {
                    return Err(
                        StoreError::Failed("an audit entry key was already taken".into()).into(),
                    );
                }
            }
        }
        Err(StoreError::Unavailable("write kept losing races".into()).into())
    }

    async fn get_item(&self, user: &UserId) -> Result<Option<Item>, StoreError> {
        get_consistent(&self.client, &self.table, &ItemKey::profile(user)).await
    }

    /// Read, then one transaction: the profile (if still the version read), an audit
    /// entry per consent that really changes and, when someone other than the holder
    /// acts, one of the fields that really change, with what they were.
    async fn patch_recorded(
        &self,
        user: &UserId,
        patch: &ProfilePatch,
        expected: ExpectedVersion,
        actor: &Actor,
        clock: &Clock,
    ) -> Result<Profile, PatchError> {
        for _ in 0..MAX_ATTEMPTS {
            let now = clock.now();
            let old = self
                .get_item(user)
                .await?
                .map(writable_profile)
                .transpose()?
                .flatten();
            if !expected.holds_for(old.as_ref()) {
                return Err(PatchError::VersionConflict);
            }
            let base = old.clone().unwrap_or_else(|| Profile::empty(user, now));
            let changes = base.consents.diff(&patch.consents);
            if let Some(old) = &old
                && changes.is_empty()
                && patch.only_consents()
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
            set_consents(&mut e, &changes, actor, now);
            let mut items = vec![update(&self.table, &ItemKey::profile(user), e)?];
            items.extend(audit_puts(&self.table, user, &changes, actor, now)?);
            items.extend(field_audit(
                &self.table,
                user,
                patch,
                old.as_ref(),
                actor,
                now,
            )?);
            match transact(&self.client, items).await? {
                Outcome::Done => return Ok(next),
                Outcome::FirstFailed(_) | Outcome::Conflict => continue,
                Outcome::Failed(..) => {
                    return Err(
                        StoreError::Failed("an audit entry key was already taken".into()).into(),
                    );
                }
            }
        }
        Err(StoreError::Unavailable("profile write kept losing races".into()).into())
    }
}

/// The audit entry of a change to fields and attributes by anyone but the holder; none
/// when the holder acts or nothing changes.
fn field_audit(
    table: &str,
    user: &UserId,
    patch: &ProfilePatch,
    before: Option<&Profile>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Option<TransactWriteItem>, StoreError> {
    if actor.is_holder() {
        return Ok(None);
    }
    let changes = patch_changes(patch, before);
    if changes.is_empty() {
        return Ok(None);
    }
    audit_put(table, user, actor, now, &changes).map(Some)
}
