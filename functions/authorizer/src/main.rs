//! Lambda wiring only: the verifier and token store are built once per container.
// The run loop around an SDK call nests futures past the compiler's default query depth.
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    platform::run_events(authorizer::Authorizer::new).await
}
