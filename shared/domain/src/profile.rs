//! The profile: what GET returns, and a PATCH parsed into checked values.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::FieldErrors;
use crate::otp::OtpCode;
use crate::{
    AttributeKey, AttributeValue, Channel, ChannelState, ConsentStatus, Consents, Currency,
    DateOfBirth, Gender, LanguageCode, LocaleCatalog, MAX_ATTRIBUTES, PersonName, PhoneNumber,
    TimeZone, UserId,
};

/// How every stored timestamp is written: RFC 3339, UTC, milliseconds.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// What a write expects of the stored profile's version (a client sends it as `If-Match`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    Any,
    /// The profile must exist, whatever its version.
    Exists,
    Exactly(u64),
}

impl ExpectedVersion {
    pub fn holds_for(self, profile: Option<&Profile>) -> bool {
        match self {
            Self::Any => true,
            Self::Exists => profile.is_some(),
            Self::Exactly(v) => profile.is_some_and(|p| p.version == v),
        }
    }
}

/// A patch would leave more attributes than a profile may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a profile holds at most {MAX_ATTRIBUTES} attributes")]
pub struct TooManyAttributes;

/// The profile as stored and as returned; absent values serialize as `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub user_id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub phone_verified: bool,
    #[serde(default)]
    pub gender: Option<String>,
    #[serde(default)]
    pub date_of_birth: Option<String>,
    #[serde(default)]
    pub language_code: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, AttributeValue>,
    /// Views of the `email`, `sms` and `call` consents, set by `with_consents`.
    #[serde(default, skip_deserializing)]
    pub email_allowed: bool,
    #[serde(default, skip_deserializing)]
    pub sms_allowed: bool,
    #[serde(default, skip_deserializing)]
    pub call_allowed: bool,
    #[serde(default)]
    pub avatar_url: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
    /// Every consent channel; the store fills it in.
    #[serde(skip)]
    pub consents: Consents,
}

impl Profile {
    /// Attaches the consent state and derives the profile's three consent booleans.
    pub fn with_consents(mut self, consents: Consents) -> Self {
        self.email_allowed = consents.allows(Channel::Email);
        self.sms_allowed = consents.allows(Channel::Sms);
        self.call_allowed = consents.allows(Channel::Call);
        self.consents = consents;
        self
    }

    /// The state before a profile's first write.
    pub fn empty(user: &UserId, now: DateTime<Utc>) -> Self {
        let now = timestamp(now);
        Self {
            user_id: user.as_str().to_owned(),
            email: None,
            first_name: None,
            last_name: None,
            phone: None,
            phone_verified: false,
            gender: None,
            date_of_birth: None,
            language_code: None,
            timezone: None,
            currency: None,
            attributes: BTreeMap::new(),
            email_allowed: false,
            sms_allowed: false,
            call_allowed: false,
            avatar_url: None,
            created_at: now.clone(),
            updated_at: now,
            version: 0,
            consents: Consents::default(),
        }
    }

    /// This profile with `patch` applied and the version moved on: what the store's
    /// conditional write leaves behind when it writes the whole item.
    pub fn patched(
        &self,
        patch: &ProfilePatch,
        now: DateTime<Utc>,
    ) -> Result<Self, TooManyAttributes> {
        let mut next = self.clone();
        for (field, value) in patch.assignments() {
            let text = value;
            match field {
                "first_name" => next.first_name = text,
                "last_name" => next.last_name = text,
                "gender" => next.gender = text,
                "date_of_birth" => next.date_of_birth = text,
                "language_code" => next.language_code = text,
                "timezone" => next.timezone = text,
                "currency" => next.currency = text,
                other => unreachable!("assignments() names only profile fields, not {other}"),
            }
        }
        for (key, value) in &patch.attributes {
            match value {
                Some(v) => next.attributes.insert(key.as_str().to_owned(), v.clone()),
                None => next.attributes.remove(key.as_str()),
            };
        }
        if next.attributes.len() > MAX_ATTRIBUTES {
            return Err(TooManyAttributes);
        }
        let mut consents = next.consents.clone();
        for change in self.consents.diff(&patch.consents) {
            let state = ChannelState {
                status: change.to,
                updated_at: timestamp(now),
            };
            consents.0.insert(change.channel, state);
        }
        next = next.with_consents(consents);
        next.updated_at = timestamp(now);
        next.version += 1;
        Ok(next)
    }

    /// The strong entity tag of this version, quoted as HTTP wants it.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }

    pub fn full_name(&self) -> String {
        [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What a PATCH does to one optional field.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Change<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

/// A validated partial update of the self-service fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfilePatch {
    pub first_name: Change<PersonName>,
    pub last_name: Change<PersonName>,
    pub gender: Change<Gender>,
    pub date_of_birth: Change<DateOfBirth>,
    pub language_code: Change<LanguageCode>,
    pub timezone: Change<TimeZone>,
    pub currency: Change<Currency>,
    /// From `email_allowed`, `sms_allowed`, `call_allowed`: changes to those consents.
    pub consents: Vec<(Channel, ConsentStatus)>,
    /// `None` removes the key.
    pub attributes: BTreeMap<AttributeKey, Option<AttributeValue>>,
    /// A new number: applied only with a right `code` (SPEC §4).
    pub phone: Option<PhoneNumber>,
    pub code: Option<OtpCode>,
    /// Ask for a new code even when `code` is present.
    pub resend: bool,
}

/// Profile fields a write sets by name (besides `attributes` and the phone flow); the
/// partner API uses the same list to tell profile fields from attributes.
pub const SETTABLE_FIELDS: &[&str] = &[
    "first_name",
    "last_name",
    "gender",
    "date_of_birth",
    "language_code",
    "timezone",
    "currency",
    "email_allowed",
    "sms_allowed",
    "call_allowed",
];

/// Fields a client may read but never write through PATCH.
pub const READ_ONLY_FIELDS: &[&str] = &[
    "user_id",
    "email",
    "phone_verified",
    "avatar_url",
    "created_at",
    "updated_at",
    "version",
];

impl ProfilePatch {
    /// Parses a JSON object, collecting every problem so the client sees them all at once.
    pub fn parse(
        body: &Map<String, Value>,
        today: NaiveDate,
        locales: &LocaleCatalog,
    ) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let mut patch = Self::default();
        if body.is_empty() {
            errors.add("body", "name at least one field to change");
        }
        for (name, value) in body {
            let field = name.as_str();
            match field {
                "first_name" => {
                    patch.first_name = text(field, value, PersonName::parse, &mut errors)
                }
                "last_name" => patch.last_name = text(field, value, PersonName::parse, &mut errors),
                "gender" => patch.gender = text(field, value, Gender::parse, &mut errors),
                "date_of_birth" => {
                    patch.date_of_birth =
                        text(field, value, |s| DateOfBirth::parse(s, today), &mut errors)
                }
                "language_code" => {
                    patch.language_code = text(field, value, |s| locales.language(s), &mut errors)
                }
                "timezone" => {
                    patch.timezone = text(field, value, |s| locales.timezone(s), &mut errors)
                }
                "currency" => {
                    patch.currency = text(field, value, |s| locales.currency(s), &mut errors)
                }
                "email_allowed" | "sms_allowed" | "call_allowed" => {
                    if let (Some(allowed), Some(channel)) = (
                        boolean(field, value, &mut errors),
                        Channel::from_profile_flag(field),
                    ) {
                        patch
                            .consents
                            .push((channel, ConsentStatus::from_allowed(allowed)));
                    }
                }
                "attributes" => patch.attributes = attributes(value, &mut errors),
                "phone" => match value {
                    Value::String(s) => match PhoneNumber::parse(s) {
                        Ok(p) => patch.phone = Some(p),
                        Err(message) => errors.add(field, message),
                    },
                    _ => errors.add(field, "must be an E.164 number such as +905321234567"),
                },
                "code" => match value {
                    Value::String(s) => match OtpCode::parse(s) {
                        Ok(c) => patch.code = Some(c),
                        Err(message) => errors.add(field, message),
                    },
                    _ => errors.add(field, "must be the 6-digit code sent by SMS, as a string"),
                },
                "resend" => patch.resend = boolean(field, value, &mut errors).unwrap_or_default(),
                _ if READ_ONLY_FIELDS.contains(&field) => errors.add(field, "is read-only"),
                _ => errors.add(field, "is not a profile field"),
            }
        }
        if !body.contains_key("phone") {
            for field in ["code", "resend"] {
                if body.contains_key(field) {
                    errors.add(field, "is only valid together with phone");
                }
            }
        }
        if errors.is_empty() {
            Ok(patch)
        } else {
            Err(errors)
        }
    }

    /// Whether anything besides a phone change is asked for.
    pub fn changes_profile_fields(&self) -> bool {
        !self.assignments().is_empty() || self.touches_attributes() || !self.consents.is_empty()
    }

    pub fn touches_attributes(&self) -> bool {
        !self.attributes.is_empty()
    }

    /// Text field assignments in stored form: `(field, None)` clears the field.
    pub fn assignments(&self) -> Vec<(&'static str, Option<String>)> {
        fn text<T>(
            out: &mut Vec<(&'static str, Option<String>)>,
            name: &'static str,
            change: &Change<T>,
            render: impl Fn(&T) -> String,
        ) {
            match change {
                Change::Keep => {}
                Change::Clear => out.push((name, None)),
                Change::Set(v) => out.push((name, Some(render(v)))),
            }
        }
        let mut out = Vec::new();
        text(&mut out, "first_name", &self.first_name, |v| {
            v.as_str().to_owned()
        });
        text(&mut out, "last_name", &self.last_name, |v| {
            v.as_str().to_owned()
        });
        text(&mut out, "gender", &self.gender, |v| v.as_str().to_owned());
        text(&mut out, "date_of_birth", &self.date_of_birth, |v| {
            v.to_iso()
        });
        text(&mut out, "language_code", &self.language_code, |v| {
            v.code().to_owned()
        });
        text(&mut out, "timezone", &self.timezone, |v| {
            v.name().to_owned()
        });
        text(&mut out, "currency", &self.currency, |v| {
            v.code().to_owned()
        });
        out
    }
}

fn text<T>(
    field: &str,
    value: &Value,
    parse: impl Fn(&str) -> Result<T, String>,
    errors: &mut FieldErrors,
) -> Change<T> {
    match value {
        Value::Null => Change::Clear,
        Value::String(s) => match parse(s) {
            Ok(v) => Change::Set(v),
            Err(message) => {
                errors.add(field, message);
                Change::Keep
            }
        },
        _ => {
            errors.add(field, "must be a string or null");
            Change::Keep
        }
    }
}

fn boolean(field: &str, value: &Value, errors: &mut FieldErrors) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        _ => {
            errors.add(field, "must be true or false");
            None
        }
    }
}

fn attributes(
    value: &Value,
    errors: &mut FieldErrors,
) -> BTreeMap<AttributeKey, Option<AttributeValue>> {
    let mut out = BTreeMap::new();
    let Value::Object(map) = value else {
        errors.add("attributes", "must be an object");
        return out;
    };
    if map.is_empty() {
        errors.add("attributes", "must name at least one key");
    }
    if map.len() > MAX_ATTRIBUTES {
        errors.add(
            "attributes",
            format!("must have at most {MAX_ATTRIBUTES} keys"),
        );
        return out;
    }
    for (key, raw) in map {
        let parsed =
            AttributeKey::parse(key).and_then(|k| AttributeValue::parse(raw).map(|v| (k, v)));
        match parsed {
            Ok((k, v)) => {
                out.insert(k, v);
            }
            Err(message) => errors.add(format!("attributes.{key}"), message),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn parse(v: Value) -> Result<ProfilePatch, FieldErrors> {
        ProfilePatch::parse(v.as_object().unwrap(), today(), &LocaleCatalog::all())
    }

    fn fields(e: FieldErrors) -> Vec<String> {
        e.fields().map(str::to_owned).collect()
    }

    #[test]
    fn parses_a_full_patch() {
        let p = parse(json!({
            "first_name": "Ada", "last_name": null, "gender": "female",
            "date_of_birth": "1990-05-17", "language_code": "en", "timezone": "Europe/Istanbul",
            "currency": "EUR", "email_allowed": true, "attributes": {"tier": "gold", "old": null}
        }))
        .unwrap();
        assert_eq!(p.last_name, Change::Clear);
        assert_eq!(p.attributes.len(), 2);
        assert_eq!(p.consents, [(Channel::Email, ConsentStatus::Subscribed)]);
        let names: Vec<_> = p.assignments().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "first_name",
                "last_name",
                "gender",
                "date_of_birth",
                "language_code",
                "timezone",
                "currency"
            ]
        );
    }

    #[test]
    fn names_every_bad_field() {
        let e = parse(json!({
            "user_id": "x", "phone": "0532", "nickname": "a", "first_name": 5,
            "date_of_birth": "2999-01-01", "email_allowed": "yes", "gender": "M"
        }))
        .unwrap_err();
        assert_eq!(
            fields(e),
            [
                "date_of_birth",
                "email_allowed",
                "first_name",
                "gender",
                "nickname",
                "phone",
                "user_id"
            ]
        );
    }

    #[test]
    fn attribute_limits() {
        let many: Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!(i))).collect();
        assert_eq!(
            fields(parse(json!({"attributes": many})).unwrap_err()),
            ["attributes"]
        );
        assert_eq!(
            fields(parse(json!({"attributes": {"bad key": 1}})).unwrap_err()),
            ["attributes.bad key"]
        );
        assert_eq!(
            fields(parse(json!({"attributes": [1]})).unwrap_err()),
            ["attributes"]
        );
        assert_eq!(fields(parse(json!({})).unwrap_err()), ["body"]);
    }

    #[test]
    fn every_settable_field_is_parsed() {
        for field in SETTABLE_FIELDS {
            let err = parse(json!({ *field: [] })).unwrap_err();
            let message = format!("{err:?}");
            assert!(
                !message.contains("not a profile field") && !message.contains("read-only"),
                "{field}"
            );
        }
    }

    #[test]
    fn phone_code_and_resend() {
        let p =
            parse(json!({"phone": "+905321234567", "code": "123456", "first_name": "A"})).unwrap();
        assert_eq!(p.phone.unwrap().e164(), "+905321234567");
        assert!(p.code.is_some() && !p.resend);
        assert_eq!(
            fields(parse(json!({"code": "123456"})).unwrap_err()),
            ["code"]
        );
        assert_eq!(
            fields(parse(json!({"resend": true})).unwrap_err()),
            ["resend"]
        );
        assert_eq!(
            fields(parse(json!({"phone": null})).unwrap_err()),
            ["phone"]
        );
        assert_eq!(
            fields(parse(json!({"phone": "+905321234567", "code": 123456})).unwrap_err()),
            ["code"]
        );
    }

    #[test]
    fn patched_applies_fields_and_attributes() {
        let user = UserId::parse("ada").unwrap();
        let now = Utc::now();
        let base = Profile::empty(&user, now);
        let p = parse(
            json!({"first_name": "Ada", "email_allowed": true, "attributes": {"a": 1, "b": null}}),
        )
        .unwrap();
        let next = base.patched(&p, now).unwrap();
        assert_eq!(next.first_name.as_deref(), Some("Ada"));
        assert!(next.email_allowed);
        assert_eq!(next.attributes.len(), 1);
        assert_eq!(next.version, 1);
        let clear = parse(json!({"first_name": null})).unwrap();
        assert_eq!(next.patched(&clear, now).unwrap().first_name, None);

        let mut full = base.clone();
        for i in 0..50 {
            full.attributes
                .insert(format!("k{i}"), AttributeValue::Bool(true));
        }
        assert_eq!(
            full.patched(&parse(json!({"attributes": {"new": 1}})).unwrap(), now),
            Err(TooManyAttributes)
        );
    }
}
