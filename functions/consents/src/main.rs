//! Lambda wiring only: the app is built once per container by `ConsentsApp::new`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    platform::run_http(consents::ConsentsApp::new).await
}
