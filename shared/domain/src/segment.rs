//! User segments: a catalog managed by partner systems, memberships per user.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::FieldErrors;

/// A positive whole number, at most 10 digits (the width of its sort key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SegmentId(u64);

impl SegmentId {
    pub const MAX: u64 = 9_999_999_999;

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.parse::<u64>() {
            Ok(n)
                if (1..=Self::MAX).contains(&n)
                    && !raw.starts_with('+')
                    && !raw.starts_with('0') =>
            {
                Ok(Self(n))
            }
            _ => Err(format!(
                "must be a positive whole number up to {}",
                Self::MAX
            )),
        }
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

/// A catalog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub segment_id: SegmentId,
    pub name: String,
    /// Lower first: 0 is the top priority.
    pub priority: u32,
    pub self_assignable: bool,
}

impl Segment {
    pub const MAX_NAME_CHARS: usize = 100;
    pub const MAX_PRIORITY: u32 = 1_000_000;

    /// The body of `PUT /api/v1/segments/{segment_id}`: the whole entry.
    pub fn parse(segment_id: SegmentId, body: &Map<String, Value>) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let mut name = None;
        let mut priority = 0;
        let mut self_assignable = false;
        for (field, value) in body {
            match field.as_str() {
                "name" => match value.as_str().map(str::trim) {
                    Some(n)
                        if !n.is_empty()
                            && n.chars().count() <= Self::MAX_NAME_CHARS
                            && !n.chars().any(char::is_control) =>
                    {
                        name = Some(n.to_owned())
                    }
                    _ => errors.add(
                        "name",
                        format!("must be text of 1 to {} characters", Self::MAX_NAME_CHARS),
                    ),
                },
                // JSON has one number type: 3.0 is the integer 3 (JSON Schema agrees).
                "priority" => match value.as_u64().or_else(|| {
                    value
                        .as_f64()
                        .filter(|f| {
                            f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(Self::MAX_PRIORITY)
                        })
                        .map(|f| f as u64)
                }) {
                    Some(p) if p <= u64::from(Self::MAX_PRIORITY) => priority = p as u32,
                    _ => errors.add(
                        "priority",
                        format!("must be a whole number from 0 to {}", Self::MAX_PRIORITY),
                    ),
                },
                "self_assignable" => match value.as_bool() {
                    Some(b) => self_assignable = b,
                    None => errors.add("self_assignable", "must be true or false"),
                },
                "segment_id" | "pk" => errors.add(field.as_str(), "is taken from the path"),
                _ => errors.add(field.as_str(), "is not a segment field"),
            }
        }
        if name.is_none() && !errors.fields().any(|f| f == "name") {
            errors.add("name", "is required");
        }
        match name {
            Some(name) if errors.is_empty() => Ok(Self {
                segment_id,
                name,
                priority,
                self_assignable,
            }),
            _ => Err(errors),
        }
    }
}

/// Ascending priority, ties by id: the order users see their segments in.
pub fn sort_segments(segments: &mut [Segment]) {
    segments.sort_by_key(|s| (s.priority, s.segment_id));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids() {
        assert_eq!(SegmentId::parse("42").unwrap().get(), 42);
        for bad in ["0", "-1", "abc", "1.5", "", "+3", "007", "99999999999"] {
            assert!(SegmentId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn catalog_entries() {
        let id = SegmentId::parse("7").unwrap();
        let s = Segment::parse(
            id,
            json!({"name": " VIP ", "priority": 0, "self_assignable": true})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            (s.name.as_str(), s.priority, s.self_assignable),
            ("VIP", 0, true)
        );
        let e = Segment::parse(
            id,
            json!({"priority": -1, "colour": "red"})
                .as_object()
                .unwrap(),
        )
        .unwrap_err();
        assert_eq!(
            e.fields().collect::<Vec<_>>(),
            ["colour", "name", "priority"]
        );
    }

    #[test]
    fn priorities_are_json_integers_however_spelled() {
        let id = SegmentId::parse("7").unwrap();
        let parse = |priority: serde_json::Value| {
            Segment::parse(
                id,
                json!({"name": "a", "priority": priority})
                    .as_object()
                    .unwrap(),
            )
        };
        assert_eq!(parse(json!(3.0)).unwrap().priority, 3);
        assert_eq!(parse(json!(1_000_000)).unwrap().priority, 1_000_000);
        for bad in [json!(3.5), json!(-1.0), json!(1_000_001.0), json!("3")] {
            assert!(parse(bad.clone()).is_err(), "{bad}");
        }
    }
}
