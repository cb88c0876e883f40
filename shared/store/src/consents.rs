//! Consent routes' reads and writes. Consents live on the user's profile item, so the
//! profile's booleans and GET /users/consents are one read each; every change writes its
//! audit entry in the same transaction as the change.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use domain::{Actor, Channel, Clock, ConsentChange, ConsentStatus, Consents, ProfilePatch, UserId};
use serde::Serialize;

use crate::StoreError;
use crate::batch::user_prefix_query;
use crate::consent_item::{AuditEntry, attribute, consents_from_item};
use crate::expr::Expression;
use crate::keys::{CONSENT_LOG_PREFIX, ItemKey, MAX_SORT_KEY_BYTES, SK};
use crate::profile_item::{DISABLED_AT, Existence, PatchError};
use crate::profiles::ProfileStore;

pub const MAX_HISTORY_PAGE: usize = 100;

/// A page of history, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryPage {
    pub items: Vec<AuditEntry>,
    /// Pass as `cursor` for the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("the cursor is not one this service issued")]
    BadCursor,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ProfileStore {
    /// One GetItem of the consent attributes, as the holder reads them: `Disabled` once
    /// an operator disabled the account.
    pub async fn consents(&self, user: &UserId) -> Result<Consents, StoreError> {
        let mut e = Expression::default();
        let mut projection: Vec<String> = Channel::ALL
            .iter()
            .map(|c| e.name(&attribute(*c)))
            .collect();
        projection.push(e.name(DISABLED_AT));
        let built = e.build();
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(ItemKey::profile(user).to_item()))
            .projection_expression(projection.join(", "))
            .set_expression_attribute_names(Some(built.names))
            .consistent_read(true)
            .send()
            .await?;
        if out
            .item
            .as_ref()
            .is_some_and(|i| i.contains_key(DISABLED_AT))
        {
            return Err(StoreError::Disabled);
        }
        Ok(out
            .item
            .as_ref()
            .map(consents_from_item)
            .unwrap_or_default())
    }

    /// Applies `requested` and audits each real change, in one transaction when the
    /// guess holds that every named channel was never set; otherwise the failed
    /// condition returns the stored state and an exact transaction follows. Returns
    /// the changes made (none for a no-op) and the resulting state of the named channels.
    pub async fn change_consents(
        &self,
        user: &UserId,
        requested: &[(Channel, ConsentStatus)],
        actor: &Actor,
        clock: &Clock,
    ) -> Result<(Vec<ConsentChange>, Consents), StoreError> {
        let patch = ProfilePatch {
            consents: requested.to_vec(),
            ..ProfilePatch::default()
        };
        let (changes, state) = self
            .write_audited(user, &patch, Existence::Any, actor, clock)
            .await
            .map_err(|e| match e {
                PatchError::Store(e) => e,
                other => StoreError::Failed(other.to_string()),
            })?;
        Ok((changes, requested_state(&state, requested)))
    }

    /// Audit entries newest first; `cursor` continues after a previous page.
    /// A cursor this service issued is a sort key of its own.
    pub async fn consent_history(
        &self,
        user: &UserId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<HistoryPage, HistoryError> {
        let start = cursor
            .map(|c| {
                let sk = B64
                    .decode(c)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or(HistoryError::BadCursor)?;
                // DynamoDB refuses a sort key over 1024 bytes as a malformed request: a
                // forged cursor is the client's error, not a server fault.
                if !sk.starts_with(CONSENT_LOG_PREFIX) || sk.len() > MAX_SORT_KEY_BYTES {
                    return Err(HistoryError::BadCursor);
                }
                Ok(ItemKey::in_user_partition(user, sk).to_item())
            })
            .transpose()?;
        let out = user_prefix_query(&self.client, &self.table, user, CONSENT_LOG_PREFIX)
            .scan_index_forward(false)
            // One more than asked: whether a next page exists, without an empty last page.
            .limit(limit as i32 + 1)
            .set_exclusive_start_key(start)
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::from)?;
        let mut rows = out.items.unwrap_or_default();
        let next_cursor = (rows.len() > limit).then(|| {
            rows.truncate(limit);
            match rows.last().and_then(|r| r.get(SK)) {
                Some(AttributeValue::S(sk)) => B64.encode(sk),
                _ => String::new(),
            }
        });
        let items = rows
            .into_iter()
            .map(serde_dynamo::from_item)
            .collect::<Result<Vec<AuditEntry>, _>>()
            .map_err(StoreError::from)?;
        Ok(HistoryPage { items, next_cursor })
    }
}

fn requested_state(state: &Consents, requested: &[(Channel, ConsentStatus)]) -> Consents {
    Consents(
        requested
            .iter()
            .filter_map(|(c, _)| state.0.get(c).map(|s| (*c, s.clone())))
            .collect(),
    )
}
