//! Logging: JSON lines on stdout for CloudWatch, set up once in each `main`.

use tracing_subscriber::EnvFilter;

/// What a function logs when `RUST_LOG` is not set.
pub const DEFAULT_FILTER: &str = "info";

/// `RUST_LOG` overrides the default `info` level.
pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .init();
}
