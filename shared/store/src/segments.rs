//! The segment catalog and memberships.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};

use crate::StoreError;
use crate::batch::{MAX_KEYS, batch_get, query_partition, user_prefix_query};
use crate::expr::Expression;
use crate::item::Item;
use crate::keys::{ItemKey, PK, SEGMENT_PREFIX};
use crate::profile_item::{VERSION, unusable, usable};
use crate::txn::{Tagged, Verdict, condition_check, update};
use domain::{Segment, SegmentId, UserId, sort_segments, timestamp};

/// The items of a self-assignment, by what each guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The segment exists and takes self-assignment.
    Segment,
    Membership,
    /// The account is not being erased.
    Account,
}

crate::table_store! {
    #[derive(Clone, Debug)]
    SegmentStore
}

#[derive(Debug, thiserror::Error)]
pub enum AssignError {
    #[error("no such segment")]
    Unknown,
    #[error("the segment is not self-assignable")]
    NotSelfAssignable,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SegmentStore {
    /// Creates or replaces a catalog entry; `true` when it was new.
    pub async fn put(&self, segment: &Segment, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut item: Item = serde_dynamo::to_item(segment)?;
        item.insert("updated_at".into(), AttributeValue::S(timestamp(now)));
        item.extend(ItemKey::segment(segment.segment_id).to_item());
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_values(ReturnValue::AllOld)
            .send()
            .await?;
        Ok(out.attributes.is_none())
    }

    /// The whole catalog, in user order: one Query (more only past 1 MB).
    pub async fn catalog(&self) -> Result<Vec<Segment>, StoreError> {
        let items =
            query_partition(&self.client, &self.table, ItemKey::segments_partition()).await?;
        let mut segments = items
            .into_iter()
            .map(serde_dynamo::from_item)
            .collect::<Result<Vec<Segment>, _>>()?;
        sort_segments(&mut segments);
        Ok(segments)
    }

    /// The user's segments in priority order: a Query of memberships, then one
    /// BatchGetItem of their catalog entries.
    pub async fn of_user(&self, user: &UserId) -> Result<Vec<Segment>, StoreError> {
        let out = user_prefix_query(&self.client, &self.table, user, SEGMENT_PREFIX)
            .projection_expression("segment_id")
            .consistent_read(true)
            .send()
            .await?;
        let ids: Vec<SegmentId> = out
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|item| {
                serde_dynamo::from_attribute_value(item.get("segment_id")?.clone()).ok()
            })
            .collect();
        let mut segments = Vec::new();
        for chunk in ids.chunks(MAX_KEYS) {
            let keys = chunk.iter().map(|id| ItemKey::segment(*id)).collect();
            let found: HashMap<ItemKey, Item> = batch_get(&self.client, &self.table, keys).await?;
            for item in found.into_values() {
                segments.push(serde_dynamo::from_item(item)?);
            }
        }
        sort_segments(&mut segments);
        Ok(segments)
    }

    /// Adds the user to a self-assignable segment; idempotent. One transaction: the
    /// catalog entry's condition and the membership write.
    pub async fn assign_self(
        &self,
        user: &UserId,
        id: SegmentId,
        now: DateTime<Utc>,
    ) -> Result<(), AssignError> {
        let mut check = Expression::default();
        let (pk, flag) = (check.name(PK), check.name("self_assignable"));
        let yes = check.value(AttributeValue::Bool(true));
        check.condition(format!("attribute_exists({pk}) AND {flag} = {yes}"));

        let mut membership = Expression::default();
        membership.set("segment_id", AttributeValue::N(id.get().to_string()));
        let assigned = membership.name("assigned_at");
        let now_v = membership.value(AttributeValue::S(timestamp(now)));
        membership.set_raw(
            assigned.clone(),
            format!("if_not_exists({assigned}, {now_v})"),
        );
        // A membership changes once, when it begins: its version is 1 from then on.
        let version = membership.name(VERSION);
        let first = membership.value(AttributeValue::N("1".into()));
        membership.set_raw(
            version.clone(),
            format!("if_not_exists({version}, {first})"),
        );

        // An erased or disabled account gets nothing, even from a token still valid.
        let mut alive = Expression::default();
        usable(&mut alive);
        let mut items = Tagged::new();
        items.push(
            Part::Segment,
            condition_check(&self.table, &ItemKey::segment(id), check)?,
        );
        items.push(
            Part::Membership,
            update(&self.table, &ItemKey::membership(user, id), membership)?,
        );
        items.push(
            Part::Account,
            condition_check(&self.table, &ItemKey::profile(user), alive)?,
        );
        match items.send_reading(&self.client).await? {
            (Verdict::Done, _) => Ok(()),
            // DynamoDB returns the old item only when there is one.
            (Verdict::Refused(Part::Segment), Some(_)) => Err(AssignError::NotSelfAssignable),
            (Verdict::Refused(Part::Segment), None) => Err(AssignError::Unknown),
            (Verdict::Refused(Part::Account), old) => Err(unusable(old.as_ref()).into()),
            (Verdict::Refused(Part::Membership) | Verdict::Conflict, _) => {
                Err(StoreError::Unavailable("segment assignment raced".into()).into())
            }
        }
    }
}
