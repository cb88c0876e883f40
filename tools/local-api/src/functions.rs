//! The one place that knows every function crate: template logical id → handler.
//! A function added to template.yaml without a line here stops `local-api serve`.

use std::collections::HashMap;
use std::sync::Arc;

use profile::ProfileApp;
use shared::store::ProfileStore;

use crate::gateway::Handler;

/// What the functions are built on, as `main.rs` of each function builds it in Lambda.
#[derive(Clone)]
pub struct Backends {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub table: String,
}

pub fn wire(backends: &Backends) -> HashMap<String, Handler> {
    let mut handlers: HashMap<String, Handler> = HashMap::new();

    let profile_app = Arc::new(ProfileApp {
        profiles: ProfileStore::new(backends.dynamodb.clone(), &backends.table),
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
