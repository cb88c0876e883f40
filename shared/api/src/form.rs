//! Request bodies in the three encodings clients send a form in: JSON, HTML forms
//! (`application/x-www-form-urlencoded`) and `multipart/form-data` (Django REST
//! framework views take all three, and the seeds' samples send the last two). Form values
//! are text; `typed` gives them the JSON types the profile's parser expects.

use std::collections::BTreeMap;

use domain::Channel;
use http::header::CONTENT_TYPE;
use lambda_http::Request;
use serde_json::{Map, Value};

use crate::ApiError;
use crate::http::{MAX_BODY_BYTES, json_object};

/// A body's fields, and the file parts of a multipart one.
#[derive(Debug, Default)]
pub struct FormBody {
    pub fields: Map<String, Value>,
    /// Parts named in `file_parts`, as bytes.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Whether the body was a form (its values text), not JSON.
    pub is_form: bool,
}

/// The body, whatever its encoding. `file_parts`: the multipart parts kept as bytes;
/// every other part must be text.
pub async fn read(req: &Request, file_parts: &[&str]) -> Result<FormBody, ApiError> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let mut body = FormBody {
            is_form: true,
            ..FormBody::default()
        };
        // Text fields are held to a JSON body's size; files to the upload limits.
        let mut text_bytes = 0;
        for (name, bytes) in crate::multipart::parts(req).await? {
            if file_parts.contains(&name.as_str()) {
                body.files.insert(name, bytes);
                continue;
            }
            text_bytes += bytes.len();
            if text_bytes > MAX_BODY_BYTES {
                return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
            }
            match String::from_utf8(bytes) {
                Ok(text) => body.fields.insert(name, Value::String(text)),
                Err(_) => return Err(ApiError::field(&name, "must be text")),
            };
        }
        return Ok(body);
    }
    // `curl -d '{...}'` labels a JSON body as a form: a body that opens like a JSON object
    // is read as one, as the JSON routes always have.
    let looks_like_json = req.body().as_ref().trim_ascii_start().starts_with(b"{");
    if content_type.starts_with("application/x-www-form-urlencoded") && !looks_like_json {
        let raw: &[u8] = req.body().as_ref();
        if raw.len() > MAX_BODY_BYTES {
            return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
        }
        let mut fields = Map::new();
        for (name, value) in form_urlencoded::parse(raw) {
            if fields
                .insert(name.to_string(), Value::String(value.into_owned()))
                .is_some()
            {
                return Err(ApiError::field(&name, "is given more than once"));
            }
        }
        return Ok(FormBody {
            fields,
            files: BTreeMap::new(),
            is_form: true,
        });
    }
    Ok(FormBody {
        fields: json_object(req)?,
        ..FormBody::default()
    })
}

/// Form text as the JSON a profile write takes: `true`/`false` (and Django's other
/// spellings) for the booleans (the consent flags, `resend`, `add_loyalty`), `attributes` as the JSON object its one field
/// holds. Anything else stays text, for the parser to judge and name.
pub fn typed(fields: Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    let boolean =
        |name: &str| Channel::from_profile_flag(name).is_some() || BOOLEANS.contains(&name);
    fields
        .into_iter()
        .map(|(name, value)| {
            let Value::String(text) = value else {
                return Ok((name, value));
            };
            let value = match name.as_str() {
                "attributes" => match serde_json::from_str::<Value>(&text) {
                    Ok(object @ Value::Object(_)) => object,
                    _ => {
                        return Err(ApiError::field(
                            "attributes",
                            "must be a JSON object, as text in one form field",
                        ));
                    }
                },
                n if boolean(n) && TRUE.contains(&text.as_str()) => Value::Bool(true),
                n if boolean(n) && FALSE.contains(&text.as_str()) => Value::Bool(false),
                _ => Value::String(text),
            };
            Ok((name, value))
        })
        .collect()
}

/// The texts Django REST framework's `BooleanField` reads as true and false, so a form
/// that served seed 000's view serves this one.
const TRUE: &[&str] = &[
    "true", "True", "TRUE", "t", "T", "yes", "Yes", "YES", "y", "Y", "on", "On", "ON", "1",
];
const FALSE: &[&str] = &[
    "false", "False", "FALSE", "f", "F", "no", "No", "NO", "n", "N", "off", "Off", "OFF", "0",
];

/// Boolean fields of profile writes besides the consent flags.
const BOOLEANS: &[&str] = &["resend", "add_loyalty"];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn form_text_becomes_the_types_a_profile_write_takes() {
        let fields = json!({
            "first_name": "Ada", "email_allowed": "True", "resend": "0",
            "attributes": "{\"tier\": \"gold\"}", "add_loyalty": "maybe", "phone": "+905321234567"
        });
        let typed = typed(fields.as_object().unwrap().clone()).unwrap();
        assert_eq!(
            Value::Object(typed),
            json!({
                "first_name": "Ada", "email_allowed": true, "resend": false,
                "attributes": {"tier": "gold"}, "add_loyalty": "maybe", "phone": "+905321234567"
            })
        );
        let refused = typed_err(json!({"attributes": "[1]"}));
        assert_eq!(
            refused.errors().fields().collect::<Vec<_>>(),
            ["attributes"]
        );
    }

    fn typed_err(fields: Value) -> ApiError {
        typed(fields.as_object().unwrap().clone()).unwrap_err()
    }
}
