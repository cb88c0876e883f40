//! Configuration: every setting of the service is read here from the environment, once
//! per container, into `Settings`. Only what must be known before `Settings` exist is
//! read elsewhere: the log filter (`RUST_LOG`, in `telemetry`) and the AWS SDK's
//! endpoint and credentials (`adapters::aws`).

use adapters::sms::SmsConfig;
use domain::LocaleCatalog;
use domain::avatar::UploadPolicy;
use domain::otp::OtpPolicy;
use thiserror::Error;

mod sections;
pub use sections::{DEFAULT_PWNED_PASSWORDS_URL, PwnedPasswordsConfig};
use sections::{login_limits, loyalty, otp_policy, pwned_passwords, upload_policy};

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// An optional variable; empty counts as unset.
fn optional(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A comma-separated list; unset means `None` (no narrowing).
fn list(name: &'static str) -> Option<Vec<String>> {
    optional(name).map(|v| {
        v.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    })
}

fn number<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError> {
    match optional(name) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|_| ConfigError::Invalid {
            name,
            reason: format!("{raw:?} is not a whole number"),
        }),
    }
}

fn webauthn() -> Result<Option<WebAuthnConfig>, ConfigError> {
    let rp_id = optional("WEBAUTHN_RP_ID").filter(|v| !v.trim().is_empty());
    let origins = list("WEBAUTHN_ORIGINS").unwrap_or_default();
    match (rp_id, origins.is_empty()) {
        (None, _) => Ok(None),
        (Some(_), true) => Err(ConfigError::Invalid {
            name: "WEBAUTHN_ORIGINS",
            reason: "is required with WEBAUTHN_RP_ID".into(),
        }),
        (Some(rp_id), false) => Ok(Some(WebAuthnConfig { rp_id, origins })),
    }
}

fn password_rules() -> Result<domain::password::PasswordRules, ConfigError> {
    let default = domain::password::MIN_CHARS as i64;
    let min = number("PASSWORD_MIN_LENGTH", default)?;
    usize::try_from(min)
        .map_err(|_| format!("{min} is not a length"))
        .and_then(domain::password::PasswordRules::with_min_chars)
        .map_err(|reason| ConfigError::Invalid {
            name: "PASSWORD_MIN_LENGTH",
            reason,
        })
}

fn positive(name: &'static str, default: i64) -> Result<i64, ConfigError> {
    match number(name, default)? {
        n if n > 0 => Ok(n),
        n => Err(ConfigError::Invalid {
            name,
            reason: format!("{n} is not a positive number of seconds"),
        }),
    }
}

/// What the authorizer checks user tokens against.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    pub issuer: String,
    pub audience: String,
    /// The verifying keys: `kid=x` entries, comma-separated, current first; `x` is an
    /// Ed25519 public key, 32 bytes base64url (a JWK's `x`).
    pub public_keys: String,
    /// `TOKEN_MAX_LIFETIME_SECONDS`: the longest `exp - iat` a user token may claim
    /// (default one hour). A stolen long-lived token is refused even though it verifies.
    pub max_lifetime_secs: i64,
}

/// The default for `TOKEN_MAX_LIFETIME_SECONDS`: our tokens live 15 minutes, most
/// identity providers' access tokens an hour.
pub const DEFAULT_TOKEN_MAX_LIFETIME_SECS: i64 = 3600;
pub const DEFAULT_EVENTS_GIVE_UP_AFTER_SECONDS: u64 = 300;

/// Every setting of every function. A function asks for the ones it needs through the
/// `require_*` methods, so a missing variable stops only the functions that use it.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `TABLE_NAME`.
    pub table: Option<String>,
    /// `OTP_SECRET_ARN`: the Secrets Manager secret holding the OTP HMAC key.
    pub otp_secret_id: Option<String>,
    pub otp_policy: OtpPolicy,
    pub sms: SmsConfig,
    /// `SUPPORTED_LANGUAGES`: the ISO 639-1 codes profiles may name; `None` = all.
    pub supported_languages: Option<Vec<String>>,
    /// `SUPPORTED_CURRENCIES`: the ISO 4217 codes profiles may name; `None` = all.
    pub supported_currencies: Option<Vec<String>>,
    /// `EMAIL_SENDER`: the verified SES identity mail is sent from.
    pub email_sender: Option<String>,
    /// `TOKEN_SIGNING_KEY_SECRET`: the Secrets Manager secret holding the key access
    /// tokens are signed with (`profilectl key create` writes it).
    pub signing_key_secret_id: Option<String>,
    /// `TOKEN_ISSUER`, `TOKEN_AUDIENCE`, `TOKEN_PUBLIC_KEYS`, when all are set.
    pub token: Option<TokenConfig>,
    /// `AVATAR_BUCKET` and `AVATAR_BASE_URL`: where profile images are stored, and the
    /// base of the URLs they are fetched from (the CDN in front of the bucket).
    pub avatars: Option<AvatarConfig>,
    /// `AVATAR_DAILY_LIMIT`: uploads per user per UTC day (default 5).
    pub upload_policy: UploadPolicy,
    /// `APP_KEYS`: the `apikey` values seed 002's routes accept; unset = any.
    pub app_keys: Option<Vec<String>>,
    /// `TOKEN_CLIENT_IDS`: the apps tokens may be issued to (RFC 9068's `client_id`),
    /// comma-separated; the first is first-party apps' when a request names none.
    pub token_client_ids: Option<Vec<String>>,
    /// `ADMIN_TOKEN_ISSUERS`: the issuers (`iss`) of another identity provider, fronting
    /// the API through a JWT authorizer, trusted to grant `users:admin`; unset = none, so
    /// only our own tokens (an operator's grant on the account) make an administrator.
    pub admin_token_issuers: Vec<String>,
    /// `EVENT_BUS_NAME`: the EventBridge bus change events go to.
    pub event_bus: Option<String>,
    /// `DEAD_LETTER_QUEUE_URL`: where a consumer sets aside what it gives up on.
    pub dead_letter_queue: Option<String>,
    /// `EVENTS_GIVE_UP_AFTER_SECONDS`: how old a stream record whose events still cannot
    /// be published is before it is set aside (default 300).
    pub events_give_up_after: std::time::Duration,
    /// `LOYALTY_PROVIDER` (`none` or `openloyalty`) and where that platform is.
    pub loyalty: Option<LoyaltyConfig>,
    /// `PWNED_PASSWORDS_URL` and `PWNED_PASSWORDS_WHEN_DOWN`: the breached-password check.
    pub pwned_passwords: PwnedPasswordsConfig,
    /// `LOGIN_FAILURES_PER_SOURCE` (per address and source in 15 minutes, default 5),
    /// `LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR` (50), `LOGIN_FAILURES_PER_SOURCE_PER_HOUR` (100).
    pub login_limits: domain::login::LoginLimits,
    /// `PASSWORD_MIN_LENGTH`: how long a new password must be (8 to 64, default 8).
    pub password_rules: domain::password::PasswordRules,
    /// `STEP_UP_MAX_AGE_SECONDS`: how recent a login a sensitive change asks for
    /// (default 600).
    pub step_up_max_age_secs: i64,
    /// `WEBAUTHN_RP_ID` and `WEBAUTHN_ORIGINS` (comma-separated): the relying party
    /// passkeys are bound to and the page origins allowed to use them. Unset: the passkey
    /// routes answer 501.
    pub webauthn: Option<WebAuthnConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebAuthnConfig {
    /// A registrable domain (`example.com`), `localhost` under `make dev`.
    pub rp_id: String,
    /// Full origins (`https://app.example.com`); the first is the one the crate starts from.
    pub origins: Vec<String>,
}

pub const DEFAULT_STEP_UP_MAX_AGE_SECONDS: i64 = 600;

/// The loyalty platform (`LOYALTY_PROVIDER=openloyalty`): `LOYALTY_BASE_URL`,
/// `LOYALTY_STORE_CODE`, `LOYALTY_API_KEY_SECRET` (a Secrets Manager id), and
/// `LOYALTY_TIMEOUT_MS`, the budget of one call (default 2000).
#[derive(Debug, Clone)]
pub struct LoyaltyConfig {
    pub base_url: String,
    pub store_code: String,
    pub api_key_secret: String,
    pub timeout: std::time::Duration,
}

#[derive(Debug, Clone)]
pub struct AvatarConfig {
    pub bucket: String,
    pub base_url: String,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table: optional("TABLE_NAME"),
            otp_secret_id: optional("OTP_SECRET_ARN"),
            signing_key_secret_id: optional("TOKEN_SIGNING_KEY_SECRET"),
            email_sender: optional("EMAIL_SENDER"),
            otp_policy: otp_policy()?,
            sms: SmsConfig::new(
                optional("SMS_SENDER_ID"),
                optional("SMS_MESSAGE_TEMPLATE"),
                optional("SMS_MAX_PRICE_USD"),
            )
            .map_err(|reason| ConfigError::Invalid {
                name: "SMS_SENDER_ID/SMS_MESSAGE_TEMPLATE/SMS_MAX_PRICE_USD",
                reason,
            })?,
            supported_languages: list("SUPPORTED_LANGUAGES"),
            supported_currencies: list("SUPPORTED_CURRENCIES"),
            token: token()?,
            avatars: match (optional("AVATAR_BUCKET"), optional("AVATAR_BASE_URL")) {
                (Some(bucket), Some(base_url)) => Some(AvatarConfig { bucket, base_url }),
                _ => None,
            },
            upload_policy: upload_policy()?,
            app_keys: list("APP_KEYS"),
            admin_token_issuers: list("ADMIN_TOKEN_ISSUERS").unwrap_or_default(),
            token_client_ids: list("TOKEN_CLIENT_IDS"),
            event_bus: optional("EVENT_BUS_NAME"),
            dead_letter_queue: optional("DEAD_LETTER_QUEUE_URL"),
            events_give_up_after: std::time::Duration::from_secs(number(
                "EVENTS_GIVE_UP_AFTER_SECONDS",
                DEFAULT_EVENTS_GIVE_UP_AFTER_SECONDS,
            )?),
            loyalty: loyalty()?,
            pwned_passwords: pwned_passwords()?,
            login_limits: login_limits()?,
            password_rules: password_rules()?,
            step_up_max_age_secs: positive(
                "STEP_UP_MAX_AGE_SECONDS",
                DEFAULT_STEP_UP_MAX_AGE_SECONDS,
            )?,
            webauthn: webauthn()?,
        })
    }

    /// Defaults everywhere, as tests and the developer gateway start from.
    pub fn local(table: &str, otp_secret_id: &str) -> Self {
        Self {
            table: Some(table.to_owned()),
            otp_secret_id: Some(otp_secret_id.to_owned()),
            signing_key_secret_id: None,
            email_sender: None,
            otp_policy: OtpPolicy::default(),
            sms: SmsConfig::default(),
            supported_languages: None,
            supported_currencies: None,
            token: None,
            avatars: None,
            upload_policy: UploadPolicy::default(),
            app_keys: None,
            admin_token_issuers: Vec::new(),
            token_client_ids: None,
            event_bus: None,
            dead_letter_queue: None,
            events_give_up_after: std::time::Duration::from_secs(
                DEFAULT_EVENTS_GIVE_UP_AFTER_SECONDS,
            ),
            loyalty: None,
            pwned_passwords: PwnedPasswordsConfig::default(),
            login_limits: domain::login::LoginLimits::default(),
            password_rules: domain::password::PasswordRules::default(),
            step_up_max_age_secs: DEFAULT_STEP_UP_MAX_AGE_SECONDS,
            webauthn: None,
        }
    }

    /// The languages and currencies profiles may name (`/local-info` shows the same).
    /// Built on request: only the functions that validate locales pay for the code lists.
    pub fn locales(&self) -> Result<LocaleCatalog, ConfigError> {
        LocaleCatalog::narrowed(
            self.supported_languages.as_deref(),
            self.supported_currencies.as_deref(),
        )
        .map_err(|reason| ConfigError::Invalid {
            name: "SUPPORTED_LANGUAGES/SUPPORTED_CURRENCIES",
            reason,
        })
    }

    pub fn require_table(&self) -> Result<&str, ConfigError> {
        required(&self.table, "TABLE_NAME")
    }

    pub fn require_otp_secret(&self) -> Result<&str, ConfigError> {
        required(&self.otp_secret_id, "OTP_SECRET_ARN")
    }

    pub fn require_signing_key_secret(&self) -> Result<&str, ConfigError> {
        required(&self.signing_key_secret_id, "TOKEN_SIGNING_KEY_SECRET")
    }

    pub fn require_avatars(&self) -> Result<&AvatarConfig, ConfigError> {
        self.avatars
            .as_ref()
            .ok_or(ConfigError::Missing("AVATAR_BUCKET and AVATAR_BASE_URL"))
    }

    pub fn require_email_sender(&self) -> Result<&str, ConfigError> {
        required(&self.email_sender, "EMAIL_SENDER")
    }

    pub fn require_event_bus(&self) -> Result<&str, ConfigError> {
        required(&self.event_bus, "EVENT_BUS_NAME")
    }

    pub fn require_dead_letter_queue(&self) -> Result<&str, ConfigError> {
        required(&self.dead_letter_queue, "DEAD_LETTER_QUEUE_URL")
    }

    /// The client ids of `TOKEN_CLIENT_IDS`, or first-party apps' default alone.
    pub fn client_ids(&self) -> Result<Vec<domain::session::ClientId>, String> {
        match &self.token_client_ids {
            Some(ids) if !ids.is_empty() => ids
                .iter()
                .map(|raw| {
                    domain::session::ClientId::parse(raw).map_err(|e| format!("{raw:?} {e}"))
                })
                .collect(),
            _ => Ok(vec![domain::session::ClientId::default()]),
        }
    }

    pub fn require_token(&self) -> Result<&TokenConfig, ConfigError> {
        self.token
            .as_ref()
            .ok_or(ConfigError::Missing("TOKEN_PUBLIC_KEYS"))
    }
}

/// The public half of the development key committed in `tools/local-api/dev-keys`:
/// anyone can sign with its private half, so no deployment may trust it.
pub const PUBLISHED_DEV_KEY_X: &str = "VkEeEHdDZkcKYIsUM8w9mwL3JdhONRx7d-4JDBI4R4o";

/// A deployment's key set must not hold the published development key.
/// `emulator`: where the SDK is pointed (`adapters::aws::emulator_url`). Against an
/// emulator on the developer's machine no real data is in reach, and `sam local invoke`
/// and `make invoke` run the functions there with the dev key.
fn refuse_published_dev_key(public_keys: &str, emulator: Option<&str>) -> Result<(), ConfigError> {
    if emulator.is_some_and(adapters::aws::is_development_endpoint) {
        return Ok(());
    }
    if public_keys.contains(PUBLISHED_DEV_KEY_X) {
        return Err(ConfigError::Invalid {
            name: "TOKEN_PUBLIC_KEYS",
            reason: "holds the published development key, which anyone can sign with; \
                     create a key with `profilectl key create`"
                .into(),
        });
    }
    Ok(())
}

fn token() -> Result<Option<TokenConfig>, ConfigError> {
    let (issuer, audience, public_keys) = (
        optional("TOKEN_ISSUER"),
        optional("TOKEN_AUDIENCE"),
        optional("TOKEN_PUBLIC_KEYS"),
    );
    match (issuer, audience, public_keys) {
        (None, None, None) => Ok(None),
        (Some(issuer), Some(audience), Some(public_keys)) => {
            refuse_published_dev_key(&public_keys, adapters::aws::emulator_url().as_deref())?;
            let max_lifetime_secs = number(
                "TOKEN_MAX_LIFETIME_SECONDS",
                DEFAULT_TOKEN_MAX_LIFETIME_SECS,
            )?;
            if max_lifetime_secs <= 0 {
                return Err(ConfigError::Invalid {
                    name: "TOKEN_MAX_LIFETIME_SECONDS",
                    reason: "must be positive".into(),
                });
            }
            Ok(Some(TokenConfig {
                issuer,
                audience,
                public_keys,
                max_lifetime_secs,
            }))
        }
        _ => Err(ConfigError::Invalid {
            name: "TOKEN_ISSUER/TOKEN_AUDIENCE/TOKEN_PUBLIC_KEYS",
            reason: "set all three or none".into(),
        }),
    }
}

/// A setting only some functions need, read where one of them builds what needs it.
fn required<'a>(value: &'a Option<String>, name: &'static str) -> Result<&'a str, ConfigError> {
    value.as_deref().ok_or(ConfigError::Missing(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deployment_refuses_the_published_dev_key() {
        let dev = format!("dev-1={PUBLISHED_DEV_KEY_X}");
        assert!(refuse_published_dev_key(&dev, None).is_err());
        assert!(
            refuse_published_dev_key(&format!("new=abc,old={PUBLISHED_DEV_KEY_X}"), None).is_err()
        );
        assert!(
            refuse_published_dev_key(&dev, Some("https://dynamodb.eu-west-1.amazonaws.com"))
                .is_err()
        );
        assert!(refuse_published_dev_key(&dev, Some("http://127.0.0.1:4566")).is_ok());
        assert!(refuse_published_dev_key(&dev, Some("http://host.docker.internal:4566")).is_ok());
        assert!(
            refuse_published_dev_key("k1=11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", None)
                .is_ok()
        );
    }
}
