//! An operator's reason for disabling an account: one line of text for the account's
//! audit. It is free text, so it stays out of events and logs.

/// At most this many characters.
pub const MAX_REASON_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisableReason(String);

impl DisableReason {
    /// Refused when it holds a control character (a line break included), or is blank or
    /// longer than `MAX_REASON_CHARS` once trimmed.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().any(char::is_control) {
            return Err("one line of text, without control characters".into());
        }
        let reason = raw.trim();
        if reason.is_empty() {
            return Err("say why, for the account's audit".into());
        }
        if reason.chars().count() > MAX_REASON_CHARS {
            return Err(format!("at most {MAX_REASON_CHARS} characters"));
        }
        Ok(Self(reason.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_trimmed_line_of_at_most_500_characters() {
        assert_eq!(DisableReason::parse("  fraud ").unwrap().as_str(), "fraud");
        assert!(DisableReason::parse(" \t ").is_err());
        assert!(DisableReason::parse("two\nlines").is_err());
        assert!(DisableReason::parse("bell\u{85}").is_err());
        assert!(DisableReason::parse(&"é".repeat(500)).is_ok());
        assert!(DisableReason::parse(&"é".repeat(501)).is_err());
    }
}
