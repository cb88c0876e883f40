//! An account's erasure in the table. The profile item is marked `erasing`
//! first: from then on every read shows no profile and every write refuses
//! (`profile_item::ERASURE`). Then the account's items go, outside its partition first
//! (the credential and the phone marker, which name the account, the codes and send
//! logs of its addresses), then its sessions with their tokens, then the rest of its
//! partition in batches, and last the profile item becomes the tombstone. Every step
//! can be repeated: a retry after a crash starts again from the mark and deletes what is
//! left, and a uniqueness claim is deleted only while it still names this account.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use domain::otp::Purpose;
use domain::{Email, PhoneNumber, Profile, UserId};

use crate::StoreError;
use crate::accounts::Credential;
use crate::batch::{MAX_WRITES, batch_delete, batch_get};
use crate::codes::{CodeKind, CodeSlot, Destination, OneTimeCode};
use crate::expr::Expression;
use crate::item::{Item, get_consistent, key_of, text};
use crate::keys::{ItemKey, OTP_PREFIX, PK, SESSION_PREFIX, SK};
use crate::loyalty::card_from_item;
use crate::profile_item::{ERASED, ERASING, ERASURE, VERSION, live_profile};
use crate::txn::{Outcome, delete, transact, unless_condition_failed, update_item};

/// Attributes of a profile item being erased: who asked, when, and what the erasure
/// still needs (the addresses whose items it deletes, the loyalty member it hands on).
const ERASED_AT: &str = "erased_at";
const ERASED_BY: &str = "erased_by";
const ERASE_REQUEST: &str = "erase_request_id";
const EMAIL_HASH: &str = "email_hash";
const PHONE_HASH: &str = "phone_hash";
/// The loyalty platform's member of the account, kept on the tombstone until the
/// loyalty sync has anonymized it.
pub(crate) const LOYALTY_MEMBER: &str = "loyalty_member";

#[derive(Clone, Debug)]
pub struct PrivacyStore {
    pub(crate) client: Client,
    pub(crate) table: String,
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
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

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

    /// Deletes the items outside the account's partition: the credential and the
    /// phone marker while they name the account, and the codes and send logs of its
    /// addresses and of the addresses its pending codes went to.
    pub async fn erase_outside(&self, erasure: &Erasure) -> Result<(), StoreError> {
        let user = &erasure.user;
        let mut keys = Vec::new();
        let mut emails: Vec<Email> = erasure.email.iter().cloned().collect();
        let mut phones: Vec<PhoneNumber> = erasure.phone.iter().cloned().collect();
        for item in self.partition(user, OTP_PREFIX).await? {
            if let Some(target) = text(&item, "target") {
                if let Ok(phone) = PhoneNumber::parse(target) {
                    phones.push(phone);
                } else if let Ok(email) = Email::parse(target) {
                    emails.push(email);
                }
            }
        }
        // What the account owns goes: its claims, conditioned on naming it. An address's
        // verification code goes with the account's credential; a number's codes and send
        // caps only where the account proved the address or number (a verified credential,
        // an owner marker, which a number gets only once proven). The rest belongs to the
        // address or number:
        // a stranger's pending sign-up code, the caps that keep an unproven destination
        // from being texted or mailed without end. They expire by TTL. The claims go last,
        // so a repeated step reads them again.
        let mut claims = Vec::new();
        for email in &emails {
            let key = ItemKey::credential(email);
            let Some(credential) = self.claim_of(&key, user).await? else {
                continue;
            };
            keys.push(ItemKey::email_challenge(email, Purpose::VerifyEmail));
            if matches!(
                credential.get("email_verified"),
                Some(AttributeValue::Bool(true))
            ) {
                keys.push(ItemKey::email_sends(email));
            }
            claims.push(key);
        }
        for phone in &phones {
            let key = ItemKey::phone_owner(phone);
            if self.claim_of(&key, user).await?.is_some() {
                // Its own spent sign-up code, or one a stranger started for a number
                // whose every code goes to this account's holder.
                keys.push(ItemKey::phone_challenge(phone, Purpose::RegisterPhone));
                keys.push(ItemKey::phone_sends(phone));
                claims.push(key);
            }
        }
        keys.sort_by(|a, b| (&a.pk, &a.sk).cmp(&(&b.pk, &b.sk)));
        keys.dedup();
        for chunk in keys.chunks(MAX_WRITES) {
            batch_delete(&self.client, &self.table, chunk).await?;
        }
        for key in &claims {
            self.delete_claim(key, user).await?;
        }
        Ok(())
    }

    /// Ends and deletes every session with its two token items. Each session goes in
    /// one transaction conditioned on the token it names, so a refresh racing the
    /// erasure either lands before (and its token is deleted) or fails.
    pub async fn erase_sessions(&self, user: &UserId) -> Result<usize, StoreError> {
        let mut erased = 0;
        for session in self.partition(user, SESSION_PREFIX).await? {
            let Some(key) = key_of(&session) else {
                continue;
            };
            let mut e = Expression::default();
            let current_name = e.name("current");
            let mut items = Vec::new();
            match text(&session, "current").map(str::to_owned) {
                Some(current) => {
                    let seen = e.value(AttributeValue::S(current.clone()));
                    e.condition(format!("{current_name} = {seen}"));
                    items.push(delete(
                        &self.table,
                        &ItemKey::refresh_token(&current),
                        Expression::default(),
                    )?);
                }
                None => e.condition(format!("attribute_not_exists({current_name})")),
            }
            let superseded = match session.get("superseded") {
                Some(AttributeValue::L(list)) => {
                    list.iter().filter_map(|v| v.as_s().ok().cloned()).collect()
                }
                _ => Vec::new(),
            };
            for spent in text(&session, "previous")
                .map(str::to_owned)
                .into_iter()
                .chain(superseded)
            {
                items.push(delete(
                    &self.table,
                    &ItemKey::refresh_token(&spent),
                    Expression::default(),
                )?);
            }
            items.insert(0, delete(&self.table, &key, e)?);
            match transact(&self.client, items).await? {
                Outcome::Done => erased += 1,
                // A refresh moved the session meanwhile: the next pass deletes it.
                Outcome::FirstFailed(_) | Outcome::Failed(_) | Outcome::Conflict => {}
            }
        }
        Ok(erased)
    }

    /// Deletes one batch (at most 25) of the partition's items other than the profile
    /// item; `0` once nothing else is left. Sessions go through `erase_sessions`.
    pub async fn erase_batch(&self, user: &UserId) -> Result<usize, StoreError> {
        let profile = ItemKey::profile(user);
        let page = self.keys_page(user, MAX_WRITES as i32 + 1).send().await?;
        let keys: Vec<ItemKey> = page
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(key_of)
            .filter(|key| *key != profile)
            .take(MAX_WRITES)
            .collect();
        let mut deleted = 0;
        if keys.iter().any(|k| k.sk.starts_with(SESSION_PREFIX)) {
            deleted += self.erase_sessions(user).await?;
        }
        let others: Vec<ItemKey> = keys
            .iter()
            .filter(|k| !k.sk.starts_with(SESSION_PREFIX))
            .cloned()
            .collect();
        if !others.is_empty() {
            batch_delete(&self.client, &self.table, &others).await?;
            deleted += others.len();
        }
        if deleted == 0 && !keys.is_empty() {
            // Only sessions left, and each moved under us: let the client retry later
            // rather than spin.
            return Err(StoreError::Unavailable("sessions kept changing".into()));
        }
        Ok(keys.len())
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
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(tombstone))
            .condition_expression("#erasure = :erasing")
            .expression_attribute_names("#erasure", ERASURE)
            .expression_attribute_values(":erasing", AttributeValue::S(ERASING.to_owned()))
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

    /// A uniqueness claim deleted only while it names `user`.
    /// The claim at `key` (a credential, a number's owner marker) if it names `user`.
    async fn claim_of(&self, key: &ItemKey, user: &UserId) -> Result<Option<Item>, StoreError> {
        let item = get_consistent(&self.client, &self.table, key).await?;
        Ok(item.filter(|claim| text(claim, "user_id") == Some(user.as_str())))
    }

    /// Deletes the claim at `key` if it still names `user`.
    async fn delete_claim(&self, key: &ItemKey, user: &UserId) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key.to_item()))
            .condition_expression("#owner = :user")
            .expression_attribute_names("#owner", "user_id")
            .expression_attribute_values(":user", AttributeValue::S(user.as_str().to_owned()))
            .send()
            .await;
        crate::txn::unless_condition_failed(result)
    }

    /// The keys of the first `limit` items of `user`'s partition, strongly consistent.
    fn keys_page(
        &self,
        user: &UserId,
        limit: i32,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", AttributeValue::S(ItemKey::user_partition(user)))
            .projection_expression("#pk, #sk")
            .consistent_read(true)
            .limit(limit)
    }

    /// The user's items whose sort key starts with `prefix` (all of them for `""`),
    /// strongly consistent, every page.
    pub(crate) async fn partition(
        &self,
        user: &UserId,
        prefix: &str,
    ) -> Result<Vec<Item>, StoreError> {
        if prefix.is_empty() {
            // DynamoDB refuses an empty string in a key condition.
            let pk = ItemKey::user_partition(user);
            return crate::batch::query_partition(&self.client, &self.table, &pk).await;
        }
        crate::batch::all_pages(
            crate::batch::user_prefix_query(&self.client, &self.table, user, prefix)
                .consistent_read(true),
        )
        .await
    }
}

/// What the proof of an erasure is judged against, as read.
#[derive(Debug, Clone)]
pub struct ProofState {
    /// The account's credential (its password, whether its email is verified).
    pub credential: Option<Credential>,
    /// The erasure code as it would go to the phone, and to the email.
    by_phone: Option<OneTimeCode>,
    by_email: Option<OneTimeCode>,
}

impl ProofState {
    /// The erasure code as read for `to`, if `to` was one of the destinations read.
    pub fn code(&self, to: Destination<'_>) -> Option<&OneTimeCode> {
        match to {
            Destination::Phone(_) => self.by_phone.as_ref(),
            Destination::Email(_) => self.by_email.as_ref(),
        }
    }
}

impl PrivacyStore {
    /// The credential of `email` and the erasure code's items (the challenge, the send
    /// logs of the phone and the email it may go to): one consistent BatchGetItem. The
    /// credential counts only if it is `user`'s.
    pub async fn load_proof(
        &self,
        user: &UserId,
        email: Option<&Email>,
        phone: Option<&PhoneNumber>,
    ) -> Result<ProofState, StoreError> {
        let kind = |to| CodeKind::EraseAccount { user, to };
        let by_phone = phone.map(|p| kind(Destination::Phone(p)).slot());
        let by_email = email.map(|e| kind(Destination::Email(e)).slot());
        let credential_key = email.map(ItemKey::credential);
        let mut keys: Vec<ItemKey> = credential_key.iter().cloned().collect();
        for key in by_phone.iter().chain(&by_email).flat_map(CodeSlot::keys) {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        let found = batch_get(&self.client, &self.table, keys).await?;
        let credential: Option<Credential> = credential_key
            .and_then(|k| found.get(&k).cloned())
            .map(serde_dynamo::from_item)
            .transpose()?;
        // Both slots share the user's challenge: each takes from its own copy.
        let code = |slot: Option<CodeSlot>| {
            slot.map(|slot| OneTimeCode::take(&self.client, &self.table, slot, &mut found.clone()))
                .transpose()
        };
        Ok(ProofState {
            credential: credential.filter(|c| c.user_id == user.as_str()),
            by_phone: code(by_phone)?,
            by_email: code(by_email)?,
        })
    }
}
