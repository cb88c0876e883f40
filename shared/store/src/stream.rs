//! The table's stream as change events: the one place that reads what a
//! committed write did from its old and new images. Items that are not news to anyone
//! (codes, counters, sessions, tokens, uniqueness markers) yield nothing; the template's
//! filter keeps most of them from invoking the consumer at all.

use aws_sdk_dynamodb::types::AttributeValue;
use domain::CiProperty;
use domain::events::{Aggregate, Change, ChangeEvent, EventType, profile_changes};
use serde_json::{Map, Value, json};

use crate::StoreError;
use crate::accounts::MOVED_AT;
use crate::consent_item::{CONSENTS_VERSION, consent_changes_between};
use crate::item::{Item, text};
use crate::keys::PASSKEY_PREFIX;
use crate::keys::{
    CI_SK, CREDENTIAL_SK, EMAIL_PREFIX, LOYALTY_SK, PK, PROFILE_SK, SEGMENT_PREFIX, SESSIONS_SK,
    SK, TOTP_SK, USER_PREFIX,
};
use crate::password::{PASSWORD_CHANGES, PASSWORD_REASON};
use crate::profile_item::{ERASED, ERASURE, VERSION, is_erased, profile_from_item};
use crate::session_epoch::REVOCATIONS;

/// What happened to the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Insert,
    Modify,
    Remove,
}

/// One stream record, as the consumer hands it over.
#[derive(Debug, Clone)]
pub struct StreamRecord {
    /// The stream's id of the record (stable across redelivery).
    pub id: String,
    pub kind: RecordKind,
    /// When the write committed, RFC 3339.
    pub time: String,
    pub old: Option<Item>,
    pub new: Option<Item>,
}

fn flag(item: Option<&Item>, name: &str) -> bool {
    matches!(
        item.and_then(|i| i.get(name)),
        Some(AttributeValue::Bool(true))
    )
}

fn text_of<'a>(item: Option<&'a Item>, name: &str) -> &'a str {
    item.and_then(|i| text(i, name)).unwrap_or_default()
}

/// `sessions.revoked` for each act that ends sessions (a reset, a change, the user's or
/// an operator's sign-out), as the account's sign-out item counts them.
fn sessions_changes(old: Option<&Item>, new: Option<&Item>) -> Vec<Change> {
    if number(new, REVOCATIONS) <= number(old, REVOCATIONS) {
        return Vec::new();
    }
    vec![Change {
        event_type: EventType::SessionsRevoked,
        aggregate: Aggregate::Sessions,
        data: json!({
            "count": number(new, "last_count").unwrap_or(0),
            "reason": text_of(new, "last_reason"),
        }),
    }]
}

fn number(item: Option<&Item>, name: &str) -> Option<u64> {
    match item?.get(name) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

/// The aggregate's version after the write, as the write left it in the new image; for
/// an item the write removed (or an erased profile's tombstone, which keeps no count),
/// one past the last version it had.
fn version_of(record: &StreamRecord, aggregate: Aggregate) -> u64 {
    let name = match aggregate {
        Aggregate::Consents => CONSENTS_VERSION,
        Aggregate::Sessions => REVOCATIONS,
        _ => VERSION,
    };
    number(record.new.as_ref(), name)
        .unwrap_or_else(|| number(record.old.as_ref(), name).unwrap_or(0) + 1)
}

/// The events a committed write means, in the order it means them.
pub fn events_of(record: &StreamRecord) -> Result<Vec<ChangeEvent>, StoreError> {
    let Some(image) = record.new.as_ref().or(record.old.as_ref()) else {
        return Ok(Vec::new());
    };
    let (Some(pk), Some(sk)) = (text(image, PK), text(image, SK)) else {
        return Ok(Vec::new());
    };
    let (user, changes) = if let Some(user) = pk.strip_prefix(USER_PREFIX) {
        (user.to_owned(), user_item_changes(record, sk)?)
    } else if let Some(email) = pk.strip_prefix(EMAIL_PREFIX)
        && sk == CREDENTIAL_SK
    {
        let user = text(image, "user_id").unwrap_or_default().to_owned();
        (user, credential_changes(record, email))
    } else {
        return Ok(Vec::new());
    };
    Ok(changes
        .into_iter()
        .enumerate()
        .map(|(place, change)| {
            let version = version_of(record, change.aggregate);
            ChangeEvent::new(
                &record.id,
                place,
                change,
                record.time.clone(),
                user.clone(),
                version,
            )
        })
        .collect())
}

fn user_item_changes(record: &StreamRecord, sk: &str) -> Result<Vec<Change>, StoreError> {
    let (old, new) = (record.old.as_ref(), record.new.as_ref());
    if sk == PROFILE_SK {
        // An image with nothing but the keys is no profile yet (the emulator shows an
        // UpdateItem that creates an item as an insert of its keys, then the write): it
        // announces nothing, and a change from it is the profile's creation.
        let Some(new) = new.filter(|i| !keys_only(i)) else {
            return Ok(Vec::new());
        };
        if is_erased(new) {
            return Ok(erasure_changes(old, new));
        }
        let old = old.filter(|i| !keys_only(i));
        let before = old.map(|o| profile_from_item(o.clone())).transpose()?;
        let mut changes = profile_changes(before.as_ref(), &profile_from_item(new.clone())?);
        // Consents live on the profile item but are their own aggregate; who changed a
        // channel is stored beside its state.
        changes.extend(
            consent_changes_between(old, new)
                .into_iter()
                .map(|entry| Change {
                    event_type: EventType::ConsentChanged,
                    aggregate: Aggregate::Consents,
                    data: json!({
                        "channel": entry.channel, "from": entry.from, "to": entry.to,
                        "source": entry.source, "actor": entry.actor,
                        "request_id": entry.request_id,
                    }),
                }),
        );
        return Ok(changes);
    }
    // A membership is news when it appears (the emulator shows an UpdateItem that
    // creates an item as its keys first, then the write); assigning it again is not.
    if let Some(id) = sk.strip_prefix(SEGMENT_PREFIX)
        && new.is_some_and(|i| !keys_only(i))
        && old.is_none_or(keys_only)
    {
        let id: u64 = id.parse().unwrap_or_default();
        return Ok(vec![Change {
            event_type: EventType::SegmentAssigned,
            aggregate: Aggregate::Segment(id),
            data: json!({ "segment_id": id }),
        }]);
    }
    if sk == CI_SK {
        return Ok(ci_changes(old, new));
    }
    if sk == SESSIONS_SK {
        return Ok(sessions_changes(old, new));
    }
    if sk == TOTP_SK {
        return Ok(crate::mfa::changes(old, new));
    }
    if sk.starts_with(PASSKEY_PREFIX) {
        return Ok(crate::passkeys::changes(sk, old, new));
    }
    // The password of an account that holds no address (its claim was taken over).
    if sk == CREDENTIAL_SK {
        return Ok(credential_changes(record, ""));
    }
    // A card asked for: the loyalty sync creates its member. The number stays out of
    // the event, as out of logs.
    if sk == LOYALTY_SK && record.kind == RecordKind::Insert {
        let status = new.and_then(|i| text(i, "status")).unwrap_or_default();
        return Ok(vec![Change {
            event_type: EventType::LoyaltyCardLinked,
            aggregate: Aggregate::LoyaltyCard,
            data: json!({ "status": status }),
        }]);
    }
    // Audit entries of an administrator's change (`AUDIT#`) say nothing the profile's
    // event does not.
    Ok(Vec::new())
}

/// `account.deleted` once, when the erasure completes; nothing while it runs. The
/// event says who and when only: the account's data is gone.
fn erasure_changes(old: Option<&Item>, new: &Item) -> Vec<Change> {
    let finished = |i: Option<&Item>| i.and_then(|i| text(i, ERASURE)) == Some(ERASED);
    if !finished(Some(new)) || finished(old) {
        return Vec::new();
    }
    vec![Change {
        event_type: EventType::AccountDeleted,
        aggregate: Aggregate::Profile,
        data: json!({ "erased_at": text(new, "erased_at") }),
    }]
}

fn keys_only(item: &Item) -> bool {
    item.keys().all(|k| k == PK || k == SK)
}

/// `ci.updated` with the identifiers set or changed, `ci.deleted` with those removed.
fn ci_value(item: Option<&Item>, property: CiProperty) -> Option<&str> {
    item.and_then(|i| text(i, property.as_str()))
}

fn ci_changes(old: Option<&Item>, new: Option<&Item>) -> Vec<Change> {
    let mut updated = Map::new();
    let mut deleted = Vec::new();
    for property in CiProperty::ALL {
        match (ci_value(old, property), ci_value(new, property)) {
            (was, Some(now)) if was != Some(now) => {
                updated.insert(property.as_str().to_owned(), json!(now));
            }
            (Some(_), None) => deleted.push(Value::from(property.as_str())),
            _ => {}
        }
    }
    let mut changes = Vec::new();
    if !updated.is_empty() {
        changes.push(Change {
            event_type: EventType::CiUpdated,
            aggregate: Aggregate::Ci,
            data: json!({ "values": updated }),
        });
    }
    if !deleted.is_empty() {
        changes.push(Change {
            event_type: EventType::CiDeleted,
            aggregate: Aggregate::Ci,
            data: json!({ "names": deleted }),
        });
    }
    changes
}

/// `account.registered` when a credential appears, `account.verified` when its email or
/// number becomes proven. The password hash is never read.
fn credential_changes(record: &StreamRecord, email: &str) -> Vec<Change> {
    let (old, new) = (record.old.as_ref(), record.new.as_ref());
    if new.is_none() {
        return Vec::new();
    }
    let verified = |i: Option<&Item>| flag(i, "email_verified") || flag(i, "phone_verified");
    // A sign-up that took over an unproven claim replaces the credential in place.
    let taken_over =
        record.kind == RecordKind::Modify && text_of(old, "user_id") != text_of(new, "user_id");
    let mut changes = Vec::new();
    // A credential moved to a new address (an email change) is no new account.
    let inserted =
        record.kind == RecordKind::Insert && !new.is_some_and(|i| i.contains_key(MOVED_AT));
    if inserted || taken_over {
        changes.push(Change {
            event_type: EventType::AccountRegistered,
            aggregate: Aggregate::Credential,
            data: json!({
                "email": email,
                "email_verified": flag(new, "email_verified"),
                "phone_verified": flag(new, "phone_verified"),
            }),
        });
    }
    if number(new, PASSWORD_CHANGES) > number(old, PASSWORD_CHANGES) && !taken_over {
        changes.push(Change {
            event_type: EventType::PasswordChanged,
            aggregate: Aggregate::Credential,
            data: json!({ "reason": text_of(new, PASSWORD_REASON) }),
        });
    }
    if verified(new) && !verified(old) && record.kind == RecordKind::Modify && !taken_over {
        changes.push(Change {
            event_type: EventType::AccountVerified,
            aggregate: Aggregate::Credential,
            data: json!({ "email": email }),
        });
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, &str)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string())))
            .collect()
    }

    fn record(kind: RecordKind, old: Option<Item>, new: Option<Item>) -> StreamRecord {
        StreamRecord {
            id: "r".into(),
            kind,
            time: "t".into(),
            old,
            new,
        }
    }

    fn types(r: &StreamRecord) -> Vec<&'static str> {
        events_of(r)
            .unwrap()
            .into_iter()
            .map(|e| e.event_type.as_str())
            .collect()
    }

    #[test]
    fn partner_identifiers_set_and_removed() {
        let before = item(&[("pk", "USER#u"), ("sk", "CI"), ("kakao_id", "0123456789")]);
        let after = item(&[
            ("pk", "USER#u"),
            ("sk", "CI"),
            ("phone_number", "821012345678"),
        ]);
        let r = record(RecordKind::Modify, Some(before.clone()), Some(after));
        let events = events_of(&r).unwrap();
        assert_eq!(
            events[0].data,
            json!({"values": {"phone_number": "821012345678"}})
        );
        assert_eq!(events[1].data, json!({"names": ["kakao_id"]}));
        assert_eq!(
            types(&record(RecordKind::Remove, Some(before), None)),
            ["ci.deleted"]
        );
    }

    #[test]
    fn a_credential_kept_under_the_account_announces_its_new_passwords() {
        let mut before = item(&[("pk", "USER#u"), ("sk", "CREDENTIAL"), ("user_id", "u")]);
        before.insert(PASSWORD_CHANGES.into(), AttributeValue::N("0".into()));
        let mut after = before.clone();
        after.insert(PASSWORD_CHANGES.into(), AttributeValue::N("1".into()));
        after.insert(PASSWORD_REASON.into(), AttributeValue::S("reset".into()));
        let r = record(RecordKind::Modify, Some(before), Some(after));
        assert_eq!(types(&r), ["password.changed"]);
        assert_eq!(events_of(&r).unwrap()[0].user_id, "u");
    }

    #[test]
    fn memberships_are_news_and_codes_counters_and_tokens_are_not() {
        let keys = item(&[("pk", "USER#u"), ("sk", "SEGMENT#0000000007")]);
        let mut membership = keys.clone();
        membership.insert("version".into(), AttributeValue::N("1".into()));
        let r = record(RecordKind::Insert, None, Some(membership.clone()));
        let events = events_of(&r).unwrap();
        assert_eq!(events[0].data, json!({"segment_id": 7}));
        assert_eq!(events[0].aggregate.to_string(), "segment:7");
        // An item of nothing but its keys is no membership yet; assigning again is no news.
        assert!(types(&record(RecordKind::Insert, None, Some(keys))).is_empty());
        let again = record(
            RecordKind::Modify,
            Some(membership.clone()),
            Some(membership),
        );
        assert!(types(&again).is_empty());
        for (pk, sk) in [
            ("USER#u", "OTP#change_phone"),
            ("PHONE#+905321234567", "OWNER"),
            ("SMS_QUOTA", "HOUR#0"),
            ("REFRESH#ab", "TOKEN"),
            ("APITOKENS", "TOKEN#ab"),
            ("USER#u", "SESSION#f"),
        ] {
            let r = record(
                RecordKind::Insert,
                None,
                Some(item(&[("pk", pk), ("sk", sk)])),
            );
            assert!(types(&r).is_empty(), "{pk} {sk}");
        }
    }
}
