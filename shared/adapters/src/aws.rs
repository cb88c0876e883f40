//! The AWS SDK configuration, resolved the standard way (environment, profile, the
//! Lambda role). No network call happens here: credentials are fetched on first use.
//! `AWS_ENDPOINT_URL` points every client at an emulator.

pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}
