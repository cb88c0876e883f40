//! Request and response plumbing shared by every HTTP function.

use http::{StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response, request::RequestContext};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Largest body any route accepts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// `GET /users/profile`: the API Gateway route key the request matched.
pub fn route_key(req: &Request) -> Option<&str> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.route_key.as_deref(),
        _ => None,
    }
}

/// API Gateway's request id (or the Lambda one): the correlation id of logs and audit entries.
pub fn request_id(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    }
    .or_else(|| req.lambda_context_ref().map(|c| c.request_id.clone()))
    .unwrap_or_default()
}

/// Where the request came from: API Gateway's `sourceIp`, the TCP peer it saw (never a
/// client-set header such as `X-Forwarded-For`).
pub fn request_source(req: &Request) -> domain::source::RequestSource {
    let ip = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.as_deref(),
        _ => None,
    };
    ip.and_then(|ip| ip.parse().ok()).map_or_else(
        domain::source::RequestSource::unknown,
        domain::source::RequestSource::of,
    )
}

/// The greedy tail template.yaml adds to a route so that its path with a trailing `/`
/// reaches it too: HTTP API route paths cannot end in `/`, and a greedy path variable
/// also matches an empty remainder (see docs/api/trailing-slashes.md).
pub const TRAILING_SLASH: &str = "/{proxy+}";
const TRAILING_SLASH_PARAM: &str = "proxy";

/// A function's route keys as an enum (see `routes!`).
pub trait Routes: Sized + Copy + 'static {
    /// Every key, exactly as template.yaml declares it (without the trailing-slash twins).
    const KEYS: &'static [&'static str];
    fn from_key(key: &str) -> Option<Self>;

    /// The route `req` matched; `None` for a key this function does not serve. A
    /// trailing-slash twin is its route when nothing follows the slash.
    fn of(req: &Request) -> Option<Self> {
        let key = route_key(req)?;
        match key.strip_suffix(TRAILING_SLASH) {
            None => Self::from_key(key),
            Some(base) => {
                let rest = req
                    .path_parameters_ref()
                    .and_then(|p| p.first(TRAILING_SLASH_PARAM))
                    .unwrap_or_default();
                if rest.is_empty() {
                    Self::from_key(base)
                } else {
                    None
                }
            }
        }
    }
}

/// Declares a function's routes: `routes! { pub enum Route { Get = "GET /users/profile" } }`.
#[macro_export]
macro_rules! routes {
    ($vis:vis enum $name:ident { $($variant:ident = $key:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name { $($variant),+ }

        impl $crate::http::Routes for $name {
            const KEYS: &'static [&'static str] = &[$($key),+];

            fn from_key(key: &str) -> Option<Self> {
                match key {
                    $($key => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

/// The body as a JSON object: 413 past the size limit, 400 for anything that is not one
/// well-formed JSON object. The Content-Type header is not consulted: clients such as
/// `curl -d` label JSON as a form, and the body itself is the only thing that matters.
pub fn json_object(req: &Request) -> Result<Map<String, Value>, ApiError> {
    let body: &[u8] = req.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::malformed_body("the body must be a JSON object"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::malformed_body("the body must be a JSON object")),
        Err(e) => Err(ApiError::malformed_body(format!(
            "the body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))),
    }
}

/// For answers no cache on the way may keep: tokens (RFC 6749 §5.1), an export's link.
pub fn no_store(mut response: Response<Body>) -> Response<Body> {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_vec(value).expect("response types serialize");
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("valid response parts")
}
