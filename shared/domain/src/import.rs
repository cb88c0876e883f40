//! One user of an import file (`profilectl user import`): a JSON object per line, as a
//! team moving here exports its users. Every key is optional but one way to reach the
//! account (an email or a number); each is checked as the routes check it, and the first
//! problem refuses the line with a reason naming its key.
//!
//! docs/migrating.md lists the keys and each peer's export command.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};

use crate::consent::{Channel, ConsentStatus};
use crate::password::Imported;
use crate::{CiProperty, Email, LocaleCatalog, PhoneNumber, ProfilePatch, SegmentId, UserId};

/// At most this many segments per user: one transaction writes them with the account.
pub const MAX_IMPORTED_SEGMENTS: usize = 30;

/// A user to import, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedUser {
    /// Kept as given (seed 001's clients address users as `"1"`, `"2"`, ...); `None`:
    /// one is made from the line's digest, the same on every run of the same line.
    pub user: Option<UserId>,
    pub email: Option<Email>,
    pub email_verified: bool,
    pub phone: Option<PhoneNumber>,
    pub phone_verified: bool,
    /// As the other system stored it; `None`: the account sets one by a reset.
    pub password_hash: Option<String>,
    /// The profile fields and attributes.
    pub profile: ProfilePatch,
    /// Each channel's state, and when it was set there.
    pub consents: Vec<(Channel, ConsentStatus, DateTime<Utc>)>,
    pub segments: Vec<SegmentId>,
    pub ci: Vec<(CiProperty, String)>,
    pub created_at: Option<DateTime<Utc>>,
}

/// The keys a line may have besides the profile's fields.
const KEYS: &[&str] = &[
    "user_id",
    "email",
    "email_verified",
    "phone",
    "phone_verified",
    "password_hash",
    "attributes",
    "consents",
    "segments",
    "ci",
    "created_at",
];

impl ImportedUser {
    /// The user `line` describes, or why it is refused.
    pub fn parse(
        line: &Map<String, Value>,
        today: NaiveDate,
        locales: &LocaleCatalog,
    ) -> Result<Self, String> {
        let named = |key: &str, e: String| format!("{key}: {e}");
        let mut profile_keys = Map::new();
        for (key, value) in line {
            if KEYS.contains(&key.as_str()) {
                continue;
            }
            if crate::Field::from_name(key).is_some() {
                profile_keys.insert(key.clone(), value.clone());
            } else {
                return Err(format!("{key}: not a key of an import line"));
            }
        }
        let text = |key: &str| -> Result<Option<&str>, String> {
            match line.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(format!("{key}: must be a string")),
            }
        };
        let flag = |key: &str| -> Result<bool, String> {
            match line.get(key) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err(format!("{key}: must be true or false")),
            }
        };
        let user = text("user_id")?
            .map(|raw| UserId::parse(raw).map_err(|e| named("user_id", e)))
            .transpose()?;
        let email = text("email")?
            .map(|raw| Email::parse(raw).map_err(|e| named("email", e)))
            .transpose()?;
        let phone = text("phone")?
            .map(|raw| PhoneNumber::parse(raw).map_err(|e| named("phone", e)))
            .transpose()?;
        if email.is_none() && phone.is_none() {
            return Err("email or phone: a user needs one to sign in by".into());
        }
        let password_hash = text("password_hash")?
            .map(|raw| {
                Imported::parse(raw)
                    .map(|_| raw.to_owned())
                    .map_err(|e| named("password_hash", e))
            })
            .transpose()?;
        if let Some(attributes) = line.get("attributes") {
            profile_keys.insert("attributes".into(), attributes.clone());
        }
        let profile = if profile_keys.is_empty() {
            ProfilePatch::default()
        } else {
            ProfilePatch::parse(&profile_keys, today, locales).map_err(|errors| {
                errors
                    .first()
                    .unwrap_or_else(|| "the profile fields are refused".into())
            })?
        };
        let created_at = text("created_at")?
            .map(|raw| timestamp(raw).map_err(|e| named("created_at", e)))
            .transpose()?;
        Ok(Self {
            user,
            email_verified: flag("email_verified")? && email.is_some(),
            phone_verified: flag("phone_verified")? && phone.is_some(),
            email,
            phone,
            password_hash,
            profile,
            consents: consents(line.get("consents"))?,
            segments: segments(line.get("segments"))?,
            ci: ci(line.get("ci"))?,
            created_at,
        })
    }
}

fn timestamp(raw: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| "must be an RFC 3339 time such as 2024-05-01T09:30:00Z".into())
}

fn consents(value: Option<&Value>) -> Result<Vec<(Channel, ConsentStatus, DateTime<Utc>)>, String> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let Value::Object(map) = value else {
        return Err("consents: must be an object of channels".into());
    };
    map.iter()
        .map(|(name, state)| {
            let at = |e: &str| format!("consents.{name}: {e}");
            let channel = Channel::parse(name).ok_or_else(|| at("not a channel"))?;
            let status = state
                .get("status")
                .and_then(Value::as_str)
                .and_then(ConsentStatus::parse)
                .ok_or_else(|| at("status must be subscribed or unsubscribed"))?;
            let time = state
                .get("updated_at")
                .and_then(Value::as_str)
                .ok_or_else(|| at("updated_at is required"))?;
            let time = timestamp(time).map_err(|e| at(&format!("updated_at {e}")))?;
            Ok((channel, status, time))
        })
        .collect()
}

fn segments(value: Option<&Value>) -> Result<Vec<SegmentId>, String> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let Value::Array(ids) = value else {
        return Err("segments: must be a list of segment ids".into());
    };
    if ids.len() > MAX_IMPORTED_SEGMENTS {
        return Err(format!("segments: at most {MAX_IMPORTED_SEGMENTS}"));
    }
    let mut out: Vec<SegmentId> = ids
        .iter()
        .map(|id| {
            let raw = match id {
                Value::Number(n) => n.to_string(),
                _ => return Err("segments: ids are whole numbers".to_owned()),
            };
            SegmentId::parse(&raw).map_err(|e| format!("segments: {e}"))
        })
        .collect::<Result<_, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

fn ci(value: Option<&Value>) -> Result<Vec<(CiProperty, String)>, String> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let Value::Object(map) = value else {
        return Err("ci: must be an object such as {\"kakao_id\": \"1234567890\"}".into());
    };
    map.iter()
        .map(|(name, value)| {
            let property =
                CiProperty::parse(name).ok_or_else(|| format!("ci.{name}: not a property"))?;
            let value = property
                .parse_value(value)
                .map_err(|e| format!("ci.{name}: {e}"))?;
            Ok((property, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(line: Value) -> Result<ImportedUser, String> {
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        ImportedUser::parse(line.as_object().unwrap(), today, &LocaleCatalog::all())
    }

    #[test]
    fn a_seed_001_user_with_everything() {
        let user = parse(json!({
            "user_id": "1", "email": "Ada@Example.com", "email_verified": true,
            "phone": "+905321234567", "phone_verified": true,
            "password_hash": "pbkdf2_sha256$1000000$seasalt$r1uLUxoxpP2Ued/qxvmje7UH9PUJBkRrvf9gGPL7Cps=",
            "first_name": "Ada", "attributes": {"tier": "gold"},
            "consents": {"email": {"status": "subscribed", "updated_at": "2024-05-01T09:30:00Z"}},
            "segments": [3, 1, 3], "ci": {"kakao_id": "1234567890"},
            "created_at": "2019-01-02T03:04:05Z"
        }))
        .unwrap();
        assert_eq!(user.user.unwrap().as_str(), "1");
        assert_eq!(user.email.unwrap().normalized(), "ada@example.com");
        assert!(user.email_verified && user.phone_verified);
        assert_eq!(user.profile.fields.len(), 1);
        assert_eq!(user.profile.attributes.len(), 1);
        assert_eq!(user.consents.len(), 1);
        assert_eq!(user.segments.len(), 2, "sorted, each once");
        assert_eq!(user.ci.len(), 1);
        assert!(user.created_at.is_some());
    }

    #[test]
    fn each_refusal_names_its_key() {
        for (line, key) in [
            (json!({"first_name": "Ada"}), "email or phone"),
            (json!({"email": "nope"}), "email:"),
            (
                json!({"email": "a@example.com", "password_hash": "md5$x$y"}),
                "password_hash:",
            ),
            (
                json!({"email": "a@example.com", "nickname": "x"}),
                "nickname:",
            ),
            (
                json!({"email": "a@example.com", "segments": ["1"]}),
                "segments:",
            ),
            (
                json!({"email": "a@example.com", "created_at": "yesterday"}),
                "created_at:",
            ),
            (
                json!({"email": "a@example.com", "consents": {"email": {"status": "yes"}}}),
                "consents.email:",
            ),
            (
                json!({"email": "a@example.com", "date_of_birth": "2999-01-01"}),
                "date_of_birth:",
            ),
        ] {
            let refused = parse(line.clone()).unwrap_err();
            assert!(refused.starts_with(key), "{line}: {refused}");
        }
    }
}
