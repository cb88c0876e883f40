//! Lambda wiring only: logging, configuration and the DynamoDB client, built once per container.

use std::convert::Infallible;

use lambda_http::{Error, service_fn};
use profile::ProfileApp;
use shared::clock::Clock;
use shared::config::{StoreConfig, aws_sdk_config, required};
use shared::domain::LocaleCatalog;
use shared::otp::OtpPolicy;
use shared::secrets::OtpKeySource;
use shared::sms::{SmsConfig, SnsSms};
use shared::store::ProfileStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let store = StoreConfig::from_env()?;
    let otp_policy = OtpPolicy::from_env()?;
    let locales = LocaleCatalog::from_env()?;
    let sms = SmsConfig::from_env()?;
    let otp_secret = required("OTP_SECRET_ARN")?;
    let aws = aws_sdk_config().await;
    let app = ProfileApp {
        profiles: ProfileStore::new(aws_sdk_dynamodb::Client::new(&aws), store.table_name),
        otp_policy,
        // Fetched on the first code sent or checked, not during init.
        otp_keys: OtpKeySource::new(aws_sdk_secretsmanager::Client::new(&aws), otp_secret),
        sms: SnsSms::new(aws_sdk_sns::Client::new(&aws), sms),
        clock: Clock::system(),
        locales,
    };
    let app = &app;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Infallible>(profile::handle(app, req).await)
    }))
    .await
}
