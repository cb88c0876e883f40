//! Have I Been Pwned's Pwned Passwords range API
//! (https://haveibeenpwned.com/API/v3#PwnedPasswords), k-anonymity: only the first five
//! hex digits of the password's SHA-1 leave; the answer lists every suffix seen with that
//! prefix (`SUFFIX:COUNT` lines, padded with zero counts when asked to) and the match is
//! made here. One request, a one-second budget, no retry (a new password is asked again
//! by its person); the caller decides what an outage means (`PwnedPasswordsWhenDown`).

use std::sync::OnceLock;
use std::time::Duration;

use domain::password::Password;
use domain::ports::{BreachedPasswords, CheckUnavailable};
use sha1::{Digest, Sha1};

pub struct PwnedPasswords {
    /// e.g. `https://api.pwnedpasswords.com` (no trailing slash).
    base_url: String,
    timeout: Duration,
    client: OnceLock<reqwest::Client>,
}

impl PwnedPasswords {
    pub fn new(base_url: impl Into<String>, timeout: Duration) -> Self {
        Self {
            base_url: base_url.into(),
            timeout,
            client: OnceLock::new(),
        }
    }
}

/// The password's SHA-1 in upper-case hex, split into what is asked (five digits) and
/// what is matched here.
fn range_and_suffix(password: &Password) -> (String, String) {
    let digest = Sha1::digest(password.expose().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02X}")).collect();
    let (prefix, suffix) = hex.split_at(5);
    (prefix.to_owned(), suffix.to_owned())
}

/// Whether `suffix` is in the answer with a count above zero (padding lines count zero).
fn listed(answer: &str, suffix: &str) -> bool {
    answer.lines().any(|line| {
        line.trim()
            .split_once(':')
            .is_some_and(|(s, count)| s.eq_ignore_ascii_case(suffix) && count.trim() != "0")
    })
}

impl BreachedPasswords for PwnedPasswords {
    async fn seen(&self, password: &Password) -> Result<bool, CheckUnavailable> {
        let client = match self.client.get() {
            Some(client) => client,
            None => {
                let built =
                    crate::http::client(self.timeout, self.timeout).map_err(CheckUnavailable)?;
                self.client.get_or_init(|| built)
            }
        };
        let (prefix, suffix) = range_and_suffix(password);
        let url = format!("{}/range/{prefix}", self.base_url.trim_end_matches('/'));
        let response = client
            .get(url)
            .header("Add-Padding", "true")
            .send()
            .await
            .map_err(|e| {
                CheckUnavailable(if e.is_timeout() {
                    "timed out".into()
                } else {
                    "no answer".into()
                })
            })?;
        if !response.status().is_success() {
            return Err(CheckUnavailable(format!("answered {}", response.status())));
        }
        let answer = response
            .text()
            .await
            .map_err(|_| CheckUnavailable("the answer was cut".into()))?;
        Ok(listed(&answer, &suffix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_five_hex_digits_are_asked_and_the_rest_is_matched_here() {
        // SHA-1("password") = 5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8.
        let password = Password::presented("password").unwrap();
        let (prefix, suffix) = range_and_suffix(&password);
        assert_eq!(prefix, "5BAA6");
        assert_eq!(suffix, "1E4C9B93F3F0682250B6CF8331B7EE68FD8");
        let answer = "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n\
                      1E4C9B93F3F0682250B6CF8331B7EE68FD8:9545824\r\n";
        assert!(listed(answer, &suffix));
        assert!(
            !listed("1E4C9B93F3F0682250B6CF8331B7EE68FD8:0\r\n", &suffix),
            "padding"
        );
        assert!(!listed("0018A45C4D1DEF81644B54AB7F969B88D65:1", &suffix));
    }
}
