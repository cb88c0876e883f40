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
            Value::Number(n) => Ok(Some(Self::Number(n.clone()))),
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
        assert!(AttributeValue::parse(&json!({"a": 1})).is_err());
        assert_eq!(
            AttributeValue::parse(&json!(3.5)).unwrap(),
            Some(AttributeValue::Number(
                serde_json::Number::from_f64(3.5).unwrap()
            ))
        );
    }
}
