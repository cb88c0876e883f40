//! Accounts (SPEC §1, issue 8): the public keys user access tokens are verified with (a
//! JWKS and an OpenID discovery document that points at it); sign-up with a phone
//! number (seed 000) or an email (seed 001) and its verification; login, refresh and
//! logout; and seed 001's accounts by id, behind the authorizer.
//!
//! API Gateway's built-in JWT authorizer verifies only RSA-signed tokens, so it cannot
//! stand in for the Lambda authorizer with these Ed25519 keys; the documents serve any
//! verifier that speaks EdDSA (RFC 8037).

pub mod by_id;
mod register;
mod seed;
mod signup;

use adapters::access_tokens::JwtIssuer;
use adapters::email::SesEmail;
use adapters::loyalty::OpenLoyalty;
use adapters::secrets::{OtpKeySource, otp_key_source};
use adapters::sms::SnsSms;
use api::ApiError;
use api::http::{HttpApp, json, json_object, no_store};
use domain::otp::OtpPolicy;
use domain::password::Password;
use domain::token_keys::parse_public_keys;
use domain::{Clock, Email, FieldErrors, LocaleCatalog};
use http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use platform::{ConfigError, Platform};
use serde::Serialize;
use serde_json::{Map, Value};
use store::{AccountStore, LoyaltyStore, ProfileStore, SessionStore};
use usecases::auth::{Auth, Refusal, Tokens};
use usecases::registration::Registration;

api::routes! {
    pub enum Route {
        Jwks = "GET /.well-known/jwks.json",
        OpenIdConfiguration = "GET /.well-known/openid-configuration",
        Login = "POST /auth/login",
        Refresh = "POST /auth/refresh",
        Logout = "POST /auth/logout",
        Register = "POST /users/register",
        RegisterWithLoyalty = "POST /users/register-with-loyalty",
        CreateUser = "POST /api/v1/accounts/users",
        Verify = "POST /users/verify",
        GetAccount = "GET /api/v1/accounts/users/{user_id}",
        PatchAccount = "PATCH /api/v1/accounts/users/{user_id}",
    }
}

/// Keys change only with a deployment; verifiers may cache them this long.
pub const KEYS_CACHE_CONTROL: &str = "public, max-age=300";

pub struct AccountsApp {
    issuer: String,
    jwks: Jwks,
    accounts: AccountStore,
    profiles: ProfileStore,
    sessions: SessionStore,
    tokens: JwtIssuer,
    email: SesEmail,
    sms: SnsSms,
    otp_keys: OtpKeySource,
    otp_policy: OtpPolicy,
    clock: Clock,
    locales: LocaleCatalog,
    /// `None` with `LoyaltyProvider: none`: the loyalty route answers 501.
    loyalty: Option<OpenLoyalty>,
    cards: LoyaltyStore,
    /// Other identity providers' issuers trusted to grant `users:admin`.
    admin_issuers: Vec<String>,
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
            accounts: p.account_store()?,
            profiles: p.profile_store()?,
            sessions: p.session_store()?,
            tokens: p.access_token_issuer()?,
            email: p.email_sender()?,
            sms: SnsSms::new(p.sns(), p.settings.sms.clone()),
            otp_keys: otp_key_source(p.secrets(), p.settings.require_otp_secret()?),
            otp_policy: p.settings.otp_policy.clone(),
            clock: p.clock.clone(),
            locales: p.settings.locales()?,
            loyalty: p.loyalty(),
            cards: p.loyalty_store()?,
            admin_issuers: p.settings.admin_token_issuers.clone(),
        })
    }
}

impl HttpApp for AccountsApp {
    type Route = Route;
    type Error = ApiError;

    async fn route(&self, route: Route, req: Request) -> Result<Response<Body>, ApiError> {
        let auth = Auth {
            accounts: &self.accounts,
            sessions: &self.sessions,
            tokens: &self.tokens,
            clock: &self.clock,
        };
        let registration = Registration {
            accounts: &self.accounts,
            email: &self.email,
            keys: &self.otp_keys,
            policy: &self.otp_policy,
            clock: &self.clock,
        };
        let body = match route {
            Route::Register => return register::register(self, &req).await,
            Route::RegisterWithLoyalty => {
                return register::register_with_loyalty(self, &req).await;
            }
            Route::GetAccount => return by_id::get(self, &req).await,
            Route::PatchAccount => return by_id::patch(self, &req).await,
            Route::CreateUser => return signup::create(&registration, &req).await,
            Route::Verify => return signup::verify(&registration, &req).await,
            Route::Login => {
                let (email, password) = credentials(&json_object(&req)?)?;
                return issued(auth.login(&email, &password).await);
            }
            Route::Refresh => {
                let presented = refresh_token(&json_object(&req)?)?;
                return issued(auth.refresh(&presented).await);
            }
            Route::Logout => {
                let presented = refresh_token(&json_object(&req)?)?;
                auth.logout(&presented).await.map_err(refused)?;
                return Ok(no_store(
                    Response::builder()
                        .status(StatusCode::NO_CONTENT)
                        .body(Body::Empty)
                        .expect("valid response parts"),
                ));
            }
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

/// The OAuth 2.0 token response (RFC 6749 §5.1).
#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: i64,
}

impl From<Tokens> for TokenResponse {
    fn from(tokens: Tokens) -> Self {
        Self {
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            token_type: "Bearer",
            expires_in: tokens.expires_in,
        }
    }
}

fn issued(result: Result<Tokens, Refusal>) -> Result<Response<Body>, ApiError> {
    let tokens = result.map_err(refused)?;
    Ok(no_store(json(StatusCode::OK, &TokenResponse::from(tokens))))
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::BadCredentials => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "the email or password is wrong",
        ),
        Refusal::NotVerified => ApiError::new(
            StatusCode::FORBIDDEN,
            "account_not_verified",
            "verify the email address with the code sent to it (POST /users/verify) first",
        ),
        Refusal::Limited { retry_after_secs } => ApiError::rate_limited(
            retry_after_secs.max(1) as u64,
            "too many login attempts; wait before trying again",
        ),
        Refusal::RefreshRefused => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_refresh_token",
            "the refresh token is not valid; log in again",
        ),
        Refusal::DependencyUnavailable(_) => ApiError::unavailable(api::error::RETRY_AFTER_SECS),
        Refusal::Store(e) => e.into(),
    }
}

/// `{email, password}` of a login.
fn credentials(body: &Map<String, Value>) -> Result<(Email, Password), ApiError> {
    let mut errors = FieldErrors::default();
    let text = |name: &str, errors: &mut FieldErrors| match body.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.add(name, "must be a string");
            None
        }
        None => {
            errors.add(name, "is required");
            None
        }
    };
    let email = text("email", &mut errors)
        .and_then(|raw| Email::parse(&raw).map_err(|m| errors.add("email", m)).ok());
    let password = text("password", &mut errors).and_then(|raw| {
        Password::presented(&raw)
            .map_err(|m| errors.add("password", m))
            .ok()
    });
    for name in body.keys() {
        if name != "email" && name != "password" {
            errors.add(name.as_str(), "is not a login field");
        }
    }
    errors.into_result()?;
    Ok((
        email.expect("no errors means an email"),
        password.expect("no errors means a password"),
    ))
}

/// `{refresh_token}` of a refresh or logout.
fn refresh_token(body: &Map<String, Value>) -> Result<String, ApiError> {
    let mut errors = FieldErrors::default();
    for name in body.keys() {
        if name != "refresh_token" {
            errors.add(name.as_str(), "is not a field of this request");
        }
    }
    let token = match body.get("refresh_token") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 256 => Some(s.clone()),
        Some(_) => {
            errors.add("refresh_token", "must be the refresh token string");
            None
        }
        None => {
            errors.add("refresh_token", "is required");
            None
        }
    };
    errors.into_result()?;
    Ok(token.expect("no errors means a token"))
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
