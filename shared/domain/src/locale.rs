//! Language, time zone and currency, checked against maintained code lists
//! (isolang for ISO 639-1, chrono-tz for IANA, iso_currency for ISO 4217).

use serde::Serialize;

/// An ISO 639-1 two-letter language code, lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "&'static str")]
pub struct LanguageCode(isolang::Language);

impl LanguageCode {
    pub fn parse(raw: &str) -> Result<Self, String> {
        isolang::Language::from_639_1(raw)
            .map(Self)
            .ok_or_else(|| "must be an ISO 639-1 language code such as en or tr".into())
    }

    pub fn code(self) -> &'static str {
        self.0.to_639_1().expect("constructed from a 639-1 code")
    }

    pub fn name(self) -> &'static str {
        self.0.to_name()
    }

    /// Every ISO 639-1 language, in code order.
    pub fn all() -> Vec<Self> {
        let mut all: Vec<Self> = isolang::languages()
            .filter(|l| l.to_639_1().is_some())
            .map(Self)
            .collect();
        all.sort_by_key(|l| l.code());
        all
    }
}

impl From<LanguageCode> for &'static str {
    fn from(l: LanguageCode) -> Self {
        l.code()
    }
}

/// An IANA time zone name such as `Europe/Istanbul`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "&'static str")]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.parse::<chrono_tz::Tz>()
            .map(Self)
            .map_err(|_| "must be an IANA time zone such as Europe/Istanbul".into())
    }

    pub fn name(self) -> &'static str {
        self.0.name()
    }

    pub fn all() -> impl Iterator<Item = Self> {
        chrono_tz::TZ_VARIANTS.iter().copied().map(Self)
    }
}

impl From<TimeZone> for &'static str {
    fn from(t: TimeZone) -> Self {
        t.name()
    }
}

/// An ISO 3166-1 alpha-2 country code, upper case (`US`, `TR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode(&'static str);

impl CountryCode {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let shaped = raw.len() == 2 && raw.bytes().all(|b| b.is_ascii_uppercase());
        shaped
            .then(|| celes::Country::from_alpha2(raw).ok())
            .flatten()
            .map(|c| Self(c.alpha2))
            .ok_or_else(|| "must be an ISO 3166-1 alpha-2 country code such as US or TR".into())
    }

    pub fn code(self) -> &'static str {
        self.0
    }
}

/// An ISO 4217 currency code, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "&'static str")]
pub struct Currency(iso_currency::Currency);

impl Currency {
    pub fn parse(raw: &str) -> Result<Self, String> {
        iso_currency::Currency::from_code(raw)
            .map(Self)
            .ok_or_else(|| "must be an ISO 4217 currency code such as EUR".into())
    }

    pub fn code(self) -> &'static str {
        self.0.code()
    }

    pub fn name(&self) -> &str {
        self.0.name()
    }

    pub fn all() -> impl Iterator<Item = Self> {
        use iso_currency::IntoEnumIterator;
        iso_currency::Currency::iter().map(Self)
    }
}

impl From<Currency> for &'static str {
    fn from(c: Currency) -> Self {
        c.code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_from_the_maintained_lists() {
        assert_eq!(LanguageCode::parse("en").unwrap().code(), "en");
        assert_eq!(LanguageCode::parse("tr").unwrap().name(), "Turkish");
        assert!(LanguageCode::parse("eng").is_err());
        assert!(LanguageCode::parse("EN").is_err());
        assert!(LanguageCode::parse("xx").is_err());
        assert_eq!(
            TimeZone::parse("Europe/Istanbul").unwrap().name(),
            "Europe/Istanbul"
        );
        assert!(TimeZone::parse("Mars/Olympus").is_err());
        assert_eq!(Currency::parse("EUR").unwrap().code(), "EUR");
        assert!(Currency::parse("eur").is_err());
        assert!(Currency::parse("XYZ").is_err());
        assert_eq!(CountryCode::parse("US").unwrap().code(), "US");
        assert_eq!(CountryCode::parse("TR").unwrap().code(), "TR");
        for bad in ["us", "USA", "XX", "U", ""] {
            assert!(CountryCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lists_are_complete_enough() {
        assert!(LanguageCode::all().len() > 180);
        assert!(Currency::all().count() > 150);
        assert!(TimeZone::all().count() > 400);
    }
}

/// The languages, currencies and time zones this deployment offers: the maintained
/// lists, optionally narrowed by configuration. `/local-info` shows it; profile
/// validation uses it; one source for both. Un-narrowed lists are not materialized:
/// checking a code needs only the code, and building the lists costs a function's init.
#[derive(Debug, Clone, Default)]
pub struct LocaleCatalog {
    /// `None`: every ISO 639-1 language.
    languages: Option<Vec<LanguageCode>>,
    /// `None`: every ISO 4217 currency.
    currencies: Option<Vec<Currency>>,
}

impl LocaleCatalog {
    pub fn all() -> Self {
        Self::default()
    }

    /// Keeps only the codes named; a code not on the maintained list is an error.
    pub fn narrowed(
        languages: Option<&[String]>,
        currencies: Option<&[String]>,
    ) -> Result<Self, String> {
        let languages = languages
            .map(|codes| {
                codes
                    .iter()
                    .map(|c| {
                        LanguageCode::parse(c)
                            .map_err(|e| format!("SUPPORTED_LANGUAGES: {c:?} {e}"))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let currencies = currencies
            .map(|codes| {
                codes
                    .iter()
                    .map(|c| {
                        Currency::parse(c).map_err(|e| format!("SUPPORTED_CURRENCIES: {c:?} {e}"))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        Ok(Self {
            languages,
            currencies,
        })
    }

    /// In code order.
    pub fn languages(&self) -> Vec<LanguageCode> {
        let mut list = self.languages.clone().unwrap_or_else(LanguageCode::all);
        list.sort_by_key(|l| l.code());
        list.dedup();
        list
    }

    /// In code order.
    pub fn currencies(&self) -> Vec<Currency> {
        let mut list = match &self.currencies {
            Some(list) => list.clone(),
            None => Currency::all().collect(),
        };
        list.sort_by_key(|c| c.code());
        list.dedup();
        list
    }

    /// In name order.
    pub fn timezones(&self) -> Vec<TimeZone> {
        let mut list: Vec<TimeZone> = TimeZone::all().collect();
        list.sort_by_key(|t| t.name());
        list
    }

    pub fn language(&self, raw: &str) -> Result<LanguageCode, String> {
        let code = LanguageCode::parse(raw)?;
        self.languages
            .as_ref()
            .is_none_or(|offered| offered.contains(&code))
            .then_some(code)
            .ok_or_else(|| "is not a language this service offers; see GET /local-info".into())
    }

    pub fn currency(&self, raw: &str) -> Result<Currency, String> {
        let code = Currency::parse(raw)?;
        self.currencies
            .as_ref()
            .is_none_or(|offered| offered.contains(&code))
            .then_some(code)
            .ok_or_else(|| "is not a currency this service offers; see GET /local-info".into())
    }

    pub fn timezone(&self, raw: &str) -> Result<TimeZone, String> {
        TimeZone::parse(raw)
    }
}

#[cfg(test)]
mod catalog_tests {
    use super::*;

    #[test]
    fn narrowing_keeps_only_named_codes() {
        let c = LocaleCatalog::narrowed(Some(&["tr".into(), "en".into()]), Some(&["TRY".into()]))
            .unwrap();
        assert_eq!(
            c.languages().iter().map(|l| l.code()).collect::<Vec<_>>(),
            ["en", "tr"]
        );
        assert!(c.language("en").is_ok());
        assert!(c.language("de").is_err());
        assert!(c.currency("EUR").is_err());
        assert!(c.timezone("Europe/Istanbul").is_ok());
        assert!(LocaleCatalog::narrowed(Some(&["xx".into()]), None).is_err());
        let all = LocaleCatalog::all();
        assert!(all.language("de").is_ok() && all.currency("EUR").is_ok());
        assert_eq!(all.languages().len(), LanguageCode::all().len());
        assert!(all.currencies().len() > 150 && all.timezones().len() > 400);
    }
}
