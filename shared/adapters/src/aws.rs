//! The AWS SDK configuration every client is built from, resolved the standard way
//! (environment, profile, the Lambda role). No network call happens here: credentials
//! are fetched on first use. `AWS_ENDPOINT_URL` points every client at an emulator.
//!
//! Init cost: the SDK's default HTTPS client builds a TLS connector for every client
//! as soon as the client is created, parsing every root certificate of the system
//! store each time. Here all clients share one HTTP client (one connection pool), its
//! connector is built on the first request, and it trusts only the roots AWS service
//! endpoints chain to (Amazon Trust Services), compiled in.

use std::sync::{Arc, OnceLock};

use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;

/// An AWS client built the first time it is used. Creating a client costs a share of a
/// function's init; a function that rarely needs one (SNS for a phone change, Secrets
/// Manager for the OTP key) builds it on that first request instead.
type ClientFactory<C> = fn(&aws_config::SdkConfig) -> C;

#[derive(Clone)]
pub struct LazyClient<C> {
    cell: Arc<OnceLock<C>>,
    /// How to build it; `None` for a client that was handed over ready.
    source: Option<(Arc<aws_config::SdkConfig>, ClientFactory<C>)>,
}

impl<C> LazyClient<C> {
    pub fn new(sdk: Arc<aws_config::SdkConfig>, make: fn(&aws_config::SdkConfig) -> C) -> Self {
        Self {
            cell: Arc::new(OnceLock::new()),
            source: Some((sdk, make)),
        }
    }

    /// A client that exists already (tests point one at a chosen endpoint).
    pub fn ready(client: C) -> Self {
        Self {
            cell: Arc::new(OnceLock::from(client)),
            source: None,
        }
    }

    pub fn get(&self) -> &C {
        self.cell.get_or_init(|| {
            let (sdk, make) = self
                .source
                .as_ref()
                .expect("only a ready client has no source");
            make(sdk)
        })
    }
}

impl<C> std::fmt::Debug for LazyClient<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = if self.cell.get().is_some() {
            "built"
        } else {
            "not built yet"
        };
        write!(f, "LazyClient({state})")
    }
}

/// Amazon Root CA 1-4 and Starfield Services Root CA G2 (which cross-signs them).
const AMAZON_TRUST_ROOTS: &str = include_str!("amazon-trust-roots.pem");

/// A variable the template declares empty in every function, so that
/// `sam local invoke --env-vars events/env.json` can point a function at the `make dev`
/// emulator: SAM overrides only the variables a template declares, and an empty
/// `AWS_ENDPOINT_URL` would be an invalid endpoint to the SDK.
pub const LOCAL_EMULATOR_URL: &str = "LOCAL_EMULATOR_URL";

/// The emulator the SDK is pointed at, if any: `LOCAL_EMULATOR_URL`, else
/// `AWS_ENDPOINT_URL`, whichever is set and not empty.
pub fn emulator_url() -> Option<String> {
    [LOCAL_EMULATOR_URL, "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
}

/// `http://127.0.0.1:4566`, `http://localhost:…`, `http://[::1]:…`.
pub fn is_loopback(endpoint: &str) -> bool {
    matches!(host(endpoint), "127.0.0.1" | "localhost" | "[::1]")
}

/// Loopback, or the host as a container under `sam local` reaches it.
pub fn is_development_endpoint(endpoint: &str) -> bool {
    is_loopback(endpoint) || matches!(host(endpoint), "host.docker.internal" | "172.17.0.1")
}

fn host(endpoint: &str) -> &str {
    let host = endpoint
        .split("://")
        .nth(1)
        .unwrap_or_default()
        .split('/')
        .next()
        .unwrap_or_default();
    host.rsplit_once(':')
        .filter(|(h, port)| !h.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h)
}

pub async fn sdk_config() -> aws_config::SdkConfig {
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(lazy_https_client());
    let loader = match std::env::var(LOCAL_EMULATOR_URL) {
        Ok(url) if !url.trim().is_empty() => loader.endpoint_url(url),
        _ => loader,
    };
    let loader = if credentials_in_environment() {
        // Lambda hands the role's credentials in the environment, and the default chain
        // would pick them too, but only after building its web-identity provider, whose
        // STS client is a quarter of a function's init (measured with callgrind).
        loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        )
    } else {
        loader
    };
    loader.load().await
}

fn credentials_in_environment() -> bool {
    let set = |name| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    set("AWS_ACCESS_KEY_ID") && set("AWS_SECRET_ACCESS_KEY")
}

/// An HTTPS client whose TLS connector is built when the first request needs it.
pub fn lazy_https_client() -> SharedHttpClient {
    SharedHttpClient::new(LazyHttpClient::default())
}

#[derive(Debug, Default)]
struct LazyHttpClient {
    inner: OnceLock<SharedHttpClient>,
}

impl LazyHttpClient {
    fn inner(&self) -> &SharedHttpClient {
        self.inner.get_or_init(|| {
            let roots = TrustStore::empty()
                .with_native_roots(false)
                .with_pem_certificate(AMAZON_TRUST_ROOTS.as_bytes());
            let context = TlsContext::builder()
                .with_trust_store(roots)
                .build()
                .expect("a TLS context from compiled-in roots");
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::AwsLc,
                ))
                .tls_context(context)
                .build_https()
        })
    }
}

impl HttpClient for LazyHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.inner().http_connector(settings, components)
    }

    /// The default client builds its connector here, at client creation; this one waits.
    fn validate_base_client_config(
        &self,
        _components: &RuntimeComponentsBuilder,
        _cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        Ok(())
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("hyper", Some("1.x".into())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_roots_are_five_certificates() {
        assert_eq!(
            AMAZON_TRUST_ROOTS
                .matches("-----BEGIN CERTIFICATE-----")
                .count(),
            5
        );
        // Building the real client parses them (it panics on a bad PEM).
        let client = LazyHttpClient::default();
        let _ = client.inner();
    }
}

#[cfg(test)]
mod endpoint_tests {
    use super::{is_development_endpoint, is_loopback};

    #[test]
    fn only_a_loopback_emulator_is_loopback() {
        for ok in [
            "http://127.0.0.1:4566",
            "http://localhost:4566/",
            "http://[::1]:4566",
        ] {
            assert!(is_loopback(ok), "{ok}");
        }
        for bad in [
            "(AWS)",
            "https://dynamodb.eu-west-1.amazonaws.com",
            "http://10.0.0.5:4566",
            "http://127.0.0.1.evil.com",
            "http://host.docker.internal:4566",
        ] {
            assert!(!is_loopback(bad), "{bad}");
        }
        assert!(is_development_endpoint("http://host.docker.internal:4566"));
        assert!(!is_development_endpoint(
            "https://dynamodb.eu-west-1.amazonaws.com"
        ));
    }
}

/// What went wrong in a call to `service`, by the error's code alone. The messages of SES
/// and SNS can name the recipient ("The following identities failed the check ...:
/// <address>", "Invalid parameter: PhoneNumber Reason: +... is not valid"): they stay out
/// of logs and of the errors callers pass on.
pub(crate) fn failure_reason<E, R>(
    service: &str,
    e: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    match e {
        SdkError::ServiceError(failed) => format!(
            "{service} refused: {}",
            failed.err().code().unwrap_or("an unnamed error")
        ),
        SdkError::TimeoutError(_) => format!("{service} timed out"),
        SdkError::DispatchFailure(_) => format!("{service} was not reached"),
        SdkError::ResponseError(_) => format!("{service}'s answer was unreadable"),
        SdkError::ConstructionFailure(_) => "the request could not be built".to_owned(),
        _ => format!("{service} failed"),
    }
}
