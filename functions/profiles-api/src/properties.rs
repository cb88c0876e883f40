//! A partner's `properties` object, read into the same `ProfilePatch` self-service uses:
//! `*_flag` keys are consents, profile field names go through the §4 parser, protected
//! fields are refused, and every other key is an attribute.

use api::partner::{MAX_PROPERTIES, UserFailure};
use domain::profile::READ_ONLY_FIELDS;
use domain::{Channel, ConsentStatus, LocaleCatalog, ProfilePatch};
use serde_json::{Map, Value};

/// Names that are neither settable fields nor free attributes.
/// `phone` is writable only through SMS verification, never by a partner.
const PROTECTED: &[&str] = &["phone", "attributes", "code", "resend", "consents"];

pub fn to_patch(
    properties: &Map<String, Value>,
    today: chrono::NaiveDate,
    locales: &LocaleCatalog,
) -> Result<ProfilePatch, UserFailure> {
    if properties.is_empty() {
        return Err(UserFailure::invalid_property(
            "Invalid property: properties is empty.",
        ));
    }
    if properties.len() > MAX_PROPERTIES {
        return Err(UserFailure::invalid_property(format!(
            "Invalid property: at most {MAX_PROPERTIES} properties per user."
        )));
    }
    let mut invalid = Vec::new();
    let mut fields = Map::new();
    let mut attributes = Map::new();
    let mut consents = Vec::new();
    for (key, value) in properties {
        if value.is_null() {
            invalid.push(key.clone());
        } else if let Some(channel) = Channel::from_api_flag(key) {
            match value.as_str().and_then(ConsentStatus::parse_api) {
                Some(status) => consents.push((channel, status)),
                None => invalid.push(key.clone()),
            }
        } else if READ_ONLY_FIELDS.contains(&key.as_str()) || PROTECTED.contains(&key.as_str()) {
            invalid.push(key.clone());
        } else if ProfilePatch::sets_by_name(key) {
            fields.insert(key.clone(), value.clone());
        } else {
            attributes.insert(key.clone(), value.clone());
        }
    }
    if !attributes.is_empty() {
        fields.insert("attributes".into(), Value::Object(attributes));
    }
    let mut patch = if fields.is_empty() {
        ProfilePatch::default()
    } else {
        ProfilePatch::parse(&fields, today, locales).unwrap_or_else(|errors| {
            invalid.extend(
                errors
                    .fields()
                    .map(|f| f.strip_prefix("attributes.").unwrap_or(f).to_owned()),
            );
            ProfilePatch::default()
        })
    };
    if !invalid.is_empty() {
        invalid.sort();
        invalid.dedup();
        return Err(UserFailure::invalid_property(format!(
            "Invalid property: {}.",
            invalid.join(", ")
        )));
    }
    patch.consents.extend(consents);
    // `email_allowed` and `email_flag` name one channel: one write may set it once.
    let mut seen = std::collections::BTreeSet::new();
    let twice: Vec<&str> = patch
        .consents
        .iter()
        .filter(|(channel, _)| !seen.insert(*channel))
        .map(|(channel, _)| channel.as_str())
        .collect();
    if !twice.is_empty() {
        return Err(UserFailure::invalid_property(format!(
            "Invalid property: the {} consent is named twice.",
            twice.join(", ")
        )));
    }
    Ok(patch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<ProfilePatch, UserFailure> {
        to_patch(
            v.as_object().unwrap(),
            chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
            &LocaleCatalog::all(),
        )
    }

    #[test]
    fn the_reference_example_reads_as_attributes_and_consents() {
        let p = parse(json!({"user_name": "lucas", "age": "30", "gender": "male", "info_flag": "Subscribed", "mkt_flag": "Subscribed"})).unwrap();
        assert_eq!(p.attributes.len(), 2);
        assert_eq!(p.consents.len(), 2);
        let fields: Vec<_> = p
            .fields
            .iter()
            .map(|(f, v)| (f.name(), v.as_ref().map(|v| v.as_str())))
            .collect();
        assert_eq!(fields, [("gender", Some("male"))]);
    }

    #[test]
    fn invalid_properties_are_named() {
        for (body, named) in [
            (json!({"age": null}), "age"),
            (json!({"phone": "+905321234567"}), "phone"),
            (json!({"user_id": "x"}), "user_id"),
            (json!({"version": 3}), "version"),
            (json!({"mkt_flag": "Undefined"}), "mkt_flag"),
            (json!({"mkt_flag": "subscribed"}), "mkt_flag"),
            (json!({"gender": "M"}), "gender"),
            (json!({"date_of_birth": "2999-01-01"}), "date_of_birth"),
            (json!({"bad key": 1}), "bad key"),
            (json!({"nested": {"a": 1}}), "nested"),
        ] {
            let failure = parse(body.clone()).unwrap_err();
            assert_eq!(failure.code, 4005, "{body}");
            assert!(failure.msg.contains(named), "{body}: {}", failure.msg);
        }
        let many: Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!(i))).collect();
        assert_eq!(parse(Value::Object(many)).unwrap_err().code, 4005);
    }
}
