use std::fmt;

use serde::Serialize;

/// A dialable number in E.164 form, validated against libphonenumber's metadata.
/// `Debug` and `Display` mask it so it never reaches a log whole.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<Self, String> {
        const HINT: &str = "must be an E.164 number such as +905321234567";
        let digits = raw.strip_prefix('+').ok_or(HINT)?;
        if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HINT.into());
        }
        let number = phonenumber::parse(None, raw).map_err(|_| HINT.to_string())?;
        if !phonenumber::is_valid(&number) {
            return Err("is not a valid phone number for its country".into());
        }
        Ok(Self(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    /// A number written nationally (`5321234567`, or with its trunk prefix) in `region`
    /// (ISO 3166-1 alpha-2), as seed 002's GET shows it beside `phone_code`.
    pub fn parse_national(digits: &str, region: &str) -> Result<Self, String> {
        const HINT: &str = "must be a national number of digits";
        if digits.is_empty() || digits.len() > 17 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HINT.into());
        }
        let id: phonenumber::country::Id = region.parse().map_err(|_| HINT.to_string())?;
        let number = phonenumber::parse(Some(id), digits).map_err(|_| HINT.to_string())?;
        if !phonenumber::is_valid(&number) {
            return Err("is not a valid phone number for its country".into());
        }
        Ok(Self(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    /// The full number, for the SMS gateway and the uniqueness marker only.
    pub fn e164(&self) -> &str {
        &self.0
    }

    /// The number as seed 002 shows it: the calling code (`+90`), the national number
    /// (`5321234567`) and the region (`TR`).
    pub fn parts(&self) -> PhoneParts {
        let parsed = self.parsed();
        PhoneParts {
            calling_code: format!("+{}", parsed.code().value()),
            national: parsed.national().value().to_string(),
            region: parsed.country().id().map(|id| id.as_ref().to_owned()),
        }
    }

    /// Whether the number may reach a mobile phone: libphonenumber says mobile, or
    /// cannot tell it from a fixed line (the US, Canada). Fixed lines, premium-rate,
    /// freephone, VoIP, pagers and the rest are not texted codes.
    pub fn may_be_mobile(&self) -> bool {
        use phonenumber::Type;
        matches!(
            self.parsed().number_type(&phonenumber::metadata::DATABASE),
            Type::Mobile | Type::FixedLineOrMobile
        )
    }

    /// The number's country, when its calling code names one (not for `+800` and other
    /// non-geographic codes).
    pub fn country(&self) -> Option<crate::CountryCode> {
        let id = self.parsed().country().id()?;
        crate::CountryCode::parse(id.as_ref()).ok()
    }

    fn parsed(&self) -> phonenumber::PhoneNumber {
        phonenumber::parse(None, &self.0).expect("a stored E.164 number parses")
    }

    /// `+90*******67`: enough to recognise, not enough to dial.
    pub fn masked(&self) -> String {
        let s = &self.0;
        let keep_head = 3.min(s.len());
        let keep_tail = 2.min(s.len().saturating_sub(keep_head));
        let hidden = s.len() - keep_head - keep_tail;
        format!(
            "{}{}{}",
            &s[..keep_head],
            "*".repeat(hidden),
            &s[s.len() - keep_tail..]
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneParts {
    pub calling_code: String,
    pub national: String,
    pub region: Option<String>,
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// How long a number proven by a change waits before it stands for the holder
/// (`Profile::settled_phone`).
pub const NUMBER_SETTLES: chrono::Duration = chrono::Duration::hours(24);

/// Whether a number proven by a change at `changed_at` (RFC 3339; `None`: not by a
/// change) has settled by `now`. A time that cannot be read counts as just now.
pub fn number_settled(changed_at: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> bool {
    changed_at.is_none_or(|at| {
        chrono::DateTime::parse_from_rfc3339(at)
            .is_ok_and(|at| now - at.with_timezone(&chrono::Utc) >= NUMBER_SETTLES)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_national_number_is_read_in_its_region() {
        let p = PhoneNumber::parse_national("5321234567", "TR").unwrap();
        assert_eq!(p.e164(), "+905321234567");
        assert_eq!(p.parts().national, "5321234567");
        // With the trunk prefix, as people write it at home.
        assert_eq!(PhoneNumber::parse_national("05321234567", "TR").unwrap(), p);
        assert!(PhoneNumber::parse_national("5321234567", "XX").is_err());
        assert!(PhoneNumber::parse_national("12", "TR").is_err());
        assert!(PhoneNumber::parse_national("+905321234567", "TR").is_err());
    }

    #[test]
    fn accepts_valid_e164_and_masks_it() {
        let p = PhoneNumber::parse("+905321234567").unwrap();
        assert_eq!(p.e164(), "+905321234567");
        assert_eq!(p.masked(), "+90********67");
        assert!(!format!("{p:?} {p}").contains("5321234"));
    }

    #[test]
    fn rejects_non_e164_and_invalid_numbers() {
        for bad in [
            "905321234567",
            "+90 532 123 45 67",
            "+",
            "+1234",
            "+999123456789",
            "+90abc",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad}");
        }
    }
}
