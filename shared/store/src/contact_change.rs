//! A change of an account's email or phone outside the phone flow: an administrator's
//! direct change (seed 001's `PATCH /api/v1/accounts/users/{id}` by `users:admin`), or a
//! user's email change proven by the token sent to the new address and the checksum
//! sent to the current one. One transaction: the
//! profile (if still the version read), the email's credential moved to its new key (the
//! key is the uniqueness marker), the number's marker claimed and the old one released,
//! the codes spent, and an audit entry naming who did it.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use domain::{Actor, Email, PhoneNumber, Profile, ProfilePatch, UserId, timestamp};

use crate::StoreError;
use crate::account_audit::{FieldChange, audit_put, patch_changes};
use crate::accounts::{AccountStore, MOVED_AT};
use crate::claim::{Claim, EarlierClaim};
use crate::codes::{CodeKind, OneTimeCode, SpentCode};
use crate::expr::Expression;
use crate::item::{Item, get_consistent};
use crate::keys::{ItemKey, PK};
use crate::markers::holder;
use crate::markers::{claim_phone, release_phone};
use crate::password::credential_key;
use crate::profile_item::writable_profile;
use crate::profile_item::{Guard, VERSION, live_profile, update_expression};
use crate::txn::{Tagged, Verdict, delete, put, update};

const ATTEMPTS: usize = 4;

/// What the administrator asked for.
pub struct ContactChange<'a> {
    pub user: &'a UserId,
    /// The other fields of the same PATCH.
    pub patch: &'a ProfilePatch,
    pub email: Option<&'a Email>,
    pub phone: Option<&'a PhoneNumber>,
    /// Who acts (`source` = `admin` or `self`), for the audit entry.
    pub actor: &'a Actor,
    /// The codes that prove the change (the token to the new address, the checksum to
    /// the current one), spent by it; none for an administrator, who vouches for it.
    pub codes: &'a [SpentCode<'a>],
    /// The profile as the caller read it just now, if it did: the first attempt writes
    /// against its version instead of reading it again.
    pub read: Option<&'a Profile>,
}

#[derive(Debug, thiserror::Error)]
pub enum ContactError {
    #[error("the user has no profile")]
    NotFound,
    #[error("another account has this email")]
    EmailTaken,
    #[error("another account holds the number")]
    PhoneTaken,
    /// The account signs in through an identity provider, which owns its email.
    #[error("the account has no password login to move")]
    NoCredential,
    #[error("the patch would leave too many attributes")]
    TooManyAttributes,
    /// The token was used, replaced or burned since it was judged.
    #[error("the code is gone")]
    CodeGone,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What each item of the transaction guards, to name a failed condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guarded {
    Profile,
    OldCredential,
    NewCredential,
    /// The side of an earlier, unproven claim on the new address.
    Earlier,
    Number,
    Code,
    Other,
}

impl AccountStore {
    pub async fn set_contact(
        &self,
        change: &ContactChange<'_>,
        now: DateTime<Utc>,
    ) -> Result<Profile, ContactError> {
        let mut read = change.read.cloned();
        // An unproven claim on the new address, taken over: the holder proved the address.
        let mut taking: Option<EarlierClaim> = None;
        for _ in 0..ATTEMPTS {
            let profile = match read.take() {
                Some(profile) => profile,
                None => self
                    .get_raw(&ItemKey::profile(change.user))
                    .await?
                    .map(live_profile)
                    .transpose()?
                    .flatten()
                    .ok_or(ContactError::NotFound)?,
            };
            // Every write of it would be refused: say why rather than try again.
            if profile.disabled_at.is_some() {
                return Err(StoreError::Disabled.into());
            }
            let built = self.contact_items(change, &profile, now, taking.as_ref());
            let Some((items, next)) = built.await? else {
                return Ok(profile);
            };
            match items.send(&self.client).await? {
                Verdict::Done => return Ok(next),
                Verdict::Conflict => {}
                Verdict::Refused(guard) => match guard {
                    Guarded::NewCredential if taking.is_none() && !change.codes.is_empty() => {
                        let email = change.email.ok_or(ContactError::EmailTaken)?;
                        match self.claim_on(email, now.timestamp(), true).await? {
                            Claim::Free => {}
                            Claim::Unproven(claim) => taking = Some(claim),
                            _ => return Err(ContactError::EmailTaken),
                        }
                    }
                    Guarded::NewCredential => return Err(ContactError::EmailTaken),
                    // The earlier claimant changed since read: read it again.
                    Guarded::Earlier => taking = None,
                    Guarded::Number => return Err(ContactError::PhoneTaken),
                    Guarded::Code => return Err(ContactError::CodeGone),
                    // The profile or the old credential changed since read: read again.
                    _ => {}
                },
            }
        }
        Err(StoreError::Unavailable("the contact change kept losing races".into()).into())
    }

    async fn get_raw(&self, key: &ItemKey) -> Result<Option<Item>, StoreError> {
        get_consistent(&self.client, &self.table, key).await
    }

    async fn contact_items(
        &self,
        change: &ContactChange<'_>,
        before: &Profile,
        now: DateTime<Utc>,
        taking: Option<&EarlierClaim>,
    ) -> Result<Option<(Tagged<Guarded>, Profile)>, ContactError> {
        let user = change.user;
        let new_email = change.email.filter(|e| {
            before
                .email
                .as_deref()
                .and_then(|old| Email::parse(old).ok())
                .is_none_or(|old| old.normalized() != e.normalized())
        });
        let new_phone = change
            .phone
            .filter(|p| before.phone.as_deref() != Some(p.e164()) || !before.phone_verified);
        if new_email.is_none() && new_phone.is_none() && !change.patch.changes_profile_fields() {
            return Ok(None);
        }
        let mut next = before
            .patched(change.patch, now)
            .map_err(|_| ContactError::TooManyAttributes)?;
        let mut changes = patch_changes(change.patch, Some(before));
        let mut p = update_expression(user, change.patch, now, Guard::SeenVersion(before.version));
        let mut rest = Vec::new();

        if let Some(email) = new_email {
            // Under the old address, or under the account when it holds none.
            let old = before.email.as_deref().and_then(|e| Email::parse(e).ok());
            let old_key = credential_key(user, old.as_ref());
            let mut credential = self
                .get_raw(&old_key)
                .await?
                .ok_or(ContactError::NoCredential)?;
            let me = AttributeValue::S(user.as_str().to_owned());
            if credential.get("user_id") != Some(&me) {
                return Err(ContactError::NoCredential);
            }
            // As read: a new password or grant landing meanwhile is not undone by the copy.
            let mut d = Expression::default();
            let (owner, me_v, version) = (d.name("user_id"), d.value(me), d.name(VERSION));
            let as_read = match credential.get(VERSION) {
                Some(v) => format!("{version} = {}", d.value(v.clone())),
                None => format!("attribute_not_exists({version})"),
            };
            d.condition(format!("{owner} = {me_v} AND {as_read}"));
            rest.push((Guarded::OldCredential, delete(&self.table, &old_key, d)?));
            // The same password and grants under the new address, proven by the token
            // or vouched for by the administrator; no login window carries over.
            credential.extend(ItemKey::credential(email).to_item());
            credential.insert("email_verified".into(), AttributeValue::Bool(true));
            credential.remove("login_attempts");
            credential.remove("login_window_start");
            // Moved, not registered: the credential aggregate keeps its count.
            credential.insert(MOVED_AT.into(), AttributeValue::S(timestamp(now)));
            credential
                .entry(VERSION.into())
                .or_insert_with(|| AttributeValue::N("1".into()));
            let mut c = Expression::default();
            match taking {
                Some(claim) => {
                    claim.condition(&mut c);
                    let earlier = claim.items(&self.table, email, change.actor, now)?;
                    rest.extend(earlier.into_iter().map(|item| (Guarded::Earlier, item)));
                }
                None => {
                    let pk = c.name(PK);
                    c.condition(format!("attribute_not_exists({pk})"));
                }
            }
            rest.push((Guarded::NewCredential, put(&self.table, credential, c)?));
            p.set("email", AttributeValue::S(email.as_str().to_owned()));
            changes.insert(
                "email".into(),
                FieldChange {
                    from: Some(before.email.clone().into()),
                    to: email.as_str().into(),
                },
            );
            next.email = Some(email.as_str().to_owned());
        }

        if let Some(phone) = new_phone {
            rest.push((
                Guarded::Number,
                claim_phone(&self.table, phone, user, &timestamp(now))?,
            ));
            // Only a proven number holds a marker to give up (see `commit_phone_change`).
            if let Some(old) = before.proven_phone().filter(|old| old != phone) {
                rest.push((Guarded::Other, release_phone(&self.table, &old, user)?));
            }
            // The administrator vouches for the number as for the email: it stands at once.
            p.set("phone", AttributeValue::S(phone.e164().to_owned()));
            p.set("phone_verified", AttributeValue::Bool(true));
            let changed_at = p.name("phone_changed_at");
            p.remove(changed_at);
            changes.insert(
                "phone".into(),
                FieldChange {
                    from: Some(before.phone.clone().into()),
                    to: phone.e164().into(),
                },
            );
            next.phone = Some(phone.e164().to_owned());
            next.phone_verified = true;
            next.phone_changed_at = None;
        }

        for code in change.codes {
            rest.push((Guarded::Code, code.item(now.timestamp())?));
        }
        let mut items = Tagged::new();
        items.push(
            Guarded::Profile,
            update(&self.table, &ItemKey::profile(user), p)?,
        );
        for (guard, item) in rest {
            items.push(guard, item);
        }
        if !changes.is_empty() {
            let audit = audit_put(&self.table, user, change.actor, now, &changes)?;
            items.push(Guarded::Other, audit);
        }
        Ok(Some((items, next)))
    }
}

/// What the store holds about a user's request to move their email: one BatchGetItem.
#[derive(Debug, Clone)]
pub struct EmailChangeState {
    pub profile: Option<Profile>,
    /// The account the new address belongs to, if any.
    pub new_owner: Option<String>,
    /// Whether that account proved it (an unproven claim passes to whoever proves it).
    pub new_owner_proved: bool,
    pub code: OneTimeCode,
}

impl AccountStore {
    pub async fn load_email_change(
        &self,
        user: &UserId,
        new_email: &Email,
    ) -> Result<EmailChangeState, StoreError> {
        let (profile_key, credential_key) =
            (ItemKey::profile(user), ItemKey::credential(new_email));
        let kind = CodeKind::ChangeEmail { user, new_email };
        let (mut found, code) = OneTimeCode::read_with(
            &self.client,
            &self.table,
            kind,
            &[&profile_key, &credential_key],
        )
        .await?;
        Ok(EmailChangeState {
            profile: found
                .remove(&profile_key)
                .map(writable_profile)
                .transpose()?
                .flatten(),
            new_owner_proved: found.get(&credential_key).is_some_and(|c| {
                matches!(c.get("email_verified"), Some(AttributeValue::Bool(true)))
            }),
            new_owner: holder(found.remove(&credential_key)),
            code,
        })
    }
}
