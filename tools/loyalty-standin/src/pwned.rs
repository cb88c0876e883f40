//! Pwned Passwords' range API (https://haveibeenpwned.com/API/v3#SearchingPwnedPasswordsByRange),
//! answered from the common passwords this project ships (`data/common-passwords.txt`):
//! `GET /range/{first 5 hex of SHA-1}` → `SUFFIX:COUNT` lines, upper-case hex, with zero-count
//! padding lines when the request asks for them (`Add-Padding: true`), as the real API does.

use sha1::{Digest, Sha1};

const COMMON: &str = include_str!("../data/common-passwords.txt");

fn sha1_hex(password: &str) -> String {
    Sha1::digest(password.as_bytes())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// The answer for `prefix` (five hex digits, any case); `None` for a malformed prefix.
pub fn range(prefix: &str, padding: bool) -> Option<String> {
    if prefix.len() != 5 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let prefix = prefix.to_ascii_uppercase();
    let mut lines: Vec<String> = COMMON
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(sha1_hex)
        .filter_map(|hex| hex.strip_prefix(&prefix).map(|s| format!("{s}:{}", 1000)))
        .collect();
    if padding {
        // Suffixes no password has (35 hex digits beginning with a letter past F).
        lines.extend((0..3).map(|i| format!("{:0>35}:0", format!("G{i}"))));
    }
    Some(lines.join("\r\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shipped_password_is_in_its_range_and_another_is_not() {
        let hex = sha1_hex("password1234");
        let answer = range(&hex[..5], false).unwrap();
        assert!(answer.contains(&format!("{}:", &hex[5..])), "{answer}");
        let hex = sha1_hex("correct horse battery");
        assert!(!range(&hex[..5], true).unwrap().contains(&hex[5..]));
        assert!(range("XYZ", false).is_none());
    }
}
