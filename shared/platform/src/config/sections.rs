//! The limits and outside services `Settings` reads from the environment, each with its
//! checks: login failures, the breached-password check, one-time codes and texts, image
//! uploads, the loyalty platform. docs/configuration.md lists every variable.

use domain::avatar::UploadPolicy;
use domain::otp::OtpPolicy;
use domain::sms::SmsPolicy;

use super::{ConfigError, LoyaltyConfig, number, optional};

pub(super) fn login_limits() -> Result<domain::login::LoginLimits, ConfigError> {
    let defaults = domain::login::LoginLimits::default();
    let limits = domain::login::LoginLimits {
        per_address_and_source: number(
            "LOGIN_FAILURES_PER_SOURCE",
            defaults.per_address_and_source,
        )?,
        window_secs: defaults.window_secs,
        per_address_per_hour: number(
            "LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR",
            defaults.per_address_per_hour,
        )?,
        per_source_per_hour: number(
            "LOGIN_FAILURES_PER_SOURCE_PER_HOUR",
            defaults.per_source_per_hour,
        )?,
    };
    if limits.per_address_and_source == 0
        || limits.per_address_per_hour == 0
        || limits.per_source_per_hour == 0
    {
        return Err(ConfigError::Invalid {
            name: "LOGIN_FAILURES_*",
            reason: "a limit of 0 would refuse every login".into(),
        });
    }
    Ok(limits)
}

/// Where new passwords are checked against breaches (Have I Been Pwned's range API, or a
/// mirror of it), and what an outage of the check means: `allow` takes the password on
/// the other rules alone, `refuse` answers 503 until the check answers again.
#[derive(Debug, Clone)]
pub struct PwnedPasswordsConfig {
    pub url: String,
    pub refuse_when_down: bool,
}

/// Have I Been Pwned's own range API.
pub const DEFAULT_PWNED_PASSWORDS_URL: &str = "https://api.pwnedpasswords.com";

impl Default for PwnedPasswordsConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_PWNED_PASSWORDS_URL.to_owned(),
            refuse_when_down: false,
        }
    }
}

pub(super) fn pwned_passwords() -> Result<PwnedPasswordsConfig, ConfigError> {
    let refuse_when_down = match optional("PWNED_PASSWORDS_WHEN_DOWN").as_deref() {
        None | Some("allow") => false,
        Some("refuse") => true,
        Some(_) => {
            return Err(ConfigError::Invalid {
                name: "PWNED_PASSWORDS_WHEN_DOWN",
                reason: "must be allow or refuse".into(),
            });
        }
    };
    Ok(PwnedPasswordsConfig {
        url: optional("PWNED_PASSWORDS_URL").unwrap_or_else(|| DEFAULT_PWNED_PASSWORDS_URL.into()),
        refuse_when_down,
    })
}

pub(super) fn loyalty() -> Result<Option<LoyaltyConfig>, ConfigError> {
    match optional("LOYALTY_PROVIDER").as_deref() {
        None | Some("none") => Ok(None),
        Some("openloyalty") => {
            let required = |name: &'static str| optional(name).ok_or(ConfigError::Missing(name));
            let base_url = required("LOYALTY_BASE_URL")?;
            // Plain HTTP only to the stand-in on this machine (or its Docker host).
            let stand_in = [
                "http://127.0.0.1:",
                "http://localhost:",
                "http://host.docker.internal:",
            ]
            .iter()
            .any(|p| base_url.starts_with(p));
            if !(base_url.starts_with("https://") || stand_in) {
                return Err(ConfigError::Invalid {
                    name: "LOYALTY_BASE_URL",
                    reason: "must be https:// (plain http only to a stand-in on loopback)".into(),
                });
            }
            Ok(Some(LoyaltyConfig {
                base_url,
                store_code: required("LOYALTY_STORE_CODE")?,
                api_key_secret: required("LOYALTY_API_KEY_SECRET")?,
                timeout: std::time::Duration::from_millis(number("LOYALTY_TIMEOUT_MS", 2000)?),
            }))
        }
        Some(_) => Err(ConfigError::Invalid {
            name: "LOYALTY_PROVIDER",
            reason: "must be none or openloyalty".into(),
        }),
    }
}

/// `OTP_TTL_SECONDS`, `OTP_MAX_ATTEMPTS`, `OTP_RESEND_COOLDOWN_SECONDS`,
/// `OTP_MAX_SENDS_PER_USER_PER_HOUR`, `OTP_MAX_SENDS_PER_NUMBER_PER_HOUR`,
/// `SIGNUPS_PER_SOURCE_PER_HOUR`, `SMS_COUNTRIES`, `SMS_MAX_PER_HOUR`,
/// `SMS_MAX_PER_HOUR_TO_NEW_NUMBERS`.
pub(super) fn otp_policy() -> Result<OtpPolicy, ConfigError> {
    let d = OtpPolicy::default();
    let countries = SmsPolicy::parse_countries(&optional("SMS_COUNTRIES").unwrap_or_default())
        .map_err(|reason| ConfigError::Invalid {
            name: "SMS_COUNTRIES",
            reason,
        })?;
    let max_per_hour = number("SMS_MAX_PER_HOUR", d.sms.max_per_hour)?;
    if max_per_hour == 0 {
        return Err(ConfigError::Invalid {
            name: "SMS_MAX_PER_HOUR",
            reason: "must be at least 1".into(),
        });
    }
    OtpPolicy {
        lifetime_secs: number("OTP_TTL_SECONDS", d.lifetime_secs)?,
        max_attempts: number("OTP_MAX_ATTEMPTS", d.max_attempts)?,
        resend_cooldown_secs: number("OTP_RESEND_COOLDOWN_SECONDS", d.resend_cooldown_secs)?,
        max_sends_per_user_per_hour: number(
            "OTP_MAX_SENDS_PER_USER_PER_HOUR",
            d.max_sends_per_user_per_hour,
        )?,
        max_sends_per_target_per_hour: number(
            "OTP_MAX_SENDS_PER_NUMBER_PER_HOUR",
            d.max_sends_per_target_per_hour,
        )?,
        max_signups_per_source_per_hour: number(
            "SIGNUPS_PER_SOURCE_PER_HOUR",
            d.max_signups_per_source_per_hour,
        )?,
        sms: SmsPolicy {
            countries,
            max_per_hour,
            max_per_hour_to_new_numbers: number(
                "SMS_MAX_PER_HOUR_TO_NEW_NUMBERS",
                d.sms.max_per_hour_to_new_numbers,
            )?,
        },
    }
    .validated()
    .map_err(|reason| ConfigError::Invalid {
        name: "OTP_*",
        reason,
    })
}

pub(super) fn upload_policy() -> Result<UploadPolicy, ConfigError> {
    let daily_limit = number("AVATAR_DAILY_LIMIT", UploadPolicy::default().daily_limit)?;
    if daily_limit == 0 {
        return Err(ConfigError::Invalid {
            name: "AVATAR_DAILY_LIMIT",
            reason: "must be at least 1".into(),
        });
    }
    Ok(UploadPolicy { daily_limit })
}
