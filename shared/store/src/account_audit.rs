//! The account's audit trail (`AUDIT#` items): which fields of the account someone other
//! than its holder changed (an administrator, a partner's API token), and every contact
//! change, with who, when and under which request. Each entry is written in the same
//! transaction as the change it records, so neither exists without the other. Consents
//! keep their own history (`consent_item`).

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use domain::{Actor, Profile, ProfilePatch, UserId, timestamp};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

use crate::StoreError;
use crate::expr::Expression;
use crate::item::Item;
use crate::keys::{ItemKey, PK};
use crate::txn::put;

/// One field's change. `from` is absent where the writer did not read the item first
/// (a partner's batch update writes without reading).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct FieldChange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Value>,
    pub to: Value,
}

/// Changes by field name; attributes as `attributes.<key>`. `null` is a removal.
pub(crate) type FieldChanges = BTreeMap<String, FieldChange>;

#[derive(Serialize)]
struct Entry<'a> {
    at: String,
    source: &'a str,
    actor: &'a str,
    request_id: &'a str,
    changes: &'a FieldChanges,
}

/// The audit entry of `changes`, put only if its key is new.
pub(crate) fn audit_put(
    table: &str,
    user: &UserId,
    actor: &Actor,
    now: DateTime<Utc>,
    changes: &FieldChanges,
) -> Result<TransactWriteItem, StoreError> {
    let entry = Entry {
        at: timestamp(now),
        source: actor.source.as_str(),
        actor: &actor.actor,
        request_id: &actor.request_id,
        changes,
    };
    let mut item: Item = serde_dynamo::to_item(&entry)?;
    item.extend(ItemKey::account_audit(user, now.timestamp_millis(), &actor.request_id).to_item());
    let mut e = Expression::default();
    let pk = e.name(PK);
    e.condition(format!("attribute_not_exists({pk})"));
    put(table, item, e)
}

/// The audit entry of one change named by `field` (`mfa.totp`, `mfa.passkey`) and what
/// happened to it (`enrolled`, `removed`, ...), at Unix time `now`.
pub(crate) fn audit_note(
    table: &str,
    user: &UserId,
    actor: &Actor,
    now: i64,
    field: &str,
    what: &str,
) -> Result<TransactWriteItem, StoreError> {
    let changes = FieldChanges::from([(
        field.to_owned(),
        FieldChange {
            from: None,
            to: Value::from(what),
        },
    )]);
    let at = DateTime::<Utc>::from_timestamp(now, 0).unwrap_or_default();
    audit_put(table, user, actor, at, &changes)
}

/// What `patch` does to the fields and attributes (consents aside): every one it names
/// when `before` is unknown, else those whose value it really changes, with the old value.
pub(crate) fn patch_changes(patch: &ProfilePatch, before: Option<&Profile>) -> FieldChanges {
    let mut changes = FieldChanges::new();
    for (field, value) in &patch.fields {
        let to = value.as_ref().map(|v| Value::from(v.as_str()));
        let from = before.map(|p| p.fields.get(field).map(|v| Value::from(v.as_str())));
        record(&mut changes, field.name().to_owned(), from, to);
    }
    for (key, value) in &patch.attributes {
        let to = value.as_ref().map(json);
        let from = before.map(|p| p.attributes.get(key.as_str()).map(json));
        record(
            &mut changes,
            format!("attributes.{}", key.as_str()),
            from,
            to,
        );
    }
    changes
}

fn record(
    changes: &mut FieldChanges,
    name: String,
    from: Option<Option<Value>>,
    to: Option<Value>,
) {
    let to = to.unwrap_or(Value::Null);
    match from {
        Some(from) => {
            let from = from.unwrap_or(Value::Null);
            if from != to {
                changes.insert(
                    name,
                    FieldChange {
                        from: Some(from),
                        to,
                    },
                );
            }
        }
        None => {
            changes.insert(name, FieldChange { from: None, to });
        }
    }
}

fn json(value: &domain::AttributeValue) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use domain::LocaleCatalog;
    use serde_json::json;

    fn patch(body: Value) -> ProfilePatch {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        ProfilePatch::parse(body.as_object().unwrap(), today, &LocaleCatalog::all())
            .expect("a valid patch")
    }

    #[test]
    fn names_only_what_changes_and_what_it_was() {
        let user = UserId::parse("u-1").unwrap();
        let now = chrono::Utc::now();
        let mut before = Profile::empty(&user, now);
        before = before
            .patched(
                &patch(json!({"first_name": "Ayşe", "attributes": {"tier": "gold"}})),
                now,
            )
            .unwrap();
        let p = patch(json!({
            "first_name": "Ayşe", "last_name": "Yılmaz",
            "attributes": {"tier": null, "score": 3}
        }));

        let read = patch_changes(&p, Some(&before));
        assert_eq!(
            serde_json::to_value(&read).unwrap(),
            json!({
                "last_name": {"from": null, "to": "Yılmaz"},
                "attributes.tier": {"from": "gold", "to": null},
                "attributes.score": {"from": null, "to": 3},
            })
        );

        let unread = patch_changes(&p, None);
        assert_eq!(
            serde_json::to_value(&unread).unwrap(),
            json!({
                "first_name": {"to": "Ayşe"},
                "last_name": {"to": "Yılmaz"},
                "attributes.tier": {"to": null},
                "attributes.score": {"to": 3},
            })
        );
    }
}
