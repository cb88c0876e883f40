//! Accounts (SPEC §1, issue 8). So far: the public keys user access tokens are verified
//! with, as a JWKS, and an OpenID discovery document that points at it. Registration,
//! login and refresh tokens come next and will sign with the current key.
//!
//! API Gateway's built-in JWT authorizer verifies only RSA-signed tokens, so it cannot
//! stand in for the Lambda authorizer with these Ed25519 keys; the documents serve any
//! verifier that speaks EdDSA (RFC 8037).

use api::ApiError;
use api::http::{HttpApp, json};
use domain::token_keys::parse_public_keys;
use http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use platform::{ConfigError, Platform};
use serde::Serialize;

api::routes! {
    pub enum Route {
        Jwks = "GET /.well-known/jwks.json",
        OpenIdConfiguration = "GET /.well-known/openid-configuration",
    }
}

/// Keys change only with a deployment; verifiers may cache them this long.
pub const KEYS_CACHE_CONTROL: &str = "public, max-age=300";

pub struct AccountsApp {
    issuer: String,
    jwks: Jwks,
}

/// RFC 7517 key set of RFC 8037 Ed25519 keys.
#[derive(Serialize)]
struct Jwks {
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

/// OpenID Connect Discovery 1.0: what a verifier needs to find the keys.
#[derive(Serialize)]
struct OpenIdConfiguration<'a> {
    issuer: &'a str,
    jwks_uri: String,
    response_types_supported: [&'static str; 1],
    subject_types_supported: [&'static str; 1],
    id_token_signing_alg_values_supported: [&'static str; 1],
    token_endpoint_auth_methods_supported: [&'static str; 1],
}

impl AccountsApp {
    pub fn new(p: &Platform) -> Result<Self, ConfigError> {
        let token = p.settings.require_token()?;
        let keys =
            parse_public_keys(&token.public_keys).map_err(|reason| ConfigError::Invalid {
                name: "TOKEN_PUBLIC_KEYS",
                reason,
            })?;
        let jwks = Jwks {
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
        };
        Ok(Self {
            issuer: token.issuer.clone(),
            jwks,
        })
    }
}

impl HttpApp for AccountsApp {
    type Route = Route;
    type Error = ApiError;

    async fn route(&self, route: Route, req: Request) -> Result<Response<Body>, ApiError> {
        let body = match route {
            Route::Jwks => json(StatusCode::OK, &self.jwks),
            Route::OpenIdConfiguration => json(
                StatusCode::OK,
                &OpenIdConfiguration {
                    issuer: &self.issuer,
                    jwks_uri: format!("{}/.well-known/jwks.json", base_url(&req)),
                    response_types_supported: ["token"],
                    subject_types_supported: ["public"],
                    id_token_signing_alg_values_supported: ["EdDSA"],
                    token_endpoint_auth_methods_supported: ["none"],
                },
            ),
        };
        Ok(cacheable(body))
    }
}

fn cacheable(mut response: Response<Body>) -> Response<Body> {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(KEYS_CACHE_CONTROL),
    );
    response
}

/// Where this API was reached: API Gateway's domain name (or the Host header), over
/// HTTPS; plain HTTP only on loopback, where `make dev` serves.
fn base_url(req: &Request) -> String {
    let domain = match req.request_context_ref() {
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
    let loopback = domain.starts_with("127.0.0.1") || domain.starts_with("localhost");
    let scheme = if loopback { "http" } else { "https" };
    format!("{scheme}://{domain}")
}
