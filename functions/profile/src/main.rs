//! Lambda wiring only: the app is built once per container by `ProfileApp::new`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    platform::run_http(profile::ProfileApp::new).await
}
