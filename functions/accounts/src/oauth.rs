//! What OAuth 2.0 tooling reads: the keys access tokens are verified with (RFC 7517 JWKS of
//! RFC 8037 Ed25519 keys), the authorization server's metadata (RFC 8414), and a standard
//! token endpoint (RFC 6749 §6: `grant_type=refresh_token`, form-encoded), next to the JSON
//! routes `/auth/login` and `/auth/refresh`.
//!
//! The service issues tokens from a password login, not through redirects: there is no
//! authorization endpoint, so the metadata names the one grant the token endpoint takes
//! and no response type. It is not an OpenID provider (no ID tokens).

use api::ApiError;
use api::http::json;
use domain::session::ClientId;
use domain::token_keys::PublicKey;
use http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::Value;
use usecases::auth::{Auth, Refusal};

use crate::AccountsApp;

/// The key set and the metadata may be cached for five minutes: a rotated-in key is
/// configured well before it signs.
pub const KEYS_CACHE_CONTROL: &str = "public, max-age=300";

/// RFC 7517 key set of RFC 8037 Ed25519 keys.
#[derive(Serialize)]
pub(crate) struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Serialize)]
struct Jwk {
    kty: &'static str,
    crv: &'static str,
    x: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    alg: &'static str,
    #[serde(rename = "use")]
    usage: &'static str,
}

impl Jwks {
    pub(crate) fn of(keys: Vec<PublicKey>) -> Self {
        Self {
            keys: keys
                .into_iter()
                .map(|k| Jwk {
                    kty: "OKP",
                    crv: "Ed25519",
                    x: k.x,
                    kid: k.kid,
                    alg: "EdDSA",
                    usage: "sig",
                })
                .collect(),
        }
    }
}

/// RFC 8414 authorization server metadata.
#[derive(Serialize)]
struct Metadata<'a> {
    issuer: &'a str,
    token_endpoint: String,
    jwks_uri: String,
    grant_types_supported: [&'static str; 1],
    /// No authorization endpoint, so no response type.
    response_types_supported: [&'static str; 0],
    /// Public clients: apps name themselves with `client_id` and hold no secret.
    token_endpoint_auth_methods_supported: [&'static str; 1],
    /// What access tokens are signed with (RFC 9068's JWTs).
    access_token_signing_alg_values_supported: [&'static str; 1],
}

pub(crate) fn jwks(app: &AccountsApp) -> Response<Body> {
    cacheable(json(StatusCode::OK, &app.jwks))
}

pub(crate) fn metadata(app: &AccountsApp, req: &Request) -> Response<Body> {
    let base = base_url(req);
    cacheable(json(
        StatusCode::OK,
        &Metadata {
            issuer: &app.issuer,
            token_endpoint: format!("{base}/oauth/token"),
            jwks_uri: format!("{base}/.well-known/jwks.json"),
            grant_types_supported: ["refresh_token"],
            response_types_supported: [],
            token_endpoint_auth_methods_supported: ["none"],
            access_token_signing_alg_values_supported: ["EdDSA"],
        },
    ))
}

fn cacheable(mut response: Response<Body>) -> Response<Body> {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(KEYS_CACHE_CONTROL),
    );
    response
}

/// Where this API was reached: API Gateway's domain name (the custom domain or the
/// execute-api host, never a header the client wrote), else the Host header; over HTTPS,
/// plain HTTP only on loopback, where `make dev` serves (its gateway names the port).
fn base_url(req: &Request) -> String {
    let host = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.domain_name.clone(),
        _ => None,
    }
    .or_else(|| {
        req.headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
    })
    .unwrap_or_default();
    let name = host
        .rsplit_once(':')
        .map_or(host.as_str(), |(name, _)| name);
    let loopback = ["127.0.0.1", "localhost", "[::1]"].contains(&name);
    let scheme = if loopback { "http" } else { "https" };
    format!("{scheme}://{host}")
}

/// The app a login or token request names (`client_id`): one of the deployment's, or
/// first-party apps' when it names none.
pub(crate) fn client(app: &AccountsApp, named: Option<&str>) -> Result<ClientId, String> {
    let Some(raw) = named else {
        return Ok(app.client_ids[0].clone());
    };
    let client = ClientId::parse(raw)?;
    if app.client_ids.contains(&client) {
        Ok(client)
    } else {
        Err("is not a client of this service (TokenClientIds)".into())
    }
}

/// An RFC 6749 §5.2 error (`api::Style::OAuth` renders it `{"error", "error_description"}`).
fn oauth_error(status: StatusCode, error: &'static str, description: &str) -> ApiError {
    ApiError::new(status, error, description)
}

/// `POST /oauth/token`: `grant_type=refresh_token&refresh_token=...[&client_id=...]`,
/// form-encoded; the answer is RFC 6749 §5.1's, as `/auth/refresh` gives.
pub(crate) async fn token<T: domain::ports::AccessTokens, K: domain::ports::OtpKeys>(
    app: &AccountsApp,
    auth: &Auth<'_, T, K>,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let form_encoded = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !form_encoded {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    // RFC 6749's words for a malformed request (a parameter given twice, say); too large
    // stays the 413 every route answers.
    let form = match api::form::read(req, &[]).await {
        Ok(form) => form,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(e),
        Err(e) => {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                e.detail(),
            ));
        }
    };
    let field = |name: &str| match form.fields.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.as_str()),
        _ => None,
    };
    match field("grant_type") {
        Some("refresh_token") => {}
        Some(_) => {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "the token endpoint takes grant_type=refresh_token; log in with POST /auth/login",
            ));
        }
        None => {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            ));
        }
    }
    // A client that names itself must be one of ours, and gets only its own sessions'
    // tokens refreshed.
    let named = match field("client_id").map(|raw| client(app, Some(raw))) {
        None => None,
        Some(Ok(client)) => Some(client),
        Some(Err(reason)) => {
            return Err(oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                &format!("client_id {reason}"),
            ));
        }
    };
    let Some(presented) = field("refresh_token").filter(|t| t.len() <= 256) else {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "refresh_token is required",
        ));
    };
    match auth.refresh_for(presented, named.as_ref()).await {
        Ok(tokens) => crate::issued(Ok(tokens)),
        Err(Refusal::RefreshRefused) => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the refresh token is not valid; log in again",
        )),
        Err(other) => crate::issued(Err(crate::refused(other))),
    }
}
