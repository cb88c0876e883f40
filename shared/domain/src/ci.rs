//! Partner identifiers of a user (the reference API's "CI profile").

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::PhoneNumber;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CiProperty {
    KakaoId,
    PhoneNumber,
}

impl CiProperty {
    pub const ALL: [CiProperty; 2] = [Self::KakaoId, Self::PhoneNumber];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::KakaoId => "kakao_id",
            Self::PhoneNumber => "phone_number",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == raw)
    }

    /// A checked value for this property: `kakao_id` is exactly 10 digits (Kakao Sync's
    /// format); `phone_number` is country code + number, digits only, a real number.
    pub fn parse_value(self, value: &Value) -> Result<String, String> {
        let raw = value.as_str().ok_or("must be a string of digits")?;
        let digits = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
        match self {
            Self::KakaoId if digits && raw.len() == 10 => Ok(raw.to_owned()),
            Self::KakaoId => Err("must be exactly 10 digits".into()),
            Self::PhoneNumber if digits => PhoneNumber::parse(&format!("+{raw}"))
                .map(|_| raw.to_owned())
                .map_err(|_| {
                    "must be country code and number, digits only, such as 821012345678".into()
                }),
            Self::PhoneNumber => Err("must be digits only: country code and number".into()),
        }
    }
}

/// The stored identifiers; absent = not set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CiValues {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kakao_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
}

impl CiValues {
    pub fn get(&self, property: CiProperty) -> Option<&str> {
        match property {
            CiProperty::KakaoId => self.kakao_id.as_deref(),
            CiProperty::PhoneNumber => self.phone_number.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats() {
        assert!(
            CiProperty::KakaoId
                .parse_value(&json!("0123456789"))
                .is_ok()
        );
        for bad in [
            json!("123456789"),
            json!("01234567890"),
            json!(123456789),
            json!("01234a6789"),
        ] {
            assert!(CiProperty::KakaoId.parse_value(&bad).is_err(), "{bad}");
        }
        assert!(
            CiProperty::PhoneNumber
                .parse_value(&json!("821012345678"))
                .is_ok()
        );
        for bad in [
            json!("+821012345678"),
            json!("82-10-1234"),
            json!("999"),
            json!(821012345678u64),
        ] {
            assert!(CiProperty::PhoneNumber.parse_value(&bad).is_err(), "{bad}");
        }
    }
}
