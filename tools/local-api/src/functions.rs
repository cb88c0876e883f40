//! The one place that knows every function crate: template logical id → app. Each app
//! is built by the same constructor its `main.rs` calls. A function added to
//! template.yaml without a line here stops `local-api serve` (and the tests).

use std::collections::HashMap;
use std::sync::Arc;

use accounts::AccountsApp;
use api::app::HttpApp;
use api::http::Routes;
use ci::CiApp;
use consents::ConsentsApp;
use local_info::LocalInfoApp;
use media::MediaApp;
use platform::{Build, ConfigError, Platform};
use privacy::PrivacyApp;
use profile::ProfileApp;
use profiles_api::ProfilesApiApp;
use segments::SegmentsApp;

use crate::gateway::Handler;

type Constructor = Box<dyn Fn(&Platform) -> Result<Handler, ConfigError>>;

/// One HTTP function of template.yaml.
pub struct Function {
    pub logical_id: &'static str,
    /// The route keys its app serves.
    pub routes: &'static [&'static str],
    build: Constructor,
}

fn function<A: HttpApp>(logical_id: &'static str, build: Build<A>) -> Function {
    Function {
        logical_id,
        routes: A::Route::KEYS,
        build: Box::new(move |platform| {
            let app = Arc::new(build(platform)?);
            let handler: Handler = Arc::new(move |req| {
                let app = app.clone();
                Box::pin(async move { api::app::handle(&*app, req).await })
            });
            Ok(handler)
        }),
    }
}

pub fn functions() -> Vec<Function> {
    vec![
        function("ProfileFunction", ProfileApp::new),
        function("ConsentsFunction", ConsentsApp::new),
        function("SegmentsFunction", SegmentsApp::new),
        function("ProfilesApiFunction", ProfilesApiApp::new),
        function("CiFunction", CiApp::new),
        function("LocalInfoFunction", LocalInfoApp::new),
        function("AccountsFunction", AccountsApp::new),
        function("MediaFunction", MediaApp::new),
        function("PrivacyFunction", PrivacyApp::new),
    ]
}

/// Every function's handler, by logical id.
pub fn wire(platform: &Platform) -> Result<HashMap<String, Handler>, ConfigError> {
    functions()
        .into_iter()
        .map(|f| Ok((f.logical_id.to_owned(), (f.build)(platform)?)))
        .collect()
}
