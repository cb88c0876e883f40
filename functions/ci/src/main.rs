//! Lambda wiring only: logging, configuration and the DynamoDB client, built once per container.

use std::convert::Infallible;

use ci::CiApp;
use lambda_http::{Error, service_fn};
use shared::clock::Clock;
use shared::config::{StoreConfig, aws_sdk_config};
use shared::store::CiStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let store = StoreConfig::from_env()?;
    let aws = aws_sdk_config().await;
    let app = CiApp {
        ci: CiStore::new(aws_sdk_dynamodb::Client::new(&aws), store.table_name),
        clock: Clock::system(),
    };
    let app = &app;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Infallible>(ci::handle(app, req).await)
    }))
    .await
}
