//! Lambda wiring only: logging and the verifier, built once per container.

use authorizer::{Authorizer, TokenConfig, UserTokenVerifier};
use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let authorizer = Authorizer {
        users: UserTokenVerifier::new(&TokenConfig::from_env()?)?,
    };
    let authorizer = &authorizer;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>| async move {
            Ok::<_, Error>(authorizer.authorize(&event.payload).await)
        },
    ))
    .await
}
