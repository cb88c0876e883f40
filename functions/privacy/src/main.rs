#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    platform::run_http(privacy::PrivacyApp::new).await
}
