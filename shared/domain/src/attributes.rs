//! Free-form profile attributes: bounded keys and scalar values.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const MAX_ATTRIBUTES: usize = 50;
pub const MAX_ATTRIBUTE_VALUE_BYTES: usize = 2048;

/// `[A-Za-z0-9_.-]{1,64}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct AttributeKey(String);

impl AttributeKey {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err("attribute keys must match [A-Za-z0-9_.-]{1,64}".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A string (≤ 2048 bytes), a number or a boolean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttributeValue {
    Bool(bool),
    Number(serde_json::Number),
    Text(String),
}

impl AttributeValue {
    /// `Ok(None)` for JSON null, which removes the key.
    pub fn parse(raw: &Value) -> Result<Option<Self>, String> {
        match raw {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(Self::Bool(*b))),
            Value::Number(n) => number(n).map(|n| Some(Self::Number(n))),
            Value::String(s) if s.len() <= MAX_ATTRIBUTE_VALUE_BYTES => {
                Ok(Some(Self::Text(s.clone())))
            }
            Value::String(_) => Err(format!(
                "attribute values must be at most {MAX_ATTRIBUTE_VALUE_BYTES} bytes"
            )),
            Value::Array(_) | Value::Object(_) => {
                Err("attribute values must be a string, number, boolean or null".into())
            }
        }
    }
}

/// Integers JSON clients hold exactly (JavaScript's safe range): anything beyond was
/// rounded by the parser already, so it is refused rather than stored wrong. A float
/// that large is an integer too (and may be an integer literal the parser rounded), so
/// it goes the same way.
const MAX_EXACT_INTEGER: u64 = (1 << 53) - 1;
/// DynamoDB stores numbers up to 9.9999999999999999999999999999999999999E+125 in magnitude
/// and down to 1E-130.
const MAX_MAGNITUDE: f64 = 1e126;
const MIN_MAGNITUDE: f64 = 1e-130;

fn number(n: &serde_json::Number) -> Result<serde_json::Number, String> {
    if let Some(i) = n.as_i64() {
        return if i.unsigned_abs() <= MAX_EXACT_INTEGER {
            Ok(n.clone())
        } else {
            Err(format!(
                "integers must be within ±{MAX_EXACT_INTEGER}; send larger ones as strings"
            ))
        };
    }
    if n.as_u64().is_some() {
        return Err(format!(
            "integers must be within ±{MAX_EXACT_INTEGER}; send larger ones as strings"
        ));
    }
    let f = n.as_f64().unwrap_or(f64::INFINITY);
    let magnitude = f.abs();
    if !f.is_finite()
        || magnitude >= MAX_MAGNITUDE
        || (magnitude != 0.0 && magnitude < MIN_MAGNITUDE)
    {
        return Err("numbers must be between 1e-130 and 9.99e125 in magnitude".into());
    }
    if f.fract() == 0.0 && magnitude > MAX_EXACT_INTEGER as f64 {
        return Err(format!(
            "integers must be within ±{MAX_EXACT_INTEGER}; send larger ones as strings"
        ));
    }
    Ok(n.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_and_values() {
        assert!(AttributeKey::parse("tier.level-2_x").is_ok());
        assert!(AttributeKey::parse("").is_err());
        assert!(AttributeKey::parse("has space").is_err());
        assert!(AttributeKey::parse(&"k".repeat(65)).is_err());
        assert_eq!(AttributeValue::parse(&json!(null)).unwrap(), None);
        assert!(AttributeValue::parse(&json!("x".repeat(2048))).is_ok());
        assert!(AttributeValue::parse(&json!("x".repeat(2049))).is_err());
        assert!(AttributeValue::parse(&json!([1])).is_err());
        for bad in [
            "1e200",
            "-1e200",
            "1e-200",
            "9007199254740993",
            "1e125",
            "18446744073709551615",
            "9.99e125",
        ] {
            let v: Value = serde_json::from_str(bad).unwrap();
            assert!(AttributeValue::parse(&v).is_err(), "{bad}");
        }
        for good in [
            "9007199254740991",
            "-9007199254740991",
            "3.5",
            "0",
            "1e15",
            "0.000001",
            "1e-130",
            "-1e-130",
        ] {
            let v: Value = serde_json::from_str(good).unwrap();
            assert!(AttributeValue::parse(&v).is_ok(), "{good}");
        }
        assert!(AttributeValue::parse(&json!({"a": 1})).is_err());
        assert_eq!(
            AttributeValue::parse(&json!(3.5)).unwrap(),
            Some(AttributeValue::Number(
                serde_json::Number::from_f64(3.5).unwrap()
            ))
        );
    }
}
