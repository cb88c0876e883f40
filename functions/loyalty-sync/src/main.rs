//! Lambda wiring only: the platform client and the stores are built once per container.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    platform::run_events(loyalty_sync::LoyaltySync::new).await
}
