//! Consent state on the profile item, one attribute per channel
//! (`consent_<channel>` = `{status, updated_at, source, actor, request_id}`), the
//! consents' own version (`consents_version`, one higher with each write that changes
//! any channel), and the audit entries written in the same transaction as every change.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use domain::{
    Actor, Channel, ChannelState, ConsentChange, ConsentStatus, Consents, UserId, timestamp,
};
use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::expr::Expression;
use crate::item::Item;
use crate::keys::{ItemKey, PK};
use crate::txn::put;

pub(crate) fn attribute(channel: Channel) -> String {
    format!("consent_{}", channel.as_str())
}

/// The consents aggregate's version: one count for every channel.
pub(crate) const CONSENTS_VERSION: &str = "consents_version";

pub(crate) fn consents_from_item(item: &Item) -> Consents {
    let mut consents = Consents::default();
    for channel in Channel::ALL {
        let Some(AttributeValue::M(state)) = item.get(&attribute(channel)) else {
            continue;
        };
        let text = |k: &str| match state.get(k) {
            Some(AttributeValue::S(s)) => Some(s.clone()),
            _ => None,
        };
        if let (Some(status), Some(updated_at)) = (
            text("status").as_deref().and_then(ConsentStatus::parse),
            text("updated_at"),
        ) {
            consents
                .0
                .insert(channel, ChannelState { status, updated_at });
        }
    }
    consents
}

/// `SET consent_<channel> = {status, updated_at, source, actor, request_id}` for each
/// change, and one more `consents_version` when there is any: who changed a channel
/// stays beside its state, so the change event reads it from the item's new image.
pub(crate) fn set_consents(
    e: &mut Expression,
    changes: &[ConsentChange],
    actor: &Actor,
    now: DateTime<Utc>,
) {
    set_consents_at(e, changes.iter().map(|c| (c, now)), actor);
}

/// `set_consents`, each change at its own time (an import keeps when each was made).
pub(crate) fn set_consents_at<'a>(
    e: &mut Expression,
    changes: impl IntoIterator<Item = (&'a ConsentChange, DateTime<Utc>)>,
    actor: &Actor,
) {
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let mut any = false;
    for (change, at) in changes {
        any = true;
        let state = AttributeValue::M(
            [
                ("status".to_owned(), s(change.to.as_str())),
                ("updated_at".to_owned(), s(&timestamp(at))),
                ("source".to_owned(), s(actor.source.as_str())),
                ("actor".to_owned(), s(&actor.actor)),
                ("request_id".to_owned(), s(&actor.request_id)),
            ]
            .into(),
        );
        e.set(&attribute(change.channel), state);
    }
    if any {
        e.count_write(CONSENTS_VERSION);
    }
}

/// The channels whose status differs between two images of a profile item, as the
/// entries the history holds for them (`at` the new state's time).
pub(crate) fn consent_changes_between(old: Option<&Item>, new: &Item) -> Vec<AuditEntry> {
    let state = |item: Option<&Item>, channel: Channel| match item?.get(&attribute(channel)) {
        Some(AttributeValue::M(state)) => Some(state.clone()),
        _ => None,
    };
    let text = |state: &Option<HashMap<String, AttributeValue>>, key: &str| match state
        .as_ref()
        .and_then(|m| m.get(key))
    {
        Some(AttributeValue::S(s)) => s.clone(),
        _ => String::new(),
    };
    Channel::ALL
        .into_iter()
        .filter_map(|channel| {
            let (was, now) = (state(old, channel), state(Some(new), channel));
            let to = text(&now, "status");
            let from = Some(text(&was, "status")).filter(|s| !s.is_empty());
            if now.is_none() || from.as_deref() == Some(to.as_str()) {
                return None;
            }
            Some(AuditEntry {
                channel: channel.as_str().to_owned(),
                from: from.unwrap_or_else(|| "undefined".to_owned()),
                to,
                at: text(&now, "updated_at"),
                source: text(&now, "source"),
                actor: text(&now, "actor"),
                request_id: text(&now, "request_id"),
            })
        })
        .collect()
}

/// Conditions that each channel is still in the change's `from` state.
pub(crate) fn expect_from(e: &mut Expression, changes: &[ConsentChange]) {
    for change in changes {
        let name = e.name(&attribute(change.channel));
        match change.from {
            None => e.condition(format!("attribute_not_exists({name})")),
            Some(from) => {
                let status = e.name("status");
                let value = e.value(AttributeValue::S(from.as_str().to_owned()));
                e.condition(format!("{name}.{status} = {value}"));
            }
        }
    }
}

/// One audit entry as stored and as returned by the history route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub channel: String,
    /// `subscribed`, `unsubscribed` or `undefined`.
    pub from: String,
    pub to: String,
    pub at: String,
    /// `self` or `api`.
    pub source: String,
    pub actor: String,
    pub request_id: String,
}

pub(crate) fn audit_puts(
    table: &str,
    user: &UserId,
    changes: &[ConsentChange],
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    audit_puts_at(table, user, changes.iter().map(|c| (c, now)), actor)
}

/// `audit_puts`, each change at its own time.
pub(crate) fn audit_puts_at<'a>(
    table: &str,
    user: &UserId,
    changes: impl IntoIterator<Item = (&'a ConsentChange, DateTime<Utc>)>,
    actor: &Actor,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    changes
        .into_iter()
        .map(|(change, now)| {
            let entry = AuditEntry {
                channel: change.channel.as_str().to_owned(),
                from: change
                    .from
                    .map_or("undefined", ConsentStatus::as_str)
                    .to_owned(),
                to: change.to.as_str().to_owned(),
                at: timestamp(now),
                source: actor.source.as_str().to_owned(),
                actor: actor.actor.clone(),
                request_id: actor.request_id.clone(),
            };
            let key = ItemKey::consent_log(
                user,
                now.timestamp_millis(),
                &actor.request_id,
                change.channel,
            );
            let mut item: Item = serde_dynamo::to_item(&entry)?;
            item.extend(key.to_item());
            let mut e = Expression::default();
            let pk = e.name(PK);
            e.condition(format!("attribute_not_exists({pk})"));
            put(table, item, e)
        })
        .collect()
}
