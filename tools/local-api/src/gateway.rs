//! An in-process stand-in for API Gateway's HTTP API: matches template routes, runs the
//! Lambda authorizer in front of protected ones (no header → 401, denied → 403), builds
//! the payload-2.0 event API Gateway would send, and calls the function's handler.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use authorizer::Authorizer;
use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use futures_util::future::BoxFuture;
use http::{HeaderMap, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use crate::template::{RouteDef, Template};

/// A function's entry point: what `lambda_http::run` would call.
pub type Handler = Arc<dyn Fn(Request) -> BoxFuture<'static, Response<Body>> + Send + Sync>;

/// API Gateway's own payload limit for HTTP APIs.
pub(crate) const GATEWAY_MAX_BODY: usize = 10 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(
        "template.yaml routes {routes:?} belong to {function}, which local-api does not wire; add it to local_api::functions::wire"
    )]
    Unwired {
        function: String,
        routes: Vec<String>,
    },
}

struct Route {
    def: RouteDef,
    segments: Vec<String>,
    handler: Handler,
}

pub struct Gateway {
    routes: Vec<Route>,
    authorizer: Arc<Authorizer>,
    request_seq: AtomicU64,
}

/// What the gateway answers, already collected.
#[derive(Debug)]
pub struct GatewayResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl GatewayResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub(crate) fn message(status: StatusCode, message: &str) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            "application/json".parse().expect("static"),
        );
        Self {
            status,
            headers,
            body: serde_json::to_vec(&json!({ "message": message })).expect("static json"),
        }
    }
}

impl Gateway {
    /// Every route in the template must have a handler; a missing one stops start-up.
    pub fn new(
        template: &Template,
        mut handlers: HashMap<String, Handler>,
        authorizer: Authorizer,
    ) -> Result<Self, GatewayError> {
        let mut routes = Vec::new();
        let mut unwired: HashMap<String, Vec<String>> = HashMap::new();
        for def in &template.routes {
            match handlers.get(&def.function) {
                Some(handler) => routes.push(Route {
                    segments: def.path.split('/').map(str::to_owned).collect(),
                    def: def.clone(),
                    handler: handler.clone(),
                }),
                None => unwired
                    .entry(def.function.clone())
                    .or_default()
                    .push(def.key()),
            }
        }
        if let Some((function, routes)) = unwired.into_iter().next() {
            return Err(GatewayError::Unwired { function, routes });
        }
        handlers.clear();
        Ok(Self {
            routes,
            authorizer: Arc::new(authorizer),
            request_seq: AtomicU64::new(0),
        })
    }

    pub fn routes(&self) -> impl Iterator<Item = &RouteDef> {
        self.routes.iter().map(|r| &r.def)
    }

    /// A request from loopback.
    pub async fn dispatch(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> GatewayResponse {
        let loopback = std::net::IpAddr::from([127, 0, 0, 1]);
        self.dispatch_from(loopback, method, path_and_query, headers, body)
            .await
    }

    /// A request from `source`, which the events carry as `sourceIp`.
    pub async fn dispatch_from(
        &self,
        source: std::net::IpAddr,
        method: &str,
        path_and_query: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> GatewayResponse {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let Some((route, path_parameters)) = self.find(method, path) else {
            return GatewayResponse::message(StatusCode::NOT_FOUND, "Not Found");
        };
        if body.len() > GATEWAY_MAX_BODY {
            return GatewayResponse::message(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request Entity Too Large",
            );
        }
        let request_id = format!(
            "local-{:08}",
            self.request_seq.fetch_add(1, Ordering::Relaxed)
        );
        let context = request_context(&route.def, method, path, headers, &request_id, source);
        // The fields both payloads (authorizer request and function event) carry.
        let common = json!({
            "version": "2.0",
            "routeKey": route.def.key(),
            "rawPath": path,
            "rawQueryString": query,
            "headers": event_headers(headers),
            "queryStringParameters": query_parameters(query),
            "pathParameters": path_parameters,
        });
        let with = |extra: Value| {
            let mut event = common.clone();
            if let (Some(event), Value::Object(extra)) = (event.as_object_mut(), extra) {
                event.extend(extra);
            }
            event
        };

        let authorizer_context = if route.def.public {
            None
        } else {
            let Some(authorization) = headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
            else {
                return GatewayResponse::message(StatusCode::UNAUTHORIZED, "Unauthorized");
            };
            let event = with(json!({
                "type": "REQUEST",
                "routeArn": format!("arn:aws:execute-api:local:000000000000:local/$default/{method}{path}"),
                "identitySource": [authorization],
                "requestContext": context,
            }));
            let event: ApiGatewayV2CustomAuthorizerV2Request =
                serde_json::from_value(event).expect("the gateway builds valid authorizer events");
            let decision = self.authorizer.authorize(&event).await;
            if !decision.is_authorized {
                return GatewayResponse::message(StatusCode::FORBIDDEN, "Forbidden");
            }
            Some(decision.context)
        };

        let mut context = context;
        if let Some(ctx) = authorizer_context {
            context["authorizer"] = json!({ "lambda": ctx });
        }
        let (body_field, is_base64) = match std::str::from_utf8(body) {
            Ok(text) => (Value::String(text.to_owned()), false),
            Err(_) => {
                use base64::Engine;
                (
                    Value::String(base64::engine::general_purpose::STANDARD.encode(body)),
                    true,
                )
            }
        };
        let event = with(json!({
            "requestContext": context,
            "body": if body.is_empty() { Value::Null } else { body_field },
            "isBase64Encoded": is_base64,
        }));
        let request = lambda_http::request::from_str(&event.to_string())
            .expect("the gateway builds valid payload-2.0 events");
        let response = (route.handler)(request).await;
        let (parts, body) = response.into_parts();
        GatewayResponse {
            status: parts.status,
            headers: parts.headers,
            body: body.to_vec(),
        }
    }

    /// The route API Gateway would pick: a route without a greedy variable before one
    /// with it. A `{name}` never matches an empty segment; a greedy `{name+}` takes the
    /// rest of the path, an empty rest included (so `/a/{proxy+}` matches `/a/`).
    fn find(&self, method: &str, path: &str) -> Option<(&Route, HashMap<String, String>)> {
        let segments: Vec<&str> = path.split('/').collect();
        let candidates = || {
            self.routes
                .iter()
                .filter(|r| r.def.method.eq_ignore_ascii_case(method))
        };
        candidates()
            .filter(|r| greedy(r).is_none())
            .find_map(|route| match_segments(route, &route.segments, &segments))
            .or_else(|| {
                candidates().find_map(|route| {
                    let name = greedy(route)?;
                    let fixed = &route.segments[..route.segments.len() - 1];
                    if segments.len() < route.segments.len() {
                        return None;
                    }
                    let (head, rest) = segments.split_at(fixed.len());
                    let (route, mut params) = match_segments(route, fixed, head)?;
                    params.insert(name.to_owned(), percent_decode(&rest.join("/")));
                    Some((route, params))
                })
            })
    }
}

/// The name of a route's greedy last variable (`{proxy+}` → `proxy`), if it has one.
fn greedy(route: &Route) -> Option<&str> {
    route.segments.last()?.strip_prefix('{')?.strip_suffix("+}")
}

fn match_segments<'r>(
    route: &'r Route,
    patterns: &[String],
    segments: &[&str],
) -> Option<(&'r Route, HashMap<String, String>)> {
    if patterns.len() != segments.len() {
        return None;
    }
    let mut params = HashMap::new();
    for (pattern, actual) in patterns.iter().zip(segments) {
        match pattern.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) if !actual.is_empty() => {
                params.insert(name.to_owned(), percent_decode(actual));
            }
            Some(_) => return None,
            None if pattern == actual => {}
            None => return None,
        }
    }
    Some((route, params))
}

fn request_context(
    route: &RouteDef,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    request_id: &str,
    source: std::net::IpAddr,
) -> Value {
    let now = chrono::Utc::now();
    // The host the client called, as API Gateway names it; here with the port it serves on.
    let domain = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    json!({
        "accountId": "000000000000",
        "apiId": "local",
        "domainName": domain,
        "domainPrefix": "local",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": source.to_string(),
            "userAgent": headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or(""),
        },
        "requestId": request_id,
        "routeKey": route.key(),
        "stage": "$default",
        "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
        "timeEpoch": now.timestamp_millis(),
    })
}

/// Payload 2.0 maps: repeated names keep one entry, values joined with commas.
fn joined(pairs: impl IntoIterator<Item = (String, String)>) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = HashMap::new();
    for (name, value) in pairs {
        out.entry(name)
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    out
}

/// Headers with lower-case names.
fn event_headers(headers: &HeaderMap) -> HashMap<String, String> {
    joined(headers.iter().map(|(name, value)| {
        (
            name.as_str().to_ascii_lowercase(),
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        )
    }))
}

fn query_parameters(query: &str) -> HashMap<String, String> {
    joined(form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())))
}

fn percent_decode(segment: &str) -> String {
    form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}
