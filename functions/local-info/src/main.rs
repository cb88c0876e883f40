//! Lambda wiring only: logging and the catalog body, built once per container.

use std::convert::Infallible;

use lambda_http::{Error, service_fn};
use local_info::LocalInfoApp;
use shared::domain::LocaleCatalog;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let app = LocalInfoApp::new(&LocaleCatalog::from_env()?);
    let app = &app;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Infallible>(local_info::handle(app, req).await)
    }))
    .await
}
