//! Logging: JSON lines on stdout for CloudWatch, set up once in each `main`.

use tracing_subscriber::EnvFilter;

/// What a function logs when `RUST_LOG` is not set.
pub const DEFAULT_FILTER: &str = "info";

/// Crates that log request and response bodies at debug and trace (an SNS `Publish`
/// carries a code and a number, a DynamoDB item a profile): never below `info`,
/// whatever `RUST_LOG` asks for.
const CAPPED: &[&str] = &[
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http",
    "aws_smithy_http_client",
    "aws_smithy_types",
    "aws_sigv4",
    "aws_config",
    "aws_sdk_dynamodb",
    "aws_sdk_s3",
    "aws_sdk_secretsmanager",
    "aws_sdk_sesv2",
    "aws_sdk_sns",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
    "lambda_runtime",
    "lambda_http",
];

/// `requested` (a `RUST_LOG` value) with every directive for a capped crate replaced by
/// `<crate>=info`.
pub fn filter_directives(requested: &str) -> String {
    let mut directives: Vec<String> = requested
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .filter(|d| {
            let target = d.split(['=', '[']).next().unwrap_or_default();
            !CAPPED
                .iter()
                .any(|c| target == *c || target.starts_with(&format!("{c}::")))
        })
        .map(str::to_owned)
        .collect();
    directives.extend(CAPPED.iter().map(|c| format!("{c}=info")));
    directives.join(",")
}

/// `RUST_LOG` overrides the default `info` level, within the caps above.
pub fn init() {
    let requested = std::env::var("RUST_LOG").unwrap_or_else(|_| DEFAULT_FILTER.to_owned());
    let filter = EnvFilter::try_new(filter_directives(&requested))
        .unwrap_or_else(|_| EnvFilter::new(filter_directives(DEFAULT_FILTER)));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn sdk_and_transport_logs_stay_at_info_whatever_is_asked() {
        let f = filter_directives("trace,aws_smithy_runtime=trace,hyper::proto=debug,store=debug");
        assert!(f.starts_with("trace,store=debug,"), "{f}");
        assert!(!f.contains("aws_smithy_runtime=trace"), "{f}");
        assert!(!f.contains("hyper::proto=debug"), "{f}");
        let subscriber =
            tracing_subscriber::registry().with(EnvFilter::try_new(&f).expect("valid directives"));
        tracing::subscriber::with_default(subscriber, || {
            assert!(tracing::enabled!(target: "store::profiles", Level::DEBUG));
            assert!(tracing::enabled!(target: "usecases::auth", Level::TRACE));
            assert!(!tracing::enabled!(target: "aws_smithy_runtime::client", Level::DEBUG));
            assert!(!tracing::enabled!(target: "hyper::proto::h1", Level::DEBUG));
            assert!(tracing::enabled!(target: "aws_sdk_sns::config", Level::INFO));
        });
    }
}
