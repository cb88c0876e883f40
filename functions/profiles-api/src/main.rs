//! Lambda wiring only: logging, configuration and the DynamoDB client, built once per container.

use std::convert::Infallible;

use lambda_http::{Error, service_fn};
use profiles_api::ProfilesApiApp;
use shared::clock::Clock;
use shared::config::{StoreConfig, aws_sdk_config};
use shared::domain::LocaleCatalog;
use shared::store::ProfileStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let store = StoreConfig::from_env()?;
    let locales = LocaleCatalog::from_env()?;
    let aws = aws_sdk_config().await;
    let app = ProfilesApiApp {
        profiles: ProfileStore::new(aws_sdk_dynamodb::Client::new(&aws), store.table_name),
        clock: Clock::system(),
        locales,
    };
    let app = &app;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Infallible>(profiles_api::handle(app, req).await)
    }))
    .await
}
