//! Lambda wiring only: the catalog body is built once per container. This function
//! calls no AWS service, so it loads no SDK configuration.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    platform::run_http_without_aws(local_info::LocalInfoApp::from_settings).await
}
