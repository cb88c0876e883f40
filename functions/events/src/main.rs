//! Lambda wiring only: the publisher is built once per container.
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    platform::run_events(events::EventsApp::new).await
}
