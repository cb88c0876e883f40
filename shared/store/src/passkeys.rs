//! Passkeys' items: each passkey in its account's partition (`PASSKEY#<credential id>`:
//! the crate's serialized credential, when it was added and last used), the credential's
//! owner marker (`PASSKEY#<credential id>` / `OWNER`), since a passkey login knows only
//! the credential, and a ceremony's state between its options and its answer
//! (`WEBAUTHN#<id>` / `CEREMONY`, five minutes, taken once). The account's sign-in item
//! counts its passkeys, so step-up knows it has a factor from the read it makes anyway.
//!
//! The credential is stored as the WebAuthn crate serialized it: this layer keeps it
//! opaque.

use aws_sdk_dynamodb::types::ReturnValue;
use domain::mfa::CHALLENGE_LIFETIME_SECS;
use domain::{Actor, UserId};
use serde_json::json;

use crate::StoreError;
use crate::account_audit::audit_note;
use crate::batch::{all_pages, user_prefix_query};
use crate::expr::Expression;
use crate::item::{Item, get_consistent, n, number, rfc3339, s, text};
use crate::keys::{ItemKey, PASSKEY_PREFIX, PK, SK, TTL_ATTRIBUTE};
use crate::mfa::MfaStore;
use crate::profile_item::{unusable, usable};
use crate::session_epoch::{PASSKEYS, still_signed_in};
use crate::session_item::{NewSession, open_items};
use crate::txn::{Tagged, Verdict, condition_check, delete, delete_item, put, update};

/// At most this many passkeys per account.
pub const MAX_PASSKEYS: u32 = 10;
const CREDENTIAL: &str = "credential";
const CREATED_AT: &str = "created_at";
const LAST_USED_AT: &str = "last_used_at";

/// A passkey as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    /// The credential id, base64url.
    pub id: String,
    /// The WebAuthn crate's serialized credential (public key, counter, flags).
    pub credential: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

fn passkey_of(item: &Item) -> Option<StoredPasskey> {
    Some(StoredPasskey {
        id: text(item, SK)?.strip_prefix(PASSKEY_PREFIX)?.to_owned(),
        credential: text(item, CREDENTIAL)?.to_owned(),
        created_at: number(item, CREATED_AT).unwrap_or_default(),
        last_used_at: number(item, LAST_USED_AT),
    })
}

/// The passkey as an export shows it: its id and dates, never the key material.
pub(crate) fn exported(item: &Item) -> Option<serde_json::Value> {
    let passkey = passkey_of(item)?;
    Some(json!({
        "id": passkey.id,
        "created_at": rfc3339(passkey.created_at),
        "last_used_at": passkey.last_used_at.map(rfc3339),
    }))
}

/// `passkey.added` when a passkey's item appears, `passkey.removed` when it goes (an
/// erasure's removals come before its `account.deleted`). Only the credential id.
pub(crate) fn changes(
    sk: &str,
    old: Option<&Item>,
    new: Option<&Item>,
) -> Vec<domain::events::Change> {
    use domain::events::{Aggregate, Change, EventType};
    let id = sk.strip_prefix(PASSKEY_PREFIX).unwrap_or_default();
    let event = match (old, new) {
        (None, Some(_)) => EventType::PasskeyAdded,
        (Some(_), None) => EventType::PasskeyRemoved,
        _ => return Vec::new(),
    };
    vec![Change {
        event_type: event,
        aggregate: Aggregate::Passkey,
        data: json!({ "passkey_id": id }),
    }]
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Guard {
    Passkey,
    Owner,
    Count,
    Account,
    Other,
}

/// How adding a passkey went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Done,
    /// The credential is registered already (to this account or another).
    Exists,
    /// The account has `MAX_PASSKEYS`.
    TooMany,
}

/// How a passkey login's write went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyLogin {
    Opened,
    /// The passkey was removed, or used by another login, meanwhile.
    PasskeyChanged,
    /// The account signed out everywhere, or was disabled or erased, meanwhile.
    Refused,
}

impl MfaStore {
    /// Stores a ceremony's state for five minutes: `kind` names the ceremony, `user` the
    /// account a registration is for.
    pub async fn begin_ceremony(
        &self,
        id: &str,
        kind: &str,
        user: Option<&UserId>,
        state: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut item = Item::from([
            ("kind".to_owned(), s(kind)),
            ("state".to_owned(), s(state)),
            (TTL_ATTRIBUTE.to_owned(), n(now + CHALLENGE_LIFETIME_SECS)),
        ]);
        if let Some(user) = user {
            item.insert("user_id".to_owned(), s(user.as_str()));
        }
        item.extend(ItemKey::ceremony(id).to_item());
        let mut e = Expression::default();
        let pk = e.name(PK);
        e.condition(format!("attribute_not_exists({pk})"));
        crate::txn::put_item(&self.client, &self.table, item, e)
            .send()
            .await?;
        Ok(())
    }

    /// Takes a ceremony's state, once: `None` when it is unknown, expired, taken, of
    /// another kind or of another account.
    pub async fn take_ceremony(
        &self,
        id: &str,
        kind: &str,
        user: Option<&UserId>,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let mut e = Expression::default();
        let (pk, kind_n, expires) = (e.name(PK), e.name("kind"), e.name(TTL_ATTRIBUTE));
        let (kind_v, now_v) = (e.value(s(kind)), e.value(n(now)));
        e.condition(format!(
            "attribute_exists({pk}) AND {kind_n} = {kind_v} AND {expires} > {now_v}"
        ));
        let owner = e.name("user_id");
        match user {
            Some(user) => {
                let me = e.value(s(user.as_str()));
                e.condition(format!("{owner} = {me}"));
            }
            None => e.condition(format!("attribute_not_exists({owner})")),
        }
        let out = delete_item(&self.client, &self.table, &ItemKey::ceremony(id), e)
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        Ok(crate::txn::none_if_condition_failed(out)?
            .and_then(|o| o.attributes)
            .and_then(|a| text(&a, "state").map(str::to_owned)))
    }

    /// The account's passkeys, oldest first.
    pub async fn passkeys(&self, user: &UserId) -> Result<Vec<StoredPasskey>, StoreError> {
        let items = all_pages(
            user_prefix_query(&self.client, &self.table, user, PASSKEY_PREFIX)
                .consistent_read(true),
        )
        .await?;
        let mut keys: Vec<StoredPasskey> = items.iter().filter_map(passkey_of).collect();
        keys.sort_by_key(|k| (k.created_at, k.id.clone()));
        Ok(keys)
    }

    /// The account a credential id belongs to.
    pub async fn passkey_owner(&self, credential: &str) -> Result<Option<UserId>, StoreError> {
        let item = get_consistent(
            &self.client,
            &self.table,
            &ItemKey::passkey_owner(credential),
        )
        .await?;
        Ok(item
            .as_ref()
            .and_then(|i| text(i, "user_id"))
            .and_then(|u| UserId::parse(u).ok()))
    }

    pub async fn passkey(
        &self,
        user: &UserId,
        credential: &str,
    ) -> Result<Option<StoredPasskey>, StoreError> {
        let item = get_consistent(
            &self.client,
            &self.table,
            &ItemKey::passkey(user, credential),
        )
        .await?;
        Ok(item.as_ref().and_then(passkey_of))
    }

    /// Adds a passkey: its item, its owner marker and the account's count, with the audit
    /// entry, in one transaction, on a usable account.
    pub async fn add_passkey(
        &self,
        user: &UserId,
        passkey: &StoredPasskey,
        actor: &Actor,
        now: i64,
    ) -> Result<Added, StoreError> {
        let mut item = Item::from([
            (CREDENTIAL.to_owned(), s(&passkey.credential)),
            (CREATED_AT.to_owned(), n(now)),
            // The `passkey` aggregate's version: 1 added, 2 removed.
            ("version".to_owned(), n(1)),
        ]);
        item.extend(ItemKey::passkey(user, &passkey.id).to_item());
        let mut owner = Item::from([("user_id".to_owned(), s(user.as_str()))]);
        owner.extend(ItemKey::passkey_owner(&passkey.id).to_item());
        let new = |_: ()| {
            let mut e = Expression::default();
            let pk = e.name(PK);
            e.condition(format!("attribute_not_exists({pk})"));
            e
        };
        let mut count = Expression::default();
        let (counted, zero, one, max) = (
            count.name(PASSKEYS),
            count.value(n(0)),
            count.value(n(1)),
            count.value(n(MAX_PASSKEYS)),
        );
        count.condition(format!(
            "attribute_not_exists({counted}) OR {counted} < {max}"
        ));
        count.set_raw(
            counted.clone(),
            format!("if_not_exists({counted}, {zero}) + {one}"),
        );
        let mut txn = Tagged::new();
        txn.push(Guard::Passkey, put(&self.table, item, new(()))?);
        txn.push(Guard::Owner, put(&self.table, owner, new(()))?);
        self.account_side(&mut txn, user, count, (actor, now, "added"))?;
        match txn.send_reading(&self.client).await? {
            (Verdict::Done, _) => Ok(Added::Done),
            (Verdict::Refused(Guard::Passkey | Guard::Owner), _) => Ok(Added::Exists),
            (Verdict::Refused(Guard::Count), _) => Ok(Added::TooMany),
            (Verdict::Refused(Guard::Account), old) => Err(unusable(old.as_ref())),
            (Verdict::Refused(Guard::Other) | Verdict::Conflict, _) => {
                Err(StoreError::Unavailable("the passkeys kept changing".into()))
            }
        }
    }

    /// What adding and removing a passkey write on the account's side: its passkey count
    /// (`count`), the condition that it is usable, and the audit note of `what`.
    fn account_side(
        &self,
        txn: &mut Tagged<Guard>,
        user: &UserId,
        count: Expression,
        (actor, now, what): (&Actor, i64, &str),
    ) -> Result<(), StoreError> {
        let mut account = Expression::default();
        usable(&mut account);
        txn.push(
            Guard::Count,
            update(&self.table, &ItemKey::sessions(user), count)?,
        );
        txn.push(
            Guard::Account,
            condition_check(&self.table, &ItemKey::profile(user), account)?,
        );
        txn.push(
            Guard::Other,
            audit_note(&self.table, user, actor, now, "mfa.passkey", what)?,
        );
        Ok(())
    }

    /// Removes a passkey of the account; `false` when it has none with this id.
    pub async fn remove_passkey(
        &self,
        user: &UserId,
        credential: &str,
        actor: &Actor,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut item = Expression::default();
        let pk = item.name(PK);
        item.condition(format!("attribute_exists({pk})"));
        let mut owner = Expression::default();
        let (owner_n, me) = (owner.name("user_id"), owner.value(s(user.as_str())));
        owner.condition(format!("{owner_n} = {me}"));
        let mut count = Expression::default();
        let (counted, one) = (count.name(PASSKEYS), count.value(n(1)));
        count.set_raw(counted.clone(), format!("{counted} - {one}"));
        let mut txn = Tagged::new();
        txn.push(
            Guard::Passkey,
            delete(&self.table, &ItemKey::passkey(user, credential), item)?,
        );
        txn.push(
            Guard::Owner,
            delete(&self.table, &ItemKey::passkey_owner(credential), owner)?,
        );
        self.account_side(&mut txn, user, count, (actor, now, "removed"))?;
        match txn.send_reading(&self.client).await? {
            (Verdict::Done, _) => Ok(true),
            (Verdict::Refused(Guard::Passkey | Guard::Owner), _) => Ok(false),
            (Verdict::Refused(Guard::Account), old) => Err(unusable(old.as_ref())),
            (Verdict::Refused(_) | Verdict::Conflict, _) => {
                Err(StoreError::Unavailable("the passkeys kept changing".into()))
            }
        }
    }

    /// A passkey login: the credential as the ceremony left it (its counter moved on)
    /// replaces the one read, and the session opens, in one transaction, while the
    /// passkey is as read and the account is usable and of the generation read.
    pub async fn open_with_passkey(
        &self,
        session: &NewSession<'_>,
        read: &StoredPasskey,
        updated: &str,
    ) -> Result<PasskeyLogin, StoreError> {
        let mut passkey = Expression::default();
        let (cred, was) = (passkey.name(CREDENTIAL), passkey.value(s(&read.credential)));
        passkey.condition(format!("{cred} = {was}"));
        passkey.set(CREDENTIAL, s(updated));
        passkey.set(LAST_USED_AT, n(session.now));
        let mut txn = Tagged::new();
        txn.push(
            Guard::Passkey,
            update(
                &self.table,
                &ItemKey::passkey(session.user, &read.id),
                passkey,
            )?,
        );
        txn.extend(Guard::Other, open_items(&self.table, session)?);
        txn.extend(
            Guard::Account,
            still_signed_in(&self.table, session.user, session.generation)?,
        );
        Ok(match txn.send(&self.client).await? {
            Verdict::Done => PasskeyLogin::Opened,
            Verdict::Refused(Guard::Passkey) => PasskeyLogin::PasskeyChanged,
            Verdict::Refused(_) => PasskeyLogin::Refused,
            Verdict::Conflict => {
                return Err(StoreError::Unavailable(
                    "the passkey login kept racing".into(),
                ));
            }
        })
    }
}
