//! Messages per field name, collected so a client learns every problem at once. The
//! HTTP edge turns them into a 400; the domain only names the fields.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_default().push(message.into());
    }

    pub fn one(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::default();
        errors.add(field, message);
        errors
    }

    /// Adds every message of `other`.
    pub fn merge(&mut self, other: Self) {
        for (field, messages) in other.0 {
            self.0.entry(field).or_default().extend(messages);
        }
    }

    /// Moves `from`'s messages to `to`: a route that spells a field its own way names it
    /// so in its errors.
    pub fn rename(&mut self, from: &str, to: &str) {
        if let Some(messages) = self.0.remove(from) {
            self.0.entry(to.to_owned()).or_default().extend(messages);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first field refused and what was said of it: one line for a report.
    pub fn first(&self) -> Option<String> {
        self.0
            .iter()
            .next()
            .map(|(field, messages)| format!("{field}: {}", messages.join("; ")))
    }

    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// `Ok(())` when nothing was added.
    pub fn into_result(self) -> Result<(), Self> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}
