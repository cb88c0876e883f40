//! Lambda wiring only: the app is built once per container by `AccountsApp::new`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    platform::run_http(accounts::AccountsApp::new).await
}
