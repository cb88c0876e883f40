use std::fmt;

use chrono::NaiveDate;
use serde::Serialize;

/// The subject of a token: the key of everything a user owns.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(format!("must be 1 to {} characters", Self::MAX_LEN));
        }
        // Printable ASCII: ids we mint (`usr_…`) and identity providers' subjects (UUIDs,
        // `auth0|…`) are, and a key a partner cannot mistype with a look-alike letter.
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("must be printable ASCII without spaces".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({})", self.0)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `raw` trimmed: not empty, at most `max_chars` characters, no control characters but
/// the ones `allowed`.
fn trimmed_text(raw: &str, max_chars: usize, allowed: &[char]) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("must not be empty; send null to clear it".into());
    }
    if trimmed.chars().count() > max_chars {
        return Err(format!("must have at most {max_chars} characters"));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && !allowed.contains(&c))
    {
        return Err(if allowed.is_empty() {
            "must not contain control characters".into()
        } else {
            "must not contain control characters other than line breaks".into()
        });
    }
    if trimmed.chars().any(is_spoofing_format_char) {
        return Err("must not contain invisible direction or zero-width characters".into());
    }
    Ok(trimmed.to_owned())
}

/// Invisible characters that reorder or hide text where a name is shown (a back-office
/// list, an email): bidirectional embeddings, overrides, isolates and marks, zero-width
/// space, word joiner, byte-order mark. The zero-width (non-)joiners stay: Persian and
/// Indic names need them.
fn is_spoofing_format_char(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{061C}'
            | '\u{200B}'
            | '\u{2060}'
            | '\u{FEFF}'
    )
}

/// A postal address as one text: trimmed, 1..=500 characters, line breaks allowed, no
/// other control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address(String);

impl Address {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(raw: &str) -> Result<Self, String> {
        trimmed_text(raw, Self::MAX_CHARS, &['\n']).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A first or last name: trimmed, 1..=255 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PersonName(String);

impl PersonName {
    pub const MAX_CHARS: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, String> {
        trimmed_text(raw, Self::MAX_CHARS, &[]).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An address checked by the `email_address` crate (RFC 5321/5322 syntax).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.len() > 254 {
            return Err("must have at most 254 characters".into());
        }
        email_address::EmailAddress::parse_with_options(
            trimmed,
            email_address::Options::default().without_display_text(),
        )
        .map(|_| Self(trimmed.to_owned()))
        .map_err(|_| "must be a valid email address".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form one account claims: lower case, so `Ada@Example.com` and
    /// `ada@example.com` cannot belong to two accounts.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }

    /// The address as it may be shown or logged: `a***@example.com`.
    pub fn masked(&self) -> String {
        match self.0.split_once('@') {
            Some((local, domain)) => {
                let first = local.chars().next().map(String::from).unwrap_or_default();
                format!("{first}***@{domain}")
            }
            None => "***".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    Male,
    Female,
    Other,
}

impl Gender {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "male" => Ok(Self::Male),
            "female" => Ok(Self::Female),
            "other" => Ok(Self::Other),
            _ => Err("must be one of male, female, other, or null".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Male => "male",
            Self::Female => "female",
            Self::Other => "other",
        }
    }
}

/// A calendar date `YYYY-MM-DD` between 1900-01-01 and today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DateOfBirth(NaiveDate);

impl DateOfBirth {
    pub fn earliest() -> NaiveDate {
        NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date")
    }

    pub fn parse(raw: &str, today: NaiveDate) -> Result<Self, String> {
        let well_formed = raw.len() == 10
            && raw.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        let date = well_formed
            .then(|| NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok())
            .flatten()
            .ok_or_else(|| "must be a calendar date formatted YYYY-MM-DD".to_string())?;
        if date < Self::earliest() {
            return Err("must not be before 1900-01-01".into());
        }
        if date > today {
            return Err("must not be in the future".into());
        }
        Ok(Self(date))
    }

    pub fn to_iso(self) -> String {
        self.0.format("%Y-%m-%d").to_string()
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn names_refuse_invisible_direction_and_zero_width_characters() {
        for spoof in [
            "Ada\u{202E}ecalevoL",
            "Ada\u{2066}x\u{2069}",
            "A\u{200B}da",
            "Ada\u{200F}",
            "\u{FEFF}Ada",
        ] {
            assert!(PersonName::parse(spoof).is_err(), "{spoof:?}");
            assert!(Address::parse(spoof).is_err(), "{spoof:?}");
        }
        // Persian and Indic names need the zero-width (non-)joiners.
        assert!(PersonName::parse("\u{0645}\u{06CC}\u{200C}\u{0631}\u{0648}\u{062F}").is_ok());
        assert!(PersonName::parse("Ada Lovelace").is_ok());
    }
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    #[test]
    fn date_of_birth_bounds_and_format() {
        assert!(DateOfBirth::parse("1990-05-17", today()).is_ok());
        assert!(DateOfBirth::parse("1900-01-01", today()).is_ok());
        assert!(DateOfBirth::parse("2026-11-22", today()).is_ok());
        for bad in [
            "2999-01-01",
            "1899-12-31",
            "1990-5-17",
            "1990-02-30",
            "17/05/1990",
            "",
            "1990-05-17T00:00",
        ] {
            assert!(DateOfBirth::parse(bad, today()).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(PersonName::parse("  Ada ").unwrap().as_str(), "Ada");
        assert!(PersonName::parse(&"é".repeat(255)).is_ok());
        assert!(PersonName::parse(&"é".repeat(256)).is_err());
        assert!(PersonName::parse("   ").is_err());
        assert!(PersonName::parse("A\u{0}da").is_err());
    }

    #[test]
    fn gender_and_email_and_user_id() {
        assert_eq!(Gender::parse("other").unwrap(), Gender::Other);
        assert!(Gender::parse("M").is_err());
        assert!(Email::parse("ada@example.com").is_ok());
        assert!(Email::parse("not-an-email").is_err());
        assert!(Email::parse("Ada <ada@example.com>").is_err());
        assert!(UserId::parse("User_1").is_ok());
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse("a b").is_err());
        assert!(UserId::parse("auth0|5f7c8ec7c33c6c004bbafe82").is_ok());
        for look_alike in ["usеr_1", "ü", "a\u{200b}b", "tab\there"] {
            assert!(UserId::parse(look_alike).is_err(), "{look_alike}");
        }
        assert!(UserId::parse(&"x".repeat(129)).is_err());
    }
}
