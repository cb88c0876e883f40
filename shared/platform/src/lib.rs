//! The composition root: configuration read once, the AWS clients built once per
//! container (no network call), and the run loops every function's `main` calls. A
//! function crate gives a constructor from `&Platform`; its `main.rs` and the developer
//! gateway call the same constructor.

pub mod config;
pub mod telemetry;

use std::convert::Infallible;
use std::future::Future;

use api::http::HttpApp;
use domain::Clock;
use serde::Serialize;
use serde::de::DeserializeOwned;
use store::{ApiTokenStore, CiStore, ProfileStore, SegmentStore};

pub use config::{ConfigError, Settings, TokenConfig};

/// What every function is built from.
#[derive(Clone, Debug)]
pub struct Platform {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sns: aws_sdk_sns::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub settings: Settings,
    pub clock: Clock,
}

impl Platform {
    /// From the environment, as in Lambda.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let settings = Settings::from_env()?;
        let sdk = adapters::aws::sdk_config().await;
        Ok(Self::new(&sdk, settings, Clock::system()))
    }

    pub fn profile_store(&self) -> Result<ProfileStore, ConfigError> {
        Ok(ProfileStore::new(
            self.dynamodb.clone(),
            self.settings.require_table()?,
        ))
    }

    pub fn segment_store(&self) -> Result<SegmentStore, ConfigError> {
        Ok(SegmentStore::new(
            self.dynamodb.clone(),
            self.settings.require_table()?,
        ))
    }

    pub fn ci_store(&self) -> Result<CiStore, ConfigError> {
        Ok(CiStore::new(
            self.dynamodb.clone(),
            self.settings.require_table()?,
        ))
    }

    pub fn api_token_store(&self) -> Result<ApiTokenStore, ConfigError> {
        Ok(ApiTokenStore::new(
            self.dynamodb.clone(),
            self.settings.require_table()?,
        ))
    }

    pub fn new(sdk: &aws_config::SdkConfig, settings: Settings, clock: Clock) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            settings,
            clock,
        }
    }
}

/// A function invoked with a typed event (an authorizer, a stream consumer).
pub trait EventFunction: Send + Sync + 'static {
    type Event: DeserializeOwned + Send;
    type Output: Serialize + Send;

    fn handle(&self, event: Self::Event) -> impl Future<Output = Self::Output> + Send;
}

/// A constructor of a function app.
pub type Build<A> = fn(&Platform) -> Result<A, ConfigError>;

async fn init<A>(build: Build<A>) -> Result<A, lambda_runtime::Error> {
    telemetry::init();
    let platform = Platform::from_env().await?;
    Ok(build(&platform)?)
}

/// `main` of an HTTP function.
pub async fn run_http<A: HttpApp>(build: Build<A>) -> Result<(), lambda_runtime::Error> {
    let app = init(build).await?;
    let app = &app;
    lambda_http::run(lambda_http::service_fn(move |req| async move {
        Ok::<_, Infallible>(api::http::handle(app, req).await)
    }))
    .await
}

/// `main` of an event function.
pub async fn run_events<A: EventFunction>(build: Build<A>) -> Result<(), lambda_runtime::Error> {
    let app = init(build).await?;
    let app = &app;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<A::Event>| async move {
            Ok::<_, Infallible>(app.handle(event.payload).await)
        },
    ))
    .await
}
