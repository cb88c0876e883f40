//! The HTTP side of `local-api serve`: reads each request as API Gateway would (a body
//! over the payload limit is answered 413, never passed on empty) and hands it to the
//! [`Gateway`].

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::StatusCode;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::gateway::{GATEWAY_MAX_BODY, Gateway, GatewayResponse};

/// The request body, or 413 past API Gateway's limit. An oversized body is still read
/// (up to twice the limit) so the client, still sending, gets the answer rather than a
/// connection reset.
async fn read_body(mut body: Incoming) -> Result<Bytes, StatusCode> {
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| StatusCode::BAD_REQUEST)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen += data.len();
        if seen <= GATEWAY_MAX_BODY {
            kept.extend_from_slice(&data);
        } else if seen > 2 * GATEWAY_MAX_BODY {
            break;
        }
    }
    if seen > GATEWAY_MAX_BODY {
        return Err(StatusCode::PAYLOAD_TOO_LARGE);
    }
    Ok(kept.into())
}

/// Serves `listener` until it fails; one task per connection.
pub async fn serve(gateway: Arc<Gateway>, listener: TcpListener) -> Result<(), String> {
    loop {
        let (stream, peer) = listener.accept().await.map_err(|e| e.to_string())?;
        let gateway = gateway.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let gateway = gateway.clone();
                async move { Ok::<_, Infallible>(handle(&gateway, peer.ip(), req).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    gateway: &Gateway,
    peer: std::net::IpAddr,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let started = std::time::Instant::now();
    let (parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .to_owned();
    let page = (parts.method == hyper::Method::GET)
        .then(|| account_page(path.split('?').next().unwrap_or_default()))
        .flatten();
    let response = match read_body(body).await {
        _ if page.is_some() => page.expect("checked"),
        Ok(body) => {
            gateway
                .dispatch_from(peer, parts.method.as_str(), &path, &parts.headers, &body)
                .await
        }
        Err(status) if status == StatusCode::PAYLOAD_TOO_LARGE => {
            // API Gateway's wording, not hyper's "Payload Too Large".
            GatewayResponse::message(status, "Request Entity Too Large")
        }
        Err(status) => GatewayResponse::message(status, "Bad Request"),
    };
    println!(
        "{} {} → {} ({:.1} ms)",
        parts.method,
        path.split('?').next().unwrap_or_default(),
        response.status.as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    let mut out = hyper::Response::new(Full::new(Bytes::from(response.body)));
    *out.status_mut() = response.status;
    *out.headers_mut() = response.headers;
    out
}

/// The account page's files, built in: `make dev` serves `/account/` on the API's own
/// origin (a deployment serves them from their bucket behind CloudFront, calling the API
/// across origins: `AccountPage` in the template).
const ACCOUNT_PAGE: &[(&str, &str, &str)] = &[
    (
        "/account/",
        "text/html; charset=utf-8",
        include_str!("../../../web/account/index.html"),
    ),
    (
        "/account/app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/account/app.js"),
    ),
    (
        "/account/style.css",
        "text/css; charset=utf-8",
        include_str!("../../../web/account/style.css"),
    ),
];

/// A file of the account page, or `/account` sent on to `/account/`.
fn account_page(path: &str) -> Option<GatewayResponse> {
    let mut headers = http::HeaderMap::new();
    if path == "/account" {
        headers.insert(http::header::LOCATION, "/account/".parse().expect("static"));
        return Some(GatewayResponse {
            status: StatusCode::MOVED_PERMANENTLY,
            headers,
            body: Vec::new(),
        });
    }
    let (_, kind, body) = ACCOUNT_PAGE.iter().find(|(p, _, _)| *p == path)?;
    headers.insert(http::header::CONTENT_TYPE, kind.parse().expect("static"));
    headers.insert(
        http::header::CACHE_CONTROL,
        "no-cache".parse().expect("static"),
    );
    // The page runs its own script only, and never in a frame.
    headers.insert(
        http::header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
            .parse()
            .expect("static"),
    );
    Some(GatewayResponse {
        status: StatusCode::OK,
        headers,
        body: body.as_bytes().to_vec(),
    })
}
