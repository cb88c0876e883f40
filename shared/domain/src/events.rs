//! The change events other systems learn of every committed change from: the
//! catalog, the envelope, and what a profile's change means. The table's stream is the
//! outbox, so an event exists if and only if its write committed; the store maps stream
//! images to the changes below.
//!
//! Never in an event: one-time code digests, password hashes, refresh or API token
//! hashes, image bytes.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::Profile;

/// The envelope's `schema_version` for every type below.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum EventType {
    #[serde(rename = "profile.created")]
    ProfileCreated,
    #[serde(rename = "profile.updated")]
    ProfileUpdated,
    #[serde(rename = "phone.verified")]
    PhoneVerified,
    #[serde(rename = "email.changed")]
    EmailChanged,
    #[serde(rename = "avatar.changed")]
    AvatarChanged,
    #[serde(rename = "consent.changed")]
    ConsentChanged,
    #[serde(rename = "segment.assigned")]
    SegmentAssigned,
    #[serde(rename = "ci.updated")]
    CiUpdated,
    #[serde(rename = "ci.deleted")]
    CiDeleted,
    #[serde(rename = "account.registered")]
    AccountRegistered,
    #[serde(rename = "account.verified")]
    AccountVerified,
    #[serde(rename = "loyalty_card.linked")]
    LoyaltyCardLinked,
    #[serde(rename = "account.deleted")]
    AccountDeleted,
    #[serde(rename = "password.changed")]
    PasswordChanged,
    #[serde(rename = "sessions.revoked")]
    SessionsRevoked,
    #[serde(rename = "account.disabled")]
    AccountDisabled,
    #[serde(rename = "account.enabled")]
    AccountEnabled,
    #[serde(rename = "mfa.enrolled")]
    MfaEnrolled,
    #[serde(rename = "mfa.removed")]
    MfaRemoved,
    #[serde(rename = "passkey.added")]
    PasskeyAdded,
    #[serde(rename = "passkey.removed")]
    PasskeyRemoved,
}

impl EventType {
    pub const ALL: [EventType; 21] = [
        Self::ProfileCreated,
        Self::ProfileUpdated,
        Self::PhoneVerified,
        Self::EmailChanged,
        Self::AvatarChanged,
        Self::ConsentChanged,
        Self::SegmentAssigned,
        Self::CiUpdated,
        Self::CiDeleted,
        Self::AccountRegistered,
        Self::AccountVerified,
        Self::LoyaltyCardLinked,
        Self::AccountDeleted,
        Self::PasswordChanged,
        Self::SessionsRevoked,
        Self::AccountDisabled,
        Self::AccountEnabled,
        Self::MfaEnrolled,
        Self::MfaRemoved,
        Self::PasskeyAdded,
        Self::PasskeyRemoved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProfileCreated => "profile.created",
            Self::ProfileUpdated => "profile.updated",
            Self::PhoneVerified => "phone.verified",
            Self::EmailChanged => "email.changed",
            Self::AvatarChanged => "avatar.changed",
            Self::ConsentChanged => "consent.changed",
            Self::SegmentAssigned => "segment.assigned",
            Self::CiUpdated => "ci.updated",
            Self::CiDeleted => "ci.deleted",
            Self::AccountRegistered => "account.registered",
            Self::AccountVerified => "account.verified",
            Self::LoyaltyCardLinked => "loyalty_card.linked",
            Self::AccountDeleted => "account.deleted",
            Self::PasswordChanged => "password.changed",
            Self::SessionsRevoked => "sessions.revoked",
            Self::AccountDisabled => "account.disabled",
            Self::AccountEnabled => "account.enabled",
            Self::MfaEnrolled => "mfa.enrolled",
            Self::MfaRemoved => "mfa.removed",
            Self::PasskeyAdded => "passkey.added",
            Self::PasskeyRemoved => "passkey.removed",
        }
    }
}

/// What a change is a change of. Each aggregate of a user counts its own changes in a
/// `version` written in the same update as the change, so consumers order one user's
/// events per aggregate; the profile's is the ETag its routes show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Aggregate {
    Profile,
    /// Every channel's consent: one count for all of them.
    Consents,
    /// One membership.
    Segment(u64),
    /// The partner identifiers.
    Ci,
    LoyaltyCard,
    /// The password login.
    Credential,
    /// The account's sessions, as a whole: each act that ends some counts.
    Sessions,
    /// The account's authenticator app.
    Mfa,
    /// One passkey (the event's `passkey_id`).
    Passkey,
}

impl std::fmt::Display for Aggregate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Profile => f.write_str("profile"),
            Self::Consents => f.write_str("consents"),
            Self::Segment(id) => write!(f, "segment:{id}"),
            Self::Ci => f.write_str("ci"),
            Self::LoyaltyCard => f.write_str("loyalty_card"),
            Self::Credential => f.write_str("credential"),
            Self::Sessions => f.write_str("sessions"),
            Self::Mfa => f.write_str("mfa"),
            Self::Passkey => f.write_str("passkey"),
        }
    }
}

impl Serialize for Aggregate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One change, before it is put in an envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub event_type: EventType,
    pub aggregate: Aggregate,
    pub data: Value,
}

/// What other systems receive.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeEvent {
    /// The stream record's id and the change's place among those the record yields: a
    /// redelivered record carries the same ids, so consumers can drop duplicates.
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub schema_version: u32,
    /// When the write committed (the stream record's time), RFC 3339.
    pub time: String,
    pub user_id: String,
    pub aggregate: Aggregate,
    /// The aggregate's version after the write: one higher with each write that changes
    /// it, and shared by the events one write makes of it (their `id`s order them).
    pub version: u64,
    pub data: Value,
}

impl ChangeEvent {
    pub fn new(
        record_id: &str,
        place: usize,
        change: Change,
        time: String,
        user_id: String,
        version: u64,
    ) -> Self {
        Self {
            id: format!("{record_id}:{place}"),
            event_type: change.event_type,
            schema_version: SCHEMA_VERSION,
            time,
            user_id,
            aggregate: change.aggregate,
            version,
            data: change.data,
        }
    }
}

/// What a write of a profile changed: `old` is `None` for the profile's first write.
/// Field and attribute changes make one `profile.updated`; a newly verified number, a new
/// email and a new image have events of their own, all of the profile aggregate.
/// Consents, though stored on the same item, are an aggregate of their own.
pub fn profile_changes(old: Option<&Profile>, new: &Profile) -> Vec<Change> {
    let Some(old) = old else {
        let mut fields = field_values(new);
        fields.extend(attribute_values(new, None));
        return vec![Change {
            event_type: EventType::ProfileCreated,
            aggregate: Aggregate::Profile,
            data: json!({ "fields": fields }),
        }];
    };
    let mut changes = Vec::new();
    let mut changed = Map::new();
    let names = old.fields.keys().chain(new.fields.keys());
    for field in names.collect::<std::collections::BTreeSet<_>>() {
        let (was, now) = (old.fields.get(field), new.fields.get(field));
        if was != now {
            changed.insert(
                field.name().to_owned(),
                now.map_or(Value::Null, |v| json!(v)),
            );
        }
    }
    changed.extend(attribute_values(new, Some(old)));
    if !changed.is_empty() {
        changes.push(Change {
            event_type: EventType::ProfileUpdated,
            aggregate: Aggregate::Profile,
            data: json!({
                "changed": changed.keys().cloned().collect::<Vec<_>>(),
                "values": changed,
            }),
        });
    }
    if new.phone_verified && (new.phone != old.phone || !old.phone_verified) {
        changes.push(Change {
            event_type: EventType::PhoneVerified,
            aggregate: Aggregate::Profile,
            data: json!({ "phone": new.phone }),
        });
    }
    if new.email != old.email {
        changes.push(Change {
            event_type: EventType::EmailChanged,
            aggregate: Aggregate::Profile,
            data: json!({ "from": old.email, "to": new.email }),
        });
    }
    if new.avatar_url != old.avatar_url {
        changes.push(Change {
            event_type: EventType::AvatarChanged,
            aggregate: Aggregate::Profile,
            data: json!({ "avatar_url": new.avatar_url }),
        });
    }
    // The operator's reason stays on the account's audit: it is free text.
    match (&old.disabled_at, &new.disabled_at) {
        (None, Some(at)) => changes.push(Change {
            event_type: EventType::AccountDisabled,
            aggregate: Aggregate::Profile,
            data: json!({ "disabled_at": at }),
        }),
        (Some(_), None) => changes.push(Change {
            event_type: EventType::AccountEnabled,
            aggregate: Aggregate::Profile,
            data: json!({}),
        }),
        _ => {}
    }
    changes
}

fn field_values(profile: &Profile) -> Map<String, Value> {
    profile
        .fields
        .iter()
        .map(|(field, value)| (field.name().to_owned(), json!(value)))
        .collect()
}

/// `attributes.<key>` for each attribute `new` sets differently from `old` (all of them
/// when there is no `old`), `null` for one removed.
fn attribute_values(new: &Profile, old: Option<&Profile>) -> Map<String, Value> {
    let mut out = Map::new();
    let empty = std::collections::BTreeMap::new();
    let before = old.map_or(&empty, |o| &o.attributes);
    for (key, value) in &new.attributes {
        if before.get(key) != Some(value) {
            out.insert(format!("attributes.{key}"), json!(value));
        }
    }
    for key in before.keys().filter(|k| !new.attributes.contains_key(*k)) {
        out.insert(format!("attributes.{key}"), Value::Null);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AttributeValue, Field, UserId};

    fn profile() -> Profile {
        let mut p = Profile::empty(&UserId::parse("ada").unwrap(), chrono::Utc::now());
        p.fields.insert(Field::FirstName, "Ada".into());
        p
    }

    #[test]
    fn a_first_write_is_a_creation() {
        let changes = profile_changes(None, &profile());
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].event_type, EventType::ProfileCreated);
        assert_eq!(changes[0].data, json!({"fields": {"first_name": "Ada"}}));
    }

    #[test]
    fn two_fields_changed_make_one_update_naming_them() {
        let old = profile();
        let mut new = old.clone();
        new.fields.insert(Field::FirstName, "Augusta".into());
        new.fields.insert(Field::LastName, "King".into());
        new.attributes
            .insert("tier".into(), AttributeValue::Text("gold".into()));
        new.version += 1;
        let changes = profile_changes(Some(&old), &new);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].event_type, EventType::ProfileUpdated);
        assert_eq!(
            changes[0].data["changed"],
            json!(["attributes.tier", "first_name", "last_name"])
        );
        assert_eq!(changes[0].data["values"]["last_name"], "King");
    }

    #[test]
    fn contact_changes_have_events_of_their_own() {
        let old = profile();
        let mut new = old.clone();
        new.phone = Some("+905321234567".into());
        new.phone_verified = true;
        new.email = Some("ada@example.com".into());
        new.avatar_url = Some("https://cdn.example/a.png".into());
        let types: Vec<_> = profile_changes(Some(&old), &new)
            .into_iter()
            .map(|c| c.event_type)
            .collect();
        assert_eq!(
            types,
            [
                EventType::PhoneVerified,
                EventType::EmailChanged,
                EventType::AvatarChanged
            ]
        );
        // A write that only bumps bookkeeping announces nothing.
        let mut bumped = old.clone();
        bumped.version += 1;
        bumped.updated_at = "later".into();
        assert!(profile_changes(Some(&old), &bumped).is_empty());
    }

    #[test]
    fn envelopes_carry_stable_ids_and_the_type_names() {
        let change = profile_changes(None, &profile()).remove(0);
        let event = ChangeEvent::new("rec-1", 0, change, "t".into(), "ada".into(), 1);
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["id"], "rec-1:0");
        assert_eq!(json["aggregate"], "profile");
        assert_eq!(json["version"], 1);
        assert_eq!(Aggregate::Segment(7).to_string(), "segment:7");
        assert_eq!(json["type"], "profile.created");
        assert_eq!(json["schema_version"], 1);
        for t in EventType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }
}
