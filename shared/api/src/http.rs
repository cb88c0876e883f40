//! Request and response plumbing shared by every HTTP function.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use http::{StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response, request::RequestContext};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Largest body any route accepts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

static COLD_START: AtomicBool = AtomicBool::new(true);

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

/// How a style of API answers its errors: problem details, or the partner envelope.
pub trait ErrorAnswer: Send {
    fn route_not_found() -> Self;
    /// The answer; an `Err` is logged with its code and answered as problem details.
    fn into_answer(self) -> Result<Response<Body>, ApiError>;
}

impl ErrorAnswer for ApiError {
    fn route_not_found() -> Self {
        ApiError::route_not_found()
    }

    fn into_answer(self) -> Result<Response<Body>, ApiError> {
        Err(self)
    }
}

/// A function's HTTP routes: what each does, in the style of its `Error`.
pub trait HttpApp: Send + Sync + 'static {
    type Route: Routes + Send;
    type Error: ErrorAnswer;

    fn route(
        &self,
        route: Self::Route,
        req: Request,
    ) -> impl Future<Output = Result<Response<Body>, Self::Error>> + Send;
}

/// One request through `app`: a route key it does not serve gets its style's 404, an
/// error its style's answer, and the request its single log line.
pub async fn handle<A: HttpApp>(app: &A, req: Request) -> Response<Body> {
    logged(req, |req| async move {
        let answer = match A::Route::of(&req) {
            Some(route) => app.route(route, req).await,
            None => Err(A::Error::route_not_found()),
        };
        answer.or_else(ErrorAnswer::into_answer)
    })
    .await
}

/// Runs one request through `handler`, turns its error into problem details and writes
/// the request's single log line. Nothing from the body or headers is logged.
async fn logged<F, Fut>(req: Request, handler: F) -> Response<Body>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>>,
{
    let started = Instant::now();
    let cold_start = COLD_START.swap(false, Ordering::Relaxed);
    let route = route_key(&req).unwrap_or("-").to_owned();
    let request_id = request_id(&req);
    let (response, code) = match handler(req).await {
        Ok(response) => (response, None),
        Err(err) => {
            let code = err.code();
            (err.into_response(), Some(code))
        }
    };
    tracing::info!(
        request_id,
        route,
        status = response.status().as_u16(),
        error_code = code,
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        cold_start,
        "request"
    );
    response
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
