//! A JSON body's fields, read one by one into their types: every refusal names its field,
//! and a field the request does not take is refused too. The errors go out together.

use domain::FieldErrors;
use serde_json::{Map, Value};

use crate::ApiError;

pub struct Fields<'a> {
    body: &'a Map<String, Value>,
    errors: FieldErrors,
}

impl<'a> Fields<'a> {
    /// The body of a request that takes only `allowed`.
    pub fn of(body: &'a Map<String, Value>, allowed: &[&str]) -> Self {
        let mut errors = FieldErrors::default();
        for name in body.keys().filter(|n| !allowed.contains(&n.as_str())) {
            errors.add(name.as_str(), "is not a field of this request");
        }
        Self { body, errors }
    }

    /// A required string field, parsed.
    pub fn required<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        if !self.body.contains_key(name) {
            self.errors.add(name, "is required");
            return None;
        }
        self.optional(name, parse)
    }

    /// A string field that may be left out, parsed.
    pub fn optional<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match self.body.get(name)? {
            Value::String(raw) => parse(raw).map_err(|m| self.errors.add(name, m)).ok(),
            _ => {
                self.errors.add(name, "must be a string");
                None
            }
        }
    }

    /// Adds a refusal of `name` that no single field shows (two that exclude each other).
    pub fn refuse(&mut self, name: &str, message: &str) {
        self.errors.add(name, message);
    }

    /// Every refusal at once, or none.
    pub fn finish(self) -> Result<(), ApiError> {
        self.errors.into_result().map_err(ApiError::from)
    }
}
