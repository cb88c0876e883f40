//! Lambda wiring only: the app is built once per container by `SegmentsApp::new`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    platform::run_http(segments::SegmentsApp::new).await
}
