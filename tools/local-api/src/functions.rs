//! The one place that knows every function crate: template logical id → handler.
//! A function added to template.yaml without a line here stops `local-api serve`.

use std::collections::HashMap;
use std::sync::Arc;

use profile::ProfileApp;
use shared::clock::Clock;
use shared::otp::OtpPolicy;
use shared::secrets::OtpKeySource;
use shared::sms::{SmsConfig, SnsSms};
use shared::store::ProfileStore;

use crate::gateway::Handler;

/// What the functions are built on, as `main.rs` of each function builds it in Lambda.
#[derive(Clone)]
pub struct Backends {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sns: aws_sdk_sns::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub table: String,
    /// Name of the Secrets Manager secret holding the OTP HMAC key.
    pub otp_secret_id: String,
    pub otp_policy: OtpPolicy,
    pub sms: SmsConfig,
    pub clock: Clock,
}

pub fn wire(backends: &Backends) -> HashMap<String, Handler> {
    let mut handlers: HashMap<String, Handler> = HashMap::new();

    let profile_app = Arc::new(ProfileApp {
        profiles: ProfileStore::new(backends.dynamodb.clone(), &backends.table),
        otp_policy: backends.otp_policy.clone(),
        otp_keys: OtpKeySource::new(backends.secrets.clone(), &backends.otp_secret_id),
        sms: SnsSms::new(backends.sns.clone(), backends.sms.clone()),
        clock: backends.clock.clone(),
    });
    handlers.insert(
        "ProfileFunction".into(),
        Arc::new(move |req| {
            let app = profile_app.clone();
            Box::pin(async move { profile::handle(&app, req).await })
        }),
    );

    handlers
}
