//! Which numbers this deployment texts, and how many texts an hour it sends at most:
//! the guard against SMS pumping (fraudsters asking for codes to premium or foreign
//! numbers they are paid for).

use std::collections::BTreeSet;

use crate::{CountryCode, PhoneNumber};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsPolicy {
    /// The countries codes may be texted to; `None` = every country.
    pub countries: Option<BTreeSet<CountryCode>>,
    /// Texts per clock hour, across all users and numbers.
    pub max_per_hour: u32,
    /// Of those, texts to numbers no account has proved yet (sign-ups, a change of
    /// number): what anyone with addresses to spare can cause, capped apart so it never
    /// takes the texts of the numbers accounts hold.
    pub max_per_hour_to_new_numbers: u32,
}

impl Default for SmsPolicy {
    fn default() -> Self {
        Self {
            countries: None,
            max_per_hour: 200,
            max_per_hour_to_new_numbers: 50,
        }
    }
}

/// Whom a text goes to, for the caps that count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    /// A number an account has proved (an erasure's code to the holder's phone).
    Holder,
    /// A number no account has proved: a sign-up's, or a new number of a change.
    NewNumber,
}

/// Why a number gets no code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Undeliverable {
    #[error("must be a mobile number")]
    NotMobile,
    #[error("is in a country this service does not send codes to")]
    CountryNotServed,
}

impl SmsPolicy {
    /// `raw`: comma-separated ISO 3166-1 alpha-2 codes; empty = every country.
    pub fn parse_countries(raw: &str) -> Result<Option<BTreeSet<CountryCode>>, String> {
        let codes = raw
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| CountryCode::parse(c).map_err(|e| format!("{c:?} {e}")))
            .collect::<Result<BTreeSet<_>, _>>()?;
        Ok((!codes.is_empty()).then_some(codes))
    }

    /// Whether a code may be texted to `phone`: a mobile number (or one libphonenumber
    /// cannot tell from a fixed line, as in the US) in a country served.
    pub fn admits(&self, phone: &PhoneNumber) -> Result<(), Undeliverable> {
        if !phone.may_be_mobile() {
            return Err(Undeliverable::NotMobile);
        }
        if let Some(countries) = &self.countries {
            let served = phone
                .country()
                .is_some_and(|country| countries.contains(&country));
            if !served {
                return Err(Undeliverable::CountryNotServed);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(raw: &str) -> PhoneNumber {
        PhoneNumber::parse(raw).unwrap()
    }

    #[test]
    fn only_mobile_numbers_get_codes() {
        let policy = SmsPolicy::default();
        for mobile in ["+905321234567", "+447400123456", "+12015550123"] {
            assert_eq!(policy.admits(&phone(mobile)), Ok(()), "{mobile}");
        }
        for (not_mobile, what) in [
            ("+902123456789", "Istanbul fixed line"),
            ("+441212345678", "Birmingham fixed line"),
            ("+19002345678", "US premium rate"),
            ("+448001234567", "UK freephone"),
        ] {
            assert_eq!(
                policy.admits(&phone(not_mobile)),
                Err(Undeliverable::NotMobile),
                "{what}"
            );
        }
    }

    #[test]
    fn countries_narrow_where_codes_go() {
        let policy = SmsPolicy {
            countries: SmsPolicy::parse_countries("TR, GB").unwrap(),
            ..SmsPolicy::default()
        };
        assert_eq!(policy.admits(&phone("+905321234567")), Ok(()));
        assert_eq!(policy.admits(&phone("+447400123456")), Ok(()));
        assert_eq!(
            policy.admits(&phone("+12015550123")),
            Err(Undeliverable::CountryNotServed)
        );
        assert_eq!(SmsPolicy::parse_countries(" ").unwrap(), None);
        assert!(SmsPolicy::parse_countries("TR,XX").is_err());
        assert!(SmsPolicy::parse_countries("tr").is_err());
    }

    #[test]
    fn hours_start_on_the_hour() {
        assert_eq!(crate::clock::hour_start(7200), 7200);
        assert_eq!(crate::clock::hour_start(7199), 3600);
    }
}
