//! The HTTP client the third-party adapters share: reqwest over rustls with the
//! aws-lc-rs provider the SDK uses and the Mozilla roots, a connect and a total timeout,
//! and no redirect followed (a redirect would carry a key or a question to whatever host
//! the answer names, https or not). A client that cannot be built is an error, never a
//! default client with other rules. Built on a container's first call, not during init.

use std::sync::Arc;
use std::time::Duration;

pub(crate) fn client(
    connect_timeout: Duration,
    timeout: Duration,
) -> Result<reqwest::Client, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let unavailable =
        |e: &dyn std::fmt::Display| format!("the HTTP client could not be built: {e}");
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| unavailable(&e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("user-profile-service")
        .use_preconfigured_tls(tls)
        .build()
        .map_err(|e| unavailable(&e))
}
