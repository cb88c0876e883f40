//! An address belongs to whoever proves it. A sign-up with an address that another
//! account claimed but never proved takes the claim over, as Supabase Auth does for
//! unconfirmed users, in the sign-up's own transaction:
//! - an account with nothing but the claim (a sign-up by email, never proven) is
//!   deleted: its profile becomes the erasure's tombstone, so the change stream says
//!   `account.deleted`, and its consent log and audit entries go;
//! - an account with more and a proven number (a sign-up by phone) keeps all of it but
//!   the address: its profile loses the email (the stream says `email.changed`), its
//!   password moves under the account (`ItemKey::user_credential`) and it logs in by its
//!   number, and an audit entry says why;
//! - an account with more and no proven number keeps the claim: taking it would leave
//!   the account no way in. So does a claim whose code is live: its claimant may be
//!   typing it.
//!
//! Either way the earlier claim's pending code is deleted, and every write is conditioned
//! on what was read: the credential still the earlier account's and unproven, its profile
//! still the version read.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use domain::otp::{Challenge, Purpose};
use domain::privacy::ErasedBy;
use domain::{Actor, Email, Profile, ProfilePatch, Source, UserId, timestamp};

use crate::StoreError;
use crate::account_audit::{FieldChange, FieldChanges, audit_put};
use crate::accounts::{AccountStore, MOVED_AT};
use crate::batch::{batch_get, query_partition};
use crate::expr::Expression;
use crate::item::{Item, key_of, text};
use crate::keys::{AUDIT_PREFIX, CONSENT_LOG_PREFIX, ItemKey, OTP_PREFIX, PK, PROFILE_SK, SK};
use crate::privacy::{ERASED_AT, ERASED_BY};
use crate::profile_item::{ERASED, ERASURE, Guard, VERSION, live_profile, update_expression};
use crate::txn::{delete, put, update};

/// More items than this besides the profile, and the earlier account is kept: its
/// deletion must fit the sign-up's transaction.
const MAX_DELETED: usize = 40;

/// Who holds the claim on an address.
#[derive(Debug)]
pub(crate) enum Claim {
    Free,
    /// Proven by its account: nobody takes it.
    Proven,
    /// Unproven, with a live code: its claimant may be proving it; nobody takes it now.
    BeingProven,
    /// Unproven, but its account holds more than the claim and has no proven number:
    /// taking the address would leave it with no way in.
    Stranding,
    /// Unproven, on an account an operator disabled: it stands until they enable or
    /// erase the account.
    Disabled,
    Unproven(EarlierClaim),
}

/// An unproven claim as read, and what becomes of the account that made it.
#[derive(Debug)]
pub(crate) struct EarlierClaim {
    user: UserId,
    /// The credential as read: the new one replaces it only while it is unchanged.
    credential: Item,
    fate: Fate,
}

#[derive(Debug)]
enum Fate {
    /// No live profile (none, or an erasure under way): only the claim changes hands.
    ClaimOnly,
    /// Nothing but the claim: the profile of `version` becomes a tombstone and `others`
    /// go.
    Deleted { version: u64, others: Vec<ItemKey> },
    /// More than the claim: the profile of this version loses the address.
    Kept(Box<Profile>),
}

impl AccountStore {
    /// The claim on `email` at `now`, with what its account holds when it is unproven.
    /// `proven`: the taker proved the address, so a claimant's live code keeps nothing.
    pub(crate) async fn claim_on(
        &self,
        email: &Email,
        now: i64,
        proven: bool,
    ) -> Result<Claim, StoreError> {
        let key = ItemKey::credential(email);
        let code = ItemKey::email_challenge(email, Purpose::VerifyEmail);
        let mut found =
            batch_get(&self.client, &self.table, vec![key.clone(), code.clone()]).await?;
        let Some(credential) = found.remove(&key) else {
            return Ok(Claim::Free);
        };
        if matches!(
            credential.get("email_verified"),
            Some(AttributeValue::Bool(true))
        ) {
            return Ok(Claim::Proven);
        }
        // Its claimant may be proving it right now: a live code keeps it theirs, so nobody
        // deletes a sign-up while its holder types the code. A squatter's own codes to the
        // address are few (the address's hourly cap), so it keeps no claim for long.
        let challenge: Option<Challenge> = found
            .remove(&code)
            .map(serde_dynamo::from_item)
            .transpose()?;
        if !proven && challenge.is_some_and(|c| c.digest.is_some() && c.code_expires_at > now) {
            return Ok(Claim::BeingProven);
        }
        let user = text(&credential, "user_id")
            .and_then(|u| UserId::parse(u).ok())
            .ok_or_else(|| StoreError::Failed("a credential without its user".into()))?;
        let items =
            query_partition(&self.client, &self.table, &ItemKey::user_partition(&user)).await?;
        let (mut profile, mut others) = (None, Vec::new());
        for item in items {
            match text(&item, SK) {
                Some(PROFILE_SK) => profile = Some(item),
                Some(_) => others.push(item),
                None => {}
            }
        }
        // A user brought over by an import is a real account, however little it holds
        // here yet: it is never deleted for a claim.
        let imported = profile
            .as_ref()
            .is_some_and(|p| p.contains_key(crate::import::IMPORT_DIGEST));
        let fate = match profile.map(live_profile).transpose()?.flatten() {
            None => Fate::ClaimOnly,
            // The address answers as taken, as a proven one does.
            Some(profile) if profile.disabled_at.is_some() => return Ok(Claim::Disabled),
            Some(profile) if !imported && holds_only_the_claim(&profile, &others) => {
                Fate::Deleted {
                    version: profile.version,
                    others: others.iter().filter_map(key_of).collect(),
                }
            }
            // It logs in by its number, and keeps all it holds.
            Some(profile) if profile.phone_verified => Fate::Kept(Box::new(profile)),
            // Data (segments, partner identifiers, an image) and no other way in: without
            // the address nobody could reach it to use, change or erase it.
            Some(_) => return Ok(Claim::Stranding),
        };
        Ok(Claim::Unproven(EarlierClaim {
            user,
            credential,
            fate,
        }))
    }
}

/// Whether an account is nothing but its claim: no proven number, no image, and besides
/// its profile only its consent log, audit entries and codes, few enough to delete.
fn holds_only_the_claim(profile: &Profile, others: &[Item]) -> bool {
    let disposable = |item: &Item| {
        text(item, SK).is_some_and(|sk| {
            [CONSENT_LOG_PREFIX, AUDIT_PREFIX, OTP_PREFIX]
                .iter()
                .any(|prefix| sk.starts_with(prefix))
        })
    };
    !profile.phone_verified
        && profile.avatar_url.is_none()
        && others.len() <= MAX_DELETED
        && others.iter().all(disposable)
}

impl EarlierClaim {
    /// The condition of the new credential's put: the claim is still this account's,
    /// unproven, and unchanged since read (its password and grants included).
    pub(crate) fn condition(&self, e: &mut Expression) {
        let (owner, proven, version) =
            (e.name("user_id"), e.name("email_verified"), e.name(VERSION));
        let (me, yes) = (
            e.value(AttributeValue::S(self.user.as_str().to_owned())),
            e.value(AttributeValue::Bool(true)),
        );
        let as_read = match self.credential.get(VERSION) {
            Some(v) => format!("{version} = {}", e.value(v.clone())),
            None => format!("attribute_not_exists({version})"),
        };
        e.condition(format!(
            "{owner} = {me} AND (attribute_not_exists({proven}) OR {proven} <> {yes}) AND {as_read}"
        ));
    }

    /// What the earlier account's side of the takeover writes, besides the new
    /// credential: conditioned on its profile as read. `by` is the sign-up's actor, whose
    /// request the audit entry names.
    pub(crate) fn items(
        &self,
        table: &str,
        email: &Email,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let user = &self.user;
        // Its code stops working: whatever the earlier claimant was sent is gone.
        let code = ItemKey::email_challenge(email, Purpose::VerifyEmail);
        let mut items = vec![delete(table, &code, Expression::default())?];
        match &self.fate {
            Fate::ClaimOnly => {}
            Fate::Deleted { version, others } => {
                items.push(tombstone(table, user, *version, now)?);
                for key in others {
                    items.push(delete(table, key, Expression::default())?);
                }
            }
            Fate::Kept(profile) => {
                let guard = Guard::SeenVersion(profile.version);
                let mut p = update_expression(user, &ProfilePatch::default(), now, guard);
                let email_name = p.name("email");
                p.remove(email_name);
                items.push(update(table, &ItemKey::profile(user), p)?);
                items.push(self.credential_under_account(table, now)?);
                let changes = FieldChanges::from([(
                    "email".to_owned(),
                    FieldChange {
                        from: Some(profile.email.clone().into()),
                        to: serde_json::Value::Null,
                    },
                )]);
                // Who took the address is not this account's business: the entry names
                // the rule, and the request for support to follow.
                let actor = Actor {
                    source: Source::System,
                    actor: "unproven_address_taken_over".to_owned(),
                    request_id: by.request_id.clone(),
                };
                items.push(audit_put(table, user, &actor, now, &changes)?);
            }
        }
        Ok(items)
    }

    /// The earlier account's password and grants, moved under the account.
    fn credential_under_account(
        &self,
        table: &str,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut item = self.credential.clone();
        item.extend(ItemKey::user_credential(&self.user).to_item());
        item.insert(MOVED_AT.into(), AttributeValue::S(timestamp(now)));
        item.insert("email_verified".into(), AttributeValue::Bool(false));
        // An operator's grant went with the address it was given to.
        item.remove("scope");
        let mut e = Expression::default();
        let pk = e.name(PK);
        e.condition(format!("attribute_not_exists({pk})"));
        put(table, item, e)
    }
}

/// The profile of `version` as the erasure leaves it: the user id, when, and why.
fn tombstone(
    table: &str,
    user: &UserId,
    version: u64,
    now: DateTime<Utc>,
) -> Result<TransactWriteItem, StoreError> {
    let mut item = ItemKey::profile(user).to_item();
    let s = |v: &str| AttributeValue::S(v.to_owned());
    item.insert("user_id".into(), s(user.as_str()));
    item.insert(ERASURE.into(), s(ERASED));
    item.insert(ERASED_AT.into(), s(&timestamp(now)));
    item.insert(
        ERASED_BY.into(),
        s(&ErasedBy::UnprovenClaimTakenOver.label()),
    );
    let mut e = Expression::default();
    let (stored, erasure) = (e.name(VERSION), e.name(ERASURE));
    let read = e.value(AttributeValue::N(version.to_string()));
    e.condition(format!(
        "{stored} = {read} AND attribute_not_exists({erasure})"
    ));
    put(table, item, e)
}
