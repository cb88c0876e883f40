//! A function's HTTP routes and the one path every request takes through them: the
//! route it matched, the answer or the refusal rendered in the route's style, and the
//! request's single log line.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use lambda_http::{Body, Request, Response};

use crate::error::ApiError;
use crate::http::{Routes, request_id, route_key};
use crate::style::Style;

static COLD_START: AtomicBool = AtomicBool::new(true);

/// A function's HTTP routes: what each does, and the style each answers refusals in.
pub trait HttpApp: Send + Sync + 'static {
    type Route: Routes + Send;

    /// The style of this function's answers, a route it does not serve included.
    const STYLE: Style = Style::Problem;

    /// The style of `route`'s answers, where it is not the function's.
    fn style(route: Self::Route) -> Style {
        let _ = route;
        Self::STYLE
    }

    fn route(
        &self,
        route: Self::Route,
        req: Request,
    ) -> impl Future<Output = Result<Response<Body>, ApiError>> + Send;
}

/// One request through `app`: a route key it does not serve is refused as
/// `route_not_found`, every refusal is rendered in its route's style, and the request
/// gets its single log line with the refusal's code. Nothing from the body or headers
/// is logged.
pub async fn handle<A: HttpApp>(app: &A, req: Request) -> Response<Body> {
    let started = Instant::now();
    let cold_start = COLD_START.swap(false, Ordering::Relaxed);
    let route_name = route_key(&req).unwrap_or("-").to_owned();
    let request_id = request_id(&req);
    let (style, answer) = match A::Route::of(&req) {
        Some(route) => (A::style(route), app.route(route, req).await),
        None => (A::STYLE, Err(ApiError::route_not_found())),
    };
    let (response, code) = match answer {
        Ok(response) => (response, None),
        Err(refusal) => {
            let code = refusal.code();
            (style.render(refusal), Some(code))
        }
    };
    tracing::info!(
        request_id,
        route = route_name,
        status = response.status().as_u16(),
        error_code = code,
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        cold_start,
        "request"
    );
    response
}
