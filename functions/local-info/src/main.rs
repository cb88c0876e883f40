//! Lambda wiring only: the app is built once per container by `LocalInfoApp::new`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    platform::run_http(local_info::LocalInfoApp::new).await
}
