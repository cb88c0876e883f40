//! The one place that knows every function crate: template logical id → handler.
//! A function added to template.yaml without a line here stops `local-api serve`.

use std::collections::HashMap;
use std::sync::Arc;

use ci::CiApp;
use consents::ConsentsApp;
use local_info::LocalInfoApp;
use profile::ProfileApp;
use profiles_api::ProfilesApiApp;
use segments::SegmentsApp;
use shared::clock::Clock;
use shared::domain::LocaleCatalog;
use shared::otp::OtpPolicy;
use shared::secrets::OtpKeySource;
use shared::sms::{SmsConfig, SnsSms};
use shared::store::{CiStore, ProfileStore, SegmentStore};

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
    pub locales: LocaleCatalog,
}

/// A `Handler` from an app and its async entry point.
macro_rules! handler {
    ($app:expr, $entry:path) => {{
        let app = Arc::new($app);
        let handler: Handler = Arc::new(move |req| {
            let app = app.clone();
            Box::pin(async move { $entry(&app, req).await })
        });
        handler
    }};
}

pub fn wire(backends: &Backends) -> HashMap<String, Handler> {
    let mut handlers: HashMap<String, Handler> = HashMap::new();

    let profiles = ProfileStore::new(backends.dynamodb.clone(), &backends.table);
    handlers.insert(
        "ProfileFunction".into(),
        handler!(
            ProfileApp {
                profiles: profiles.clone(),
                otp_policy: backends.otp_policy.clone(),
                otp_keys: OtpKeySource::new(backends.secrets.clone(), &backends.otp_secret_id),
                sms: SnsSms::new(backends.sns.clone(), backends.sms.clone()),
                clock: backends.clock.clone(),
                locales: backends.locales.clone(),
            },
            profile::handle
        ),
    );
    handlers.insert(
        "ConsentsFunction".into(),
        handler!(
            ConsentsApp {
                profiles: profiles.clone(),
                clock: backends.clock.clone(),
            },
            consents::handle
        ),
    );
    handlers.insert(
        "SegmentsFunction".into(),
        handler!(
            SegmentsApp {
                segments: SegmentStore::new(backends.dynamodb.clone(), &backends.table),
                clock: backends.clock.clone(),
            },
            segments::handle
        ),
    );
    handlers.insert(
        "ProfilesApiFunction".into(),
        handler!(
            ProfilesApiApp {
                profiles: profiles.clone(),
                clock: backends.clock.clone(),
                locales: backends.locales.clone(),
            },
            profiles_api::handle
        ),
    );
    handlers.insert(
        "CiFunction".into(),
        handler!(
            CiApp {
                ci: CiStore::new(backends.dynamodb.clone(), &backends.table),
                clock: backends.clock.clone(),
            },
            ci::handle
        ),
    );
    handlers.insert(
        "LocalInfoFunction".into(),
        handler!(LocalInfoApp::new(&backends.locales), local_info::handle),
    );

    handlers
}
