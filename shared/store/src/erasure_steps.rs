//! An erasure's steps after the mark: the account's items outside its partition (the
//! credential and the phone marker, which name the account, the codes and send logs of
//! its addresses), then its sessions with their tokens, then the rest of its partition in
//! batches. Every step can be repeated, and a uniqueness claim is deleted only while it
//! still names this account.

use aws_sdk_dynamodb::types::AttributeValue;
use domain::otp::Purpose;
use domain::{Email, PhoneNumber, UserId};

use crate::StoreError;
use crate::batch::{MAX_WRITES, batch_delete};
use crate::expr::Expression;
use crate::item::{Item, get_consistent, key_of, text};
use crate::keys::{ItemKey, OTP_PREFIX, PASSKEY_PREFIX, PK, SESSION_PREFIX, SK};
use crate::txn::{Outcome, delete, transact};

use crate::privacy::{Erasure, PrivacyStore};

impl PrivacyStore {
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
                keys.push(ItemKey::email_holder_sends(email));
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
                keys.push(ItemKey::phone_holder_sends(phone));
                claims.push(key);
            }
        }
        // Its passkeys' owner markers, while they name it.
        for item in self.partition(user, PASSKEY_PREFIX).await? {
            if let Some(credential) = text(&item, SK).and_then(|sk| sk.strip_prefix(PASSKEY_PREFIX))
            {
                claims.push(ItemKey::passkey_owner(credential));
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
                Outcome::FirstFailed(_) | Outcome::Failed(..) | Outcome::Conflict => {}
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

    /// A uniqueness claim deleted only while it names `user`.
    /// The claim at `key` (a credential, a number's owner marker) if it names `user`.
    async fn claim_of(&self, key: &ItemKey, user: &UserId) -> Result<Option<Item>, StoreError> {
        let item = get_consistent(&self.client, &self.table, key).await?;
        Ok(item.filter(|claim| text(claim, "user_id") == Some(user.as_str())))
    }

    /// Deletes the claim at `key` if it still names `user`.
    async fn delete_claim(&self, key: &ItemKey, user: &UserId) -> Result<(), StoreError> {
        let mut e = Expression::default();
        let (owner, me) = (
            e.name("user_id"),
            e.value(AttributeValue::S(user.as_str().to_owned())),
        );
        e.condition(format!("{owner} = {me}"));
        let result = crate::txn::delete_item(&self.client, &self.table, key, e)
            .send()
            .await;
        crate::txn::unless_condition_failed(result)
    }

    /// The keys of the first `limit` items of `user`'s partition, strongly consistent.
    pub(crate) fn keys_page(
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
