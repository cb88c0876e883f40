//! Lambda wiring only: the app is built once per container by `ProfilesApiApp::new`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    platform::run_http(profiles_api::ProfilesApiApp::new).await
}
