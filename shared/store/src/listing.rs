//! Every live profile, newest first, a page at a time, without a scan: one Query per
//! partition of the `ByCreation` index (in parallel, each at most a page long), merged,
//! then one BatchGetItem of the page's profiles. The cursor holds where each partition
//! stands, so each profile is shown once across the pages.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use domain::{Profile, UserId};
use futures_util::future::try_join_all;
use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::item::{Item, text};
use crate::keys::{
    LIST_INDEX, LIST_SHARD, LIST_SORT, PK, PROFILE_SK, SK, USER_PREFIX, list_shard, list_shards,
};
use crate::profile_item::{ERASURE, VERSION};
use crate::profiles::ProfileStore;

/// At most this many profiles a page.
pub const MAX_PAGE: usize = 100;

/// Where one partition stands: after this profile, or done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
enum Position {
    After { user: String, created_at: String },
    Done(bool),
}

/// Where every partition stands, as the page before left them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor(BTreeMap<String, Position>);

impl Cursor {
    fn parse(raw: &str) -> Result<Self, String> {
        let refused = || "is not a cursor a page of this list returned".to_owned();
        let bytes = B64.decode(raw).map_err(|_| refused())?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| refused())?;
        let shards: Vec<String> = list_shards().collect();
        let known = cursor.0.keys().all(|s| shards.contains(s));
        let sane = cursor.0.values().all(|p| match p {
            Position::After { user, created_at } => {
                UserId::parse(user).is_ok()
                    && chrono::DateTime::parse_from_rfc3339(created_at).is_ok()
            }
            Position::Done(done) => *done,
        });
        if known && sane {
            Ok(cursor)
        } else {
            Err(refused())
        }
    }

    fn encode(&self) -> String {
        B64.encode(serde_json::to_vec(self).expect("a cursor serializes"))
    }
}

/// One page: the profiles, and the cursor of the next page (`None`: this is the last).
#[derive(Debug)]
pub struct ProfilePage {
    pub profiles: Vec<Profile>,
    pub next: Option<String>,
}

/// A profile's place in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    shard: String,
    user: String,
    created_at: String,
}

impl ProfileStore {
    /// Up to `limit` profiles after `cursor` (`None`: from the newest). `Err` with a
    /// message: the cursor is not one this list returned.
    pub async fn page(
        &self,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Result<ProfilePage, String>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let mut cursor = match cursor.map(Cursor::parse).transpose() {
            Ok(cursor) => cursor.unwrap_or_default(),
            Err(message) => return Ok(Err(message)),
        };
        let reads = list_shards().map(|shard| {
            let position = cursor.0.get(&shard).cloned();
            async move {
                match position {
                    Some(Position::Done(_)) => Ok::<_, StoreError>(None),
                    position => self.read_shard(shard, position, limit).await.map(Some),
                }
            }
        });
        let read: Vec<Shard> = try_join_all(reads).await?.into_iter().flatten().collect();
        let entries = newest_first(&read, limit);
        for shard in &read {
            let shown = entries.iter().filter(|e| e.shard == shard.name).count();
            if let Some(last) = entries.iter().rev().find(|e| e.shard == shard.name) {
                cursor.0.insert(
                    shard.name.clone(),
                    Position::After {
                        user: last.user.clone(),
                        created_at: last.created_at.clone(),
                    },
                );
            }
            // Read to its end, and all it read is on this page.
            if !shard.more && shown == shard.entries.len() {
                cursor.0.insert(shard.name.clone(), Position::Done(true));
            }
        }
        let done = list_shards().all(|s| matches!(cursor.0.get(&s), Some(Position::Done(_))));
        let users: Vec<UserId> = entries
            .iter()
            .filter_map(|e| UserId::parse(&e.user).ok())
            .collect();
        let mut found = self.get_many(&users).await?;
        // An account erased since the index was read is no longer there to show.
        let profiles = users.iter().filter_map(|u| found.remove(u)).collect();
        Ok(Ok(ProfilePage {
            profiles,
            next: (!done).then(|| cursor.encode()),
        }))
    }

    /// Puts every live profile written before the index existed into it, at its
    /// creation time: one Scan of the table (an operator's one-off, `profilectl user
    /// index-backfill`), then one conditional write per profile. Returns how many it
    /// added or put back in place.
    pub async fn backfill_index(&self) -> Result<usize, StoreError> {
        let mut added = 0;
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression(
                    "#sk = :profile AND attribute_not_exists(#erasure) AND \
                     (attribute_not_exists(#shard) OR attribute_not_exists(#listed) \
                     OR #listed <> #created)",
                )
                .projection_expression("#pk, #created")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_names("#shard", LIST_SHARD)
                .expression_attribute_names("#listed", LIST_SORT)
                .expression_attribute_names("#created", "created_at")
                .expression_attribute_names("#erasure", ERASURE)
                .expression_attribute_values(":profile", AttributeValue::S(PROFILE_SK.to_owned()))
                .set_exclusive_start_key(start)
                .send()
                .await?;
            for item in out.items.unwrap_or_default() {
                let Some(user) = text(&item, PK)
                    .and_then(|pk| pk.strip_prefix(USER_PREFIX))
                    .and_then(|u| UserId::parse(u).ok())
                else {
                    continue;
                };
                let Some(created) = text(&item, "created_at") else {
                    continue;
                };
                let mut e = crate::expr::Expression::default();
                e.set(LIST_SHARD, AttributeValue::S(list_shard(&user)));
                e.set(LIST_SORT, AttributeValue::S(created.to_owned()));
                let (version, erasure) = (e.name(VERSION), e.name(ERASURE));
                e.condition(format!(
                    "attribute_exists({version}) AND attribute_not_exists({erasure})"
                ));
                let sent = crate::txn::update_item(
                    &self.client,
                    &self.table,
                    &crate::keys::ItemKey::profile(&user),
                    e,
                )
                .send()
                .await;
                if crate::txn::none_if_condition_failed(sent)?.is_some() {
                    added += 1;
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(added);
            }
        }
    }

    /// Up to `limit` entries of `shard` after `position`, newest first.
    async fn read_shard(
        &self,
        shard: String,
        position: Option<Position>,
        limit: usize,
    ) -> Result<Shard, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(LIST_INDEX)
            .key_condition_expression("#shard = :shard")
            .expression_attribute_names("#shard", LIST_SHARD)
            .expression_attribute_values(":shard", AttributeValue::S(shard.clone()))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX));
        if let Some(Position::After { user, created_at }) = &position {
            let start: Item = [
                (
                    PK.to_owned(),
                    AttributeValue::S(format!("{USER_PREFIX}{user}")),
                ),
                (SK.to_owned(), AttributeValue::S(PROFILE_SK.to_owned())),
                (LIST_SHARD.to_owned(), AttributeValue::S(shard.clone())),
                (LIST_SORT.to_owned(), AttributeValue::S(created_at.clone())),
            ]
            .into();
            query = query.set_exclusive_start_key(Some(start));
        }
        let out = query.send().await?;
        let entries = out
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| {
                let user = text(item, PK)?.strip_prefix(USER_PREFIX)?.to_owned();
                let created_at = text(item, LIST_SORT)?.to_owned();
                Some(Entry {
                    shard: shard.clone(),
                    user,
                    created_at,
                })
            })
            .collect();
        Ok(Shard {
            name: shard,
            entries,
            more: out.last_evaluated_key.is_some(),
        })
    }
}

/// What one partition's read found, and whether it has more after it.
struct Shard {
    name: String,
    entries: Vec<Entry>,
    more: bool,
}

/// The newest `limit` entries of the partitions read: each partition's entries stay in
/// the order it gave them (the index orders equal times as it will), so a partition's
/// position is always after a prefix of what it returned.
fn newest_first(read: &[Shard], limit: usize) -> Vec<Entry> {
    let mut heads = vec![0usize; read.len()];
    let mut out = Vec::new();
    while out.len() < limit {
        let next = read
            .iter()
            .enumerate()
            .filter_map(|(i, shard)| shard.entries.get(heads[i]).map(|e| (i, e)))
            .max_by(|(i, a), (j, b)| a.created_at.cmp(&b.created_at).then(j.cmp(i)));
        let Some((i, entry)) = next else { break };
        out.push(entry.clone());
        heads[i] += 1;
    }
    out
}
