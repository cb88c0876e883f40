#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    platform::run_http(media::MediaApp::new).await
}
