//! Lambda wiring only: logging and the verifier, built once per container.

use authorizer::{Authorizer, TokenConfig, UserTokenVerifier};
use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::clock::Clock;
use shared::config::{StoreConfig, aws_sdk_config};
use shared::store::ApiTokenStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let users = UserTokenVerifier::new(&TokenConfig::from_env()?)?;
    let store = StoreConfig::from_env()?;
    let aws = aws_sdk_config().await;
    let authorizer = Authorizer {
        users,
        api_tokens: ApiTokenStore::new(aws_sdk_dynamodb::Client::new(&aws), store.table_name),
        clock: Clock::system(),
    };
    let authorizer = &authorizer;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>| async move {
            Ok::<_, Error>(authorizer.authorize(&event.payload).await)
        },
    ))
    .await
}
