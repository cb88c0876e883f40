//! The developer gateway behind `make dev`, also used in-process by the integration tests.

pub mod dev_token;
pub mod emulator;
pub mod events;
pub mod functions;
pub mod gateway;
pub mod server;
pub mod stream;
pub mod table;
pub mod template;

pub use functions::{functions, wire};
pub use gateway::{Gateway, GatewayResponse, Handler};
pub use template::Template;

/// `settings` as `make dev` and the tests run them: the committed dev key verifies user
/// tokens, the OTP key lives in a secret named after the table, and tokens go to
/// first-party apps or to `dev-app` (a second client, to try `client_id` with).
pub fn dev_settings(mut settings: platform::Settings, table: &str) -> platform::Settings {
    settings.table = Some(table.to_owned());
    settings.otp_secret_id = Some(otp_secret_name(table));
    settings.signing_key_secret_id = Some(signing_key_secret_name(table));
    settings.email_sender = Some(DEV_EMAIL_SENDER.to_owned());
    settings.token = Some(dev_token::dev_token_config());
    settings.event_bus = Some(event_bus_name(table));
    if settings.token_client_ids.is_none() {
        settings.token_client_ids = Some(vec![
            domain::session::DEFAULT_CLIENT_ID.to_owned(),
            DEV_CLIENT_ID.to_owned(),
        ]);
    }
    if settings.webauthn.is_none() {
        settings.webauthn = Some(dev_webauthn(3000));
    }
    settings
}

/// Passkeys under `make dev`: browsers refuse an IP address as a relying party id, so the
/// page is opened at `http://localhost:<port>`.
pub fn dev_webauthn(port: u16) -> platform::WebAuthnConfig {
    platform::WebAuthnConfig {
        rp_id: "localhost".to_owned(),
        origins: vec![format!("http://localhost:{port}")],
    }
}

/// A second client id `make dev` and the tests issue tokens to.
pub const DEV_CLIENT_ID: &str = "dev-app";

/// The change-event bus of the stack whose table is `table` (the template's
/// `${AWS::StackName}-events` when the table is named after the stack).
pub fn event_bus_name(table: &str) -> String {
    format!("{table}-events")
}

/// Profile images in a bucket named after the table, fetched straight from the
/// emulator at `endpoint` (which serves objects without signatures), as a CDN would.
pub fn dev_avatars(
    mut settings: platform::Settings,
    table: &str,
    endpoint: &str,
) -> platform::Settings {
    let bucket = avatar_bucket_name(table);
    settings.avatars = Some(platform::AvatarConfig {
        base_url: format!("{}/{bucket}", endpoint.trim_end_matches('/')),
        bucket,
    });
    settings
}

/// What the functions expect to find in the emulator for `table`: the table itself (when
/// `table_def` is given), the OTP secret, the verified sender, the avatar bucket, the
/// signing key and the stand-in loyalty platform's API key. `make dev`, `make invoke` and the tests provision alike.
pub async fn provision(
    platform: &platform::Platform,
    table: &str,
    table_def: Option<&template::TableDef>,
) -> Result<(), String> {
    if let Some(def) = table_def {
        table::ensure_table(&platform.dynamodb(), table, def).await?;
    }
    table::ensure_otp_secret(platform.secrets().get(), &otp_secret_name(table)).await?;
    table::ensure_email_identity(platform.ses().get(), DEV_EMAIL_SENDER).await?;
    table::ensure_bucket(platform.s3().get(), &avatar_bucket_name(table)).await?;
    table::ensure_loyalty_secret(platform.secrets().get(), &loyalty_secret_name(table)).await?;
    table::ensure_signing_secret(platform.secrets().get(), &signing_key_secret_name(table)).await
}

/// The stand-in loyalty platform's API key and store code in development and tests.
pub const DEV_LOYALTY_API_KEY: &str = "dev-loyalty-key";
pub const DEV_LOYALTY_STORE_CODE: &str = "default";

pub fn loyalty_secret_name(table: &str) -> String {
    format!("{table}-loyalty-api-key")
}

/// `settings` with the loyalty platform at `base_url` (the stand-in), its API key in
/// the secret `provision` creates.
pub fn dev_loyalty(
    mut settings: platform::Settings,
    table: &str,
    base_url: &str,
) -> platform::Settings {
    settings.loyalty = Some(platform::LoyaltyConfig {
        base_url: base_url.to_owned(),
        store_code: DEV_LOYALTY_STORE_CODE.to_owned(),
        api_key_secret: loyalty_secret_name(table),
        timeout: std::time::Duration::from_millis(2000),
    });
    settings
}

pub fn avatar_bucket_name(table: &str) -> String {
    format!("{}-avatars", table.to_ascii_lowercase())
}

/// The sender `make dev` and the tests verify in the emulator's SES.
pub const DEV_EMAIL_SENDER: &str = "no-reply@user-profile.local";

pub fn signing_key_secret_name(table: &str) -> String {
    format!("{table}-token-signing-key")
}

pub fn otp_secret_name(table: &str) -> String {
    format!("{table}-otp-hmac")
}

/// The gateway over every function of `template`, with the real authorizer in front.
pub fn gateway(template: &Template, platform: &platform::Platform) -> Result<Gateway, String> {
    let authorizer = authorizer::Authorizer::new(platform).map_err(|e| e.to_string())?;
    let handlers = wire(platform).map_err(|e| e.to_string())?;
    Gateway::new(template, handlers, authorizer).map_err(|e| e.to_string())
}
