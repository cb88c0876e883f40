//! Lambda wiring only: the app is built once per container by `CiApp::new`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    platform::run_http(ci::CiApp::new).await
}
