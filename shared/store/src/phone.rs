//! The phone-change flow's reads and writes. One consistent BatchGetItem
//! reads everything a decision needs; each outcome is one conditional write, so two
//! requests racing for the same number or the same code cannot both win.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use domain::{Actor, PhoneNumber, Profile, ProfilePatch, UserId, timestamp};

use crate::StoreError;
use crate::codes::{CodeKind, OneTimeCode};
use crate::consent_item::{audit_puts, set_consents};
use crate::keys::ItemKey;
use crate::markers::{claim_phone, holder, release_phone};
use crate::profile_item::{Guard, update_expression, writable_profile};
use crate::profiles::ProfileStore;
use crate::txn::{Tagged, Verdict, update};

/// What the store holds about a requested change to `phone`.
#[derive(Debug, Clone)]
pub struct PhoneChangeState {
    pub profile: Option<Profile>,
    /// The account that holds the number's uniqueness marker.
    pub owner: Option<String>,
    /// The user's code for this number.
    pub code: OneTimeCode,
}

/// What each item of the phone change's transaction guards.
#[derive(Debug, Clone, Copy)]
enum Part {
    Profile,
    Number,
    Code,
    Other,
}

/// A phone change whose code was judged right, with the rest of its PATCH.
pub struct VerifiedPhoneChange<'a> {
    pub phone: &'a PhoneNumber,
    pub patch: &'a ProfilePatch,
    pub actor: &'a Actor,
    pub max_attempts: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("the patch would leave too many attributes")]
    TooManyAttributes,
    #[error("another account holds the number")]
    PhoneTaken,
    #[error("the code was used, replaced or burned meanwhile")]
    CodeGone,
    #[error("the profile changed since it was read")]
    ProfileChanged,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ProfileStore {
    pub async fn load_phone_change(
        &self,
        user: &UserId,
        phone: &PhoneNumber,
    ) -> Result<PhoneChangeState, StoreError> {
        let (profile_key, owner_key) = (ItemKey::profile(user), ItemKey::phone_owner(phone));
        let kind = CodeKind::PhoneChange { user, phone };
        let (mut items, code) =
            OneTimeCode::read_with(&self.client, &self.table, kind, &[&profile_key, &owner_key])
                .await?;
        Ok(PhoneChangeState {
            profile: items
                .remove(&profile_key)
                .map(writable_profile)
                .transpose()?
                .flatten(),
            owner: holder(items.remove(&owner_key)),
            code,
        })
    }

    /// Applies the verified change in one transaction: the profile with the rest of
    /// the PATCH (if it is still the version read), the new number's marker (if nobody
    /// else holds it), the old number's marker released, the code consumed (if still
    /// live), and an audit entry per consent that changes. Returns the new profile.
    pub async fn commit_phone_change(
        &self,
        user: &UserId,
        before: &PhoneChangeState,
        change: &VerifiedPhoneChange<'_>,
        now: DateTime<Utc>,
    ) -> Result<Profile, CommitError> {
        let phone = change.phone;
        let digest = before
            .code
            .challenge()
            .and_then(|c| c.digest.as_deref())
            .ok_or(CommitError::CodeGone)?;
        let base = before
            .profile
            .clone()
            .unwrap_or_else(|| Profile::empty(user, now));
        let mut next = base
            .patched(change.patch, now)
            .map_err(|_| CommitError::TooManyAttributes)?;
        next.phone = Some(phone.e164().to_owned());
        next.phone_verified = true;
        next.phone_changed_at = Some(timestamp(now));
        let consent_changes = base.consents.diff(&change.patch.consents);
        // 0: the profile.
        let guard = before
            .profile
            .as_ref()
            .map_or(Guard::New, |p| Guard::SeenVersion(p.version));
        let mut p = update_expression(user, change.patch, now, guard);
        p.set("phone", AttributeValue::S(phone.e164().to_owned()));
        p.set("phone_verified", AttributeValue::Bool(true));
        p.set("phone_changed_at", AttributeValue::S(timestamp(now)));
        set_consents(&mut p, &consent_changes, change.actor, now);
        let mut items = Tagged::new();
        items.push(
            Part::Profile,
            update(&self.table, &ItemKey::profile(user), p)?,
        );
        let claim = claim_phone(&self.table, phone, user, &next.updated_at)?;
        items.push(Part::Number, claim);
        let spend = before
            .code
            .spend(digest, change.max_attempts, now.timestamp())?;
        items.push(Part::Code, spend);

        // The old number is released, if it was ours: only a proven number holds a
        // marker (one typed at a sign-up claims nothing, and another account may have
        // proven it since).
        let old_phone = before
            .profile
            .as_ref()
            .and_then(Profile::proven_phone)
            .filter(|old| old != phone);
        if let Some(old) = &old_phone {
            items.push(Part::Other, release_phone(&self.table, old, user)?);
        }
        items.extend(
            Part::Other,
            audit_puts(&self.table, user, &consent_changes, change.actor, now)?,
        );
        match items.send(&self.client).await? {
            Verdict::Done => Ok(next),
            Verdict::Refused(Part::Number) => Err(CommitError::PhoneTaken),
            Verdict::Refused(Part::Code) => Err(CommitError::CodeGone),
            Verdict::Refused(_) | Verdict::Conflict => Err(CommitError::ProfileChanged),
        }
    }
}
