//! The composition root: configuration read once, the AWS clients built once per
//! container (no network call), and the run loops every function's `main` calls. A
//! function crate gives a constructor from `&Platform`; its `main.rs` and the developer
//! gateway call the same constructor.

pub mod config;
pub mod telemetry;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use adapters::aws::LazyClient;

use api::app::HttpApp;
use domain::Clock;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use config::{
    AvatarConfig, ConfigError, LoyaltyConfig, PwnedPasswordsConfig, Settings, TokenConfig,
    WebAuthnConfig,
};

/// What every function is built from. An AWS client is built the first time an app
/// asks for it, so a function pays only for the clients it uses.
pub struct Platform {
    dynamodb: LazyClient<aws_sdk_dynamodb::Client>,
    sns: LazyClient<aws_sdk_sns::Client>,
    secrets: LazyClient<aws_sdk_secretsmanager::Client>,
    ses: LazyClient<aws_sdk_sesv2::Client>,
    /// Kept for the clients only some functions build (S3), so the others do not link
    /// them.
    sdk: Arc<aws_config::SdkConfig>,
    pub settings: Settings,
    pub clock: Clock,
}

impl Platform {
    /// From the environment, as in Lambda.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let settings = Settings::from_env()?;
        let sdk = adapters::aws::sdk_config().await;
        Ok(Self::new(sdk, settings, Clock::system()))
    }

    pub fn new(sdk: aws_config::SdkConfig, settings: Settings, clock: Clock) -> Self {
        let sdk = Arc::new(sdk);
        Self {
            dynamodb: LazyClient::new(sdk.clone(), aws_sdk_dynamodb::Client::new),
            sns: LazyClient::new(sdk.clone(), aws_sdk_sns::Client::new),
            secrets: LazyClient::new(sdk.clone(), aws_sdk_secretsmanager::Client::new),
            ses: LazyClient::new(sdk.clone(), aws_sdk_sesv2::Client::new),
            sdk,
            settings,
            clock,
        }
    }

    /// Uses `client` for DynamoDB instead of one built from the SDK configuration.
    pub fn with_dynamodb(mut self, client: aws_sdk_dynamodb::Client) -> Self {
        self.dynamodb = LazyClient::ready(client);
        self
    }

    /// Uses `client` for SNS instead of one built from the SDK configuration.
    pub fn with_sns(mut self, client: aws_sdk_sns::Client) -> Self {
        self.sns = LazyClient::ready(client);
        self
    }

    /// The DynamoDB client, built now: every function that asks reads the table at once.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        self.dynamodb.get().clone()
    }

    /// SNS, built on the first SMS.
    pub fn sns(&self) -> LazyClient<aws_sdk_sns::Client> {
        self.sns.clone()
    }

    /// Secrets Manager, built on the first secret read.
    pub fn secrets(&self) -> LazyClient<aws_sdk_secretsmanager::Client> {
        self.secrets.clone()
    }

    /// What flows that send one-time codes are given: the HMAC key (fetched on the first
    /// code sent or checked, not during init), the policy's limits and the clock.
    pub fn code_settings(
        &self,
    ) -> Result<usecases::codes::CodeSettings<adapters::secrets::OtpKeySource>, ConfigError> {
        Ok(usecases::codes::CodeSettings {
            keys: adapters::secrets::otp_key_source(
                self.secrets(),
                self.settings.require_otp_secret()?,
            ),
            policy: self.settings.otp_policy.clone(),
            clock: self.clock.clone(),
        })
    }

    /// Sends email from `EMAIL_SENDER`; the SES client is built on the first email.
    pub fn email_sender(&self) -> Result<adapters::email::SesEmail, ConfigError> {
        Ok(adapters::email::SesEmail::new(
            self.ses.clone(),
            self.settings.require_email_sender()?,
        ))
    }

    /// Profile images in `AVATAR_BUCKET`; the S3 client is built on the first upload.
    pub fn image_store(&self) -> Result<adapters::images::S3Images, ConfigError> {
        let avatars = self.settings.require_avatars()?;
        Ok(adapters::images::S3Images::new(
            self.s3(),
            &avatars.bucket,
            &avatars.base_url,
        ))
    }

    /// S3, built on first use.
    pub fn s3(&self) -> LazyClient<aws_sdk_s3::Client> {
        LazyClient::new(self.sdk.clone(), adapters::images::s3_client)
    }

    /// Change events to `EVENT_BUS_NAME`; the EventBridge client is built on the first
    /// publish, and only the events function links it.
    pub fn event_bus(&self) -> Result<adapters::events::EventBridgeBus, ConfigError> {
        Ok(adapters::events::EventBridgeBus::new(
            LazyClient::new(self.sdk.clone(), adapters::events::eventbridge_client),
            self.settings.require_event_bus()?,
        ))
    }

    /// Dead letters to `DEAD_LETTER_QUEUE_URL`; the SQS client is built on the first.
    pub fn dead_letters(&self) -> Result<adapters::dead_letters::SqsDeadLetters, ConfigError> {
        Ok(adapters::dead_letters::SqsDeadLetters::new(
            LazyClient::new(self.sdk.clone(), adapters::dead_letters::sqs_client),
            self.settings.require_dead_letter_queue()?,
        ))
    }

    /// The loyalty platform when one is configured (`None`: `LOYALTY_PROVIDER=none`); its
    /// HTTP client and API key come on the first call.
    pub fn loyalty(&self) -> Option<adapters::loyalty::OpenLoyalty> {
        let config = self.settings.loyalty.as_ref()?;
        Some(adapters::loyalty::OpenLoyalty::new(
            adapters::loyalty::OpenLoyaltyConfig {
                base_url: config.base_url.clone(),
                store_code: config.store_code.clone(),
                connect_timeout: config.timeout.min(std::time::Duration::from_secs(1)),
                timeout: config.timeout,
            },
            adapters::secrets::LazySecret::new(
                self.secrets(),
                &config.api_key_secret,
                adapters::loyalty::parse_api_key,
            ),
        ))
    }

    /// The check of new passwords against breaches: one second for its one request.
    pub fn password_screen(&self) -> usecases::password::Screen<adapters::pwned::PwnedPasswords> {
        let config = &self.settings.pwned_passwords;
        usecases::password::Screen {
            breached: adapters::pwned::PwnedPasswords::new(
                config.url.clone(),
                std::time::Duration::from_secs(1),
            ),
            refuse_when_down: config.refuse_when_down,
        }
    }

    /// A store over the table (`TABLE_NAME`): `ProfileStore`, `AccountStore`, ...
    pub fn store<S: store::TableStore>(&self) -> Result<S, ConfigError> {
        Ok(S::over(self.dynamodb(), self.settings.require_table()?))
    }

    /// SES, built on the first email.
    pub fn ses(&self) -> LazyClient<aws_sdk_sesv2::Client> {
        self.ses.clone()
    }

    /// Signs access tokens with the key of `TOKEN_SIGNING_KEY_SECRET`, read on first use.
    pub fn access_token_issuer(&self) -> Result<adapters::access_tokens::JwtIssuer, ConfigError> {
        let token = self.settings.require_token()?;
        Ok(adapters::access_tokens::JwtIssuer::new(
            self.secrets(),
            self.settings.require_signing_key_secret()?,
            &token.issuer,
            &token.audience,
        ))
    }
}

/// A function invoked with a typed event (an authorizer, a stream consumer).
pub trait EventFunction: Send + Sync + 'static {
    type Event: DeserializeOwned + Send;
    type Output: Serialize + Send;

    fn handle(&self, event: Self::Event) -> impl Future<Output = Self::Output> + Send;

    /// Why the invocation failed, for an output that asks Lambda to retry the event (an
    /// asynchronous invocation is retried, then sent to its on-failure destination).
    fn failure(_output: &Self::Output) -> Option<String> {
        None
    }
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
    serve_http(&app).await
}

/// `main` of an HTTP function that calls no AWS service: no SDK configuration is loaded.
pub async fn run_http_without_aws<A: HttpApp>(
    build: fn(&Settings) -> Result<A, ConfigError>,
) -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let app = build(&Settings::from_env()?)?;
    serve_http(&app).await
}

async fn serve_http<A: HttpApp>(app: &A) -> Result<(), lambda_runtime::Error> {
    lambda_http::run(lambda_http::service_fn(move |req| async move {
        Ok::<_, Infallible>(api::app::handle(app, req).await)
    }))
    .await
}

/// `main` of an event function.
pub async fn run_events<A: EventFunction>(build: Build<A>) -> Result<(), lambda_runtime::Error> {
    let app = init(build).await?;
    let app = &app;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<A::Event>| async move {
            let output = app.handle(event.payload).await;
            match A::failure(&output) {
                Some(reason) => Err(lambda_runtime::Error::from(reason)),
                None => Ok(output),
            }
        },
    ))
    .await
}
