//! The profile: the entity, and a PATCH parsed into checked values.
//!
//! `Field` is the one registry of the self-service profile fields: the patch parser,
//! the in-memory apply, the store's item mapping and update expression, the partner
//! property mapping and the API body all iterate it. Adding a field is one variant and
//! its three match arms below; the compiler points at each.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::otp::OtpCode;
use crate::{
    Address, AttributeKey, AttributeValue, Channel, ChannelState, ConsentStatus, Consents,
    CountryCode, DateOfBirth, Email, FieldErrors, Gender, LocaleCatalog, MAX_ATTRIBUTES,
    PersonName, PhoneNumber, UserId,
};

/// How every stored timestamp is written: RFC 3339, UTC, milliseconds.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A self-service profile field: text in a canonical form, or absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    FirstName,
    LastName,
    Gender,
    DateOfBirth,
    LanguageCode,
    Timezone,
    Currency,
    Country,
    Address,
}

/// What a field's parser may consult besides the value.
pub struct ParseContext<'a> {
    pub today: NaiveDate,
    pub locales: &'a LocaleCatalog,
}

/// A field's value in canonical form; only `Field::parse` makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldValue(String);

impl FieldValue {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Field {
    pub const ALL: [Field; 9] = [
        Self::FirstName,
        Self::LastName,
        Self::Gender,
        Self::DateOfBirth,
        Self::LanguageCode,
        Self::Timezone,
        Self::Currency,
        Self::Country,
        Self::Address,
    ];

    /// The name in JSON bodies, stored items and partner properties.
    pub fn name(self) -> &'static str {
        match self {
            Self::FirstName => "first_name",
            Self::LastName => "last_name",
            Self::Gender => "gender",
            Self::DateOfBirth => "date_of_birth",
            Self::LanguageCode => "language_code",
            Self::Timezone => "timezone",
            Self::Currency => "currency",
            Self::Country => "country",
            Self::Address => "address",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// A client's text parsed and put in canonical form (`"en"`, `"1990-05-17"`).
    pub fn parse(self, raw: &str, cx: &ParseContext<'_>) -> Result<FieldValue, String> {
        let canonical = match self {
            Self::FirstName | Self::LastName => PersonName::parse(raw)?.as_str().to_owned(),
            Self::Gender => Gender::parse(raw)?.as_str().to_owned(),
            Self::DateOfBirth => DateOfBirth::parse(raw, cx.today)?.to_iso(),
            Self::LanguageCode => cx.locales.language(raw)?.code().to_owned(),
            Self::Timezone => cx.locales.timezone(raw)?.name().to_owned(),
            Self::Currency => cx.locales.currency(raw)?.code().to_owned(),
            Self::Country => CountryCode::parse(raw)?.code().to_owned(),
            Self::Address => Address::parse(raw)?.as_str().to_owned(),
        };
        Ok(FieldValue(canonical))
    }
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

/// A user's profile. How it is stored is the store's business; how it is shown, the
/// HTTP edge's.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub user_id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub phone_verified: bool,
    /// When the holder last proved a new number by a change (RFC 3339); `None` for a
    /// number proven at sign-up or set by an administrator.
    pub phone_changed_at: Option<String>,
    /// When an operator disabled the account (RFC 3339); `None` while it is enabled.
    pub disabled_at: Option<String>,
    /// The fields that are set, in canonical form.
    pub fields: BTreeMap<Field, String>,
    pub attributes: BTreeMap<String, AttributeValue>,
    /// Every consent channel ever set.
    pub consents: Consents,
    pub avatar_url: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

impl Profile {
    /// The number the account proved, if it has one.
    pub fn proven_phone(&self) -> Option<PhoneNumber> {
        self.phone
            .as_deref()
            .filter(|_| self.phone_verified)
            .and_then(|p| PhoneNumber::parse(p).ok())
    }

    /// The proven number, once it has been the account's for a day: a number changed
    /// since may be a thief's (a stolen session proves a new number by a code the thief
    /// receives), so it neither confirms an email change nor receives a reset or an
    /// erasure code until then.
    pub fn settled_phone(&self, now: DateTime<Utc>) -> Option<PhoneNumber> {
        self.proven_phone()
            .filter(|_| crate::phone::number_settled(self.phone_changed_at.as_deref(), now))
    }

    /// The state before a profile's first write.
    pub fn empty(user: &UserId, now: DateTime<Utc>) -> Self {
        let now = timestamp(now);
        Self {
            user_id: user.as_str().to_owned(),
            email: None,
            phone: None,
            phone_verified: false,
            phone_changed_at: None,
            disabled_at: None,
            fields: BTreeMap::new(),
            attributes: BTreeMap::new(),
            consents: Consents::default(),
            avatar_url: None,
            created_at: now.clone(),
            updated_at: now,
            version: 0,
        }
    }

    pub fn field(&self, field: Field) -> Option<&str> {
        self.fields.get(&field).map(String::as_str)
    }

    /// The profile boolean of a consent channel (`email_allowed`, ...).
    pub fn allows(&self, channel: Channel) -> bool {
        self.consents.allows(channel)
    }

    /// This profile with `patch` applied and the version moved on: what the store's
    /// conditional write leaves behind when it writes the whole item.
    pub fn patched(
        &self,
        patch: &ProfilePatch,
        now: DateTime<Utc>,
    ) -> Result<Self, TooManyAttributes> {
        let mut next = self.clone();
        for (field, value) in &patch.fields {
            match value {
                Some(v) => next.fields.insert(*field, v.as_str().to_owned()),
                None => next.fields.remove(field),
            };
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
        for change in self.consents.diff(&patch.consents) {
            let state = ChannelState {
                status: change.to,
                updated_at: timestamp(now),
            };
            next.consents.0.insert(change.channel, state);
        }
        next.updated_at = timestamp(now);
        next.version += 1;
        Ok(next)
    }

    /// The strong entity tag of this version, quoted as HTTP wants it.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }

    pub fn full_name(&self) -> String {
        [self.field(Field::FirstName), self.field(Field::LastName)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A validated partial update of the self-service fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfilePatch {
    /// `None` clears the field.
    pub fields: BTreeMap<Field, Option<FieldValue>>,
    /// From `email_allowed`, `sms_allowed`, `call_allowed`: changes to those consents.
    pub consents: Vec<(Channel, ConsentStatus)>,
    /// `None` removes the key.
    pub attributes: BTreeMap<AttributeKey, Option<AttributeValue>>,
    /// A new number: applied only with a right `code`.
    pub phone: Option<PhoneNumber>,
    pub code: Option<OtpCode>,
    /// Ask for a new code even when `code` is present.
    pub resend: bool,
    /// A new address: applied only with the `token` sent to it and the `token_checksum`
    /// sent to the account's current proven email or number.
    pub email: Option<Email>,
    pub token: Option<OtpCode>,
    pub token_checksum: Option<OtpCode>,
    /// A new image, stored already: the profile points at it in the same write as the
    /// rest (a multipart PATCH with `avatar`). Never parsed from a body.
    pub avatar: Option<AvatarPointer>,
}

/// Where a profile's image is: its public URL and the object keys it is stored under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarPointer {
    pub url: String,
    pub keys: Vec<String>,
}

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
    /// Whether a write sets `name` by name: a field or a consent boolean. The partner
    /// API uses it to tell profile fields from attributes.
    pub fn sets_by_name(name: &str) -> bool {
        Field::from_name(name).is_some() || Channel::from_profile_flag(name).is_some()
    }

    /// Parses a JSON object, collecting every problem so the client sees them all at once.
    pub fn parse(
        body: &Map<String, Value>,
        today: NaiveDate,
        locales: &LocaleCatalog,
    ) -> Result<Self, FieldErrors> {
        let cx = ParseContext { today, locales };
        let mut errors = FieldErrors::default();
        let mut patch = Self::default();
        if body.is_empty() {
            errors.add("body", "name at least one field to change");
        }
        for (name, value) in body {
            let name = name.as_str();
            if let Some(field) = Field::from_name(name) {
                match value {
                    Value::Null => {
                        patch.fields.insert(field, None);
                    }
                    Value::String(s) => match field.parse(s, &cx) {
                        Ok(v) => {
                            patch.fields.insert(field, Some(v));
                        }
                        Err(message) => errors.add(name, message),
                    },
                    _ => errors.add(name, "must be a string or null"),
                }
                continue;
            }
            if let Some(channel) = Channel::from_profile_flag(name) {
                if let Some(allowed) = boolean(name, value, &mut errors) {
                    patch
                        .consents
                        .push((channel, ConsentStatus::from_allowed(allowed)));
                }
                continue;
            }
            match name {
                "attributes" => patch.attributes = attributes(value, &mut errors),
                "phone" => {
                    let not_string = "must be an E.164 number such as +905321234567";
                    patch.phone = string(name, value, not_string, &mut errors, PhoneNumber::parse);
                }
                "code" => {
                    let not_string = "must be the 6-digit code sent by SMS, as a string";
                    patch.code = string(name, value, not_string, &mut errors, OtpCode::parse);
                }
                "resend" => patch.resend = boolean(name, value, &mut errors).unwrap_or_default(),
                "email" => {
                    patch.email = string(
                        name,
                        value,
                        "must be an email address",
                        &mut errors,
                        Email::parse,
                    );
                }
                "token" => {
                    let not_string = "must be the 6-digit token sent by email, as a string";
                    patch.token = string(name, value, not_string, &mut errors, |s| {
                        OtpCode::parse(s).map_err(|_| "must be the 6-digit token sent by email")
                    });
                }
                "token_checksum" => {
                    let not_string =
                        "must be the 6-digit code sent to your current email or phone, as a string";
                    patch.token_checksum = string(name, value, not_string, &mut errors, |s| {
                        OtpCode::parse(s).map_err(
                            |_| "must be the 6-digit code sent to your current email or phone",
                        )
                    });
                }
                _ if READ_ONLY_FIELDS.contains(&name) => errors.add(name, "is read-only"),
                _ => errors.add(name, "is not a profile field"),
            }
        }
        if !body.contains_key("phone") && !body.contains_key("email") {
            for field in ["code", "resend"] {
                if body.contains_key(field) {
                    errors.add(field, "is only valid together with phone");
                }
            }
        }
        if !body.contains_key("email") {
            for field in ["token", "token_checksum"] {
                if body.contains_key(field) {
                    errors.add(field, "is only valid together with email");
                }
            }
        }
        errors.into_result().map(|()| patch)
    }

    /// Whether anything besides a phone change is asked for.
    pub fn changes_profile_fields(&self) -> bool {
        !self.fields.is_empty()
            || self.touches_attributes()
            || !self.consents.is_empty()
            || self.avatar.is_some()
    }

    pub fn touches_attributes(&self) -> bool {
        !self.attributes.is_empty()
    }

    /// Only consent changes: no field, no attribute.
    pub fn only_consents(&self) -> bool {
        self.fields.is_empty() && !self.touches_attributes()
    }
}

/// A string field parsed into its type; a refusal names the field.
fn string<T, M: Into<String>>(
    field: &str,
    value: &Value,
    not_string: &str,
    errors: &mut FieldErrors,
    parse: impl FnOnce(&str) -> Result<T, M>,
) -> Option<T> {
    let Value::String(s) = value else {
        errors.add(field, not_string);
        return None;
    };
    parse(s).map_err(|message| errors.add(field, message)).ok()
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
mod tests;
