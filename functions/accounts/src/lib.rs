//! Accounts: what OAuth tooling reads (the JWKS, RFC 8414 metadata and the token
//! endpoint, in `oauth`); sign-up with a phone number (seed 000) or an email (seed 001)
//! and its verification; login, refresh and logout; and seed 001's accounts by id,
//! behind the authorizer.
//!
//! API Gateway's built-in JWT authorizer verifies only RSA-signed tokens, so it cannot
//! stand in for the Lambda authorizer with these Ed25519 keys; the documents serve any
//! verifier that speaks EdDSA (RFC 8037).

pub mod by_id;
mod mfa;
mod oauth;
mod operators;
mod passkeys;
mod password;
mod phone_signup;
mod registration;
mod seed;
mod sessions;

use adapters::access_tokens::JwtIssuer;
use adapters::email::SesEmail;
use adapters::loyalty::OpenLoyalty;
use adapters::pwned::PwnedPasswords;
use adapters::secrets::OtpKeySource;
use adapters::sms::SnsSms;
use api::app::HttpApp;
use api::fields::Fields;
use api::http::{json, json_object, no_store, request_source};
use api::{ApiError, Style};
use domain::login::LoginLimits;
use domain::password::Password;
use domain::ports::BreachedPasswords;
use domain::session::ClientId;
use domain::token_keys::parse_public_keys;
use domain::{Clock, FieldErrors, LocaleCatalog};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use platform::{ConfigError, Platform};
use serde::Serialize;
use serde_json::{Map, Value};
use store::{AccountStore, LoyaltyStore, MfaStore, ProfileStore, SessionStore};
use usecases::auth::{Auth, LoggedIn, Refusal, Tokens};
use usecases::codes::CodeSettings;
use usecases::password::{Screen, Screened};
use usecases::registration::Registration;

api::routes! {
    pub enum Route {
        Jwks = "GET /.well-known/jwks.json",
        OAuthMetadata = "GET /.well-known/oauth-authorization-server",
        OAuthToken = "POST /oauth/token",
        Login = "POST /auth/login",
        Refresh = "POST /auth/refresh",
        Logout = "POST /auth/logout",
        Register = "POST /users/register",
        RegisterWithLoyalty = "POST /users/register-with-loyalty",
        CreateUser = "POST /api/v1/accounts/users",
        Verify = "POST /users/verify",
        GetAccount = "GET /api/v1/accounts/users/{user_id}",
        PatchAccount = "PATCH /api/v1/accounts/users/{user_id}",
        FindAccounts = "GET /api/v1/accounts/users",
        SignOutAccount = "DELETE /api/v1/accounts/users/{user_id}/sessions",
        DisableAccount = "POST /api/v1/accounts/users/{user_id}/disable",
        EnableAccount = "POST /api/v1/accounts/users/{user_id}/enable",
        Sessions = "GET /users/me/sessions",
        EndSession = "DELETE /users/me/sessions/{session_id}",
        EndSessions = "DELETE /users/me/sessions",
        ForgotPassword = "POST /auth/password/forgot",
        ResetPassword = "POST /auth/password/reset",
        ChangePassword = "POST /users/me/password",
        Factors = "GET /users/me/mfa",
        EnrollTotp = "POST /users/me/mfa/totp",
        VerifyTotp = "POST /users/me/mfa/totp/verify",
        RecoveryCodes = "POST /users/me/mfa/recovery-codes",
        RemoveFactor = "DELETE /users/me/mfa/{factor_id}",
        MfaVerify = "POST /auth/mfa/verify",
        PasskeyOptions = "POST /users/me/passkeys/options",
        AddPasskey = "POST /users/me/passkeys",
        Passkeys = "GET /users/me/passkeys",
        RemovePasskey = "DELETE /users/me/passkeys/{passkey_id}",
        PasskeySignInOptions = "POST /auth/passkey/options",
        PasskeySignIn = "POST /auth/passkey",
    }
}

pub use oauth::KEYS_CACHE_CONTROL;

pub struct AccountsApp {
    pub(crate) issuer: String,
    pub(crate) jwks: oauth::Jwks,
    accounts: AccountStore,
    profiles: ProfileStore,
    sessions: SessionStore,
    mfa: MfaStore,
    tokens: JwtIssuer,
    email: SesEmail,
    sms: SnsSms,
    codes: CodeSettings<OtpKeySource>,
    clock: Clock,
    locales: LocaleCatalog,
    /// `None` with `LoyaltyProvider: none`: the loyalty route answers 501.
    loyalty: Option<OpenLoyalty>,
    cards: LoyaltyStore,
    /// Other identity providers' issuers trusted to grant `users:admin`.
    admin_issuers: Vec<String>,
    /// The apps tokens may be issued to (`TOKEN_CLIENT_IDS`), first-party apps' first.
    pub(crate) client_ids: Vec<ClientId>,
    /// Every new password is checked against breaches.
    screen: Screen<PwnedPasswords>,
    /// How many wrong passwords a login takes.
    login_limits: LoginLimits,
    /// How recent a login a sensitive change asks for.
    step_up_max_age_secs: i64,
    /// How long a new password must be.
    password_rules: domain::password::PasswordRules,
    /// The relying party passkeys are bound to; `None` without `WebAuthnRpId`.
    webauthn: Option<webauthn_rs::Webauthn>,
}

impl AccountsApp {
    pub fn new(p: &Platform) -> Result<Self, ConfigError> {
        let token = p.settings.require_token()?;
        let keys =
            parse_public_keys(&token.public_keys).map_err(|reason| ConfigError::Invalid {
                name: "TOKEN_PUBLIC_KEYS",
                reason,
            })?;
        let jwks = oauth::Jwks::of(keys);
        let client_ids = p
            .settings
            .client_ids()
            .map_err(|reason| ConfigError::Invalid {
                name: "TOKEN_CLIENT_IDS",
                reason,
            })?;
        Ok(Self {
            issuer: token.issuer.clone(),
            jwks,
            accounts: p.store()?,
            profiles: p.store()?,
            sessions: p.store()?,
            mfa: p.store()?,
            tokens: p.access_token_issuer()?,
            email: p.email_sender()?,
            sms: SnsSms::new(p.sns(), p.settings.sms.clone()),
            codes: p.code_settings()?,
            clock: p.clock.clone(),
            locales: p.settings.locales()?,
            loyalty: p.loyalty(),
            cards: p.store()?,
            admin_issuers: p.settings.admin_token_issuers.clone(),
            client_ids,
            screen: p.password_screen(),
            login_limits: p.settings.login_limits,
            step_up_max_age_secs: p.settings.step_up_max_age_secs,
            password_rules: p.settings.password_rules,
            webauthn: p
                .settings
                .webauthn
                .as_ref()
                .map(passkeys::relying_party)
                .transpose()?,
        })
    }
}

impl HttpApp for AccountsApp {
    type Route = Route;

    fn style(route: Route) -> Style {
        match route {
            Route::CreateUser
            | Route::GetAccount
            | Route::PatchAccount
            | Route::FindAccounts
            | Route::SignOutAccount
            | Route::DisableAccount
            | Route::EnableAccount => Style::Seed001,
            Route::OAuthToken => Style::OAuth,
            _ => Style::Problem,
        }
    }

    async fn route(&self, route: Route, req: Request) -> Result<Response<Body>, ApiError> {
        let auth = Auth {
            accounts: &self.accounts,
            sessions: &self.sessions,
            tokens: &self.tokens,
            keys: &self.codes.keys,
            limits: &self.login_limits,
            clock: &self.clock,
        };
        let registration = Registration {
            accounts: &self.accounts,
            email: &self.email,
            codes: &self.codes,
        };
        let body = match route {
            Route::Register => return phone_signup::register(self, &req).await,
            Route::RegisterWithLoyalty => {
                return phone_signup::register_with_loyalty(self, &req).await;
            }
            Route::GetAccount => return by_id::get(self, &req).await,
            Route::PatchAccount => return by_id::patch(self, &req).await,
            Route::FindAccounts => return operators::find(self, &req).await,
            Route::SignOutAccount => return operators::sign_out(self, &req).await,
            Route::DisableAccount => return operators::disable(self, &req).await,
            Route::EnableAccount => return operators::enable(self, &req).await,
            Route::CreateUser => {
                return registration::create(
                    &registration,
                    &self.screen,
                    &self.password_rules,
                    &req,
                )
                .await;
            }
            Route::Verify => return registration::verify(&registration, &req).await,
            Route::Login => {
                let (login, password, client) = credentials(self, &json_object(&req)?)?;
                let source = request_source(&req);
                let login = login.destination();
                // Boxed: a login's future (a password check, a session or a second step)
                // would make every route's as large.
                let logged = Box::pin(auth.login(login, &password, &client, &source)).await;
                return logged_in(logged);
            }
            Route::Factors => return mfa::list(self, &req).await,
            Route::EnrollTotp => return mfa::enroll(self, &req).await,
            Route::VerifyTotp => return mfa::confirm(self, &req).await,
            Route::RecoveryCodes => return mfa::recovery_codes(self, &req).await,
            Route::RemoveFactor => return mfa::remove(self, &req).await,
            Route::MfaVerify => return mfa::finish_login(self, &req).await,
            Route::PasskeyOptions => return passkeys::register_options(self, &req).await,
            Route::AddPasskey => return passkeys::register(self, &req).await,
            Route::Passkeys => return passkeys::list(self, &req).await,
            Route::RemovePasskey => return passkeys::remove(self, &req).await,
            Route::PasskeySignInOptions => return passkeys::sign_in_options(self, &req).await,
            Route::PasskeySignIn => return Box::pin(passkeys::sign_in(self, &req)).await,
            Route::OAuthToken => return oauth::token(self, &auth, &req).await,
            Route::Sessions => return sessions::list(self, &req).await,
            Route::EndSession => return sessions::end(self, &req).await,
            Route::EndSessions => return sessions::end_all(self, &req).await,
            Route::ForgotPassword => return password::forgot(self, &req).await,
            Route::ResetPassword => return password::reset(self, &req).await,
            Route::ChangePassword => return password::change(self, &req).await,
            Route::Refresh => {
                let presented = refresh_token(&json_object(&req)?)?;
                return issued(auth.refresh(&presented).await.map_err(refused));
            }
            Route::Logout => {
                let presented = refresh_token(&json_object(&req)?)?;
                auth.logout(&presented).await.map_err(refused)?;
                return Ok(sessions::no_content());
            }
            Route::Jwks => oauth::jwks(self),
            Route::OAuthMetadata => oauth::metadata(self, &req),
        };
        Ok(body)
    }
}

/// A new password the breach check refuses: 400 naming `field`; 503 when the check is
/// down and the deployment refuses unchecked passwords.
pub(crate) async fn screened<B: BreachedPasswords>(
    screen: &Screen<B>,
    password: &Password,
    field: &str,
) -> Result<(), ApiError> {
    match screen.judge(password).await {
        Screened::Accepted => Ok(()),
        Screened::Breached => Err(ApiError::field(
            field,
            "is a common password or one seen in a data breach; choose another",
        )),
        Screened::Unavailable => Err(ApiError::unavailable(api::error::RETRY_AFTER_SECS)),
    }
}

/// Unix seconds as RFC 3339 (UTC, whole seconds), as the account routes show times.
pub(crate) fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
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

pub(crate) fn issued(result: Result<Tokens, ApiError>) -> Result<Response<Body>, ApiError> {
    let tokens = result?;
    Ok(no_store(json(StatusCode::OK, &TokenResponse::from(tokens))))
}

/// A login's answer: the tokens, or the second step an account with a factor takes
/// first (`{"mfa_required": true, "mfa_token", "factors"}`, no tokens).
fn logged_in(result: Result<LoggedIn, Refusal>) -> Result<Response<Body>, ApiError> {
    match result.map_err(refused)? {
        LoggedIn::Tokens(tokens) => issued(Ok(tokens)),
        LoggedIn::SecondFactor { mfa_token, factors } => {
            let factors: Vec<_> = factors
                .into_iter()
                .map(|(id, kind)| serde_json::json!({"id": id, "type": kind}))
                .collect();
            Ok(no_store(json(
                StatusCode::OK,
                &serde_json::json!({
                    "mfa_required": true,
                    "mfa_token": mfa_token,
                    "factors": factors,
                }),
            )))
        }
    }
}

pub(crate) fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::BadCredentials => {
            ApiError::invalid_credentials("the email (or number) or the password is wrong")
        }
        Refusal::NotVerified => ApiError::new(
            StatusCode::FORBIDDEN,
            "account_not_verified",
            "verify the email address with the code sent to it (POST /users/verify) first",
        ),
        Refusal::Limited { retry_after_secs } => ApiError::passwords_limited(retry_after_secs),
        Refusal::RefreshRefused => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_refresh_token",
            "the refresh token is not valid; log in again",
        ),
        Refusal::DependencyUnavailable(_) => ApiError::unavailable(api::error::RETRY_AFTER_SECS),
        Refusal::Store(e) => e.into(),
    }
}

/// `{email|phone, password[, client_id]}` of a login.
fn credentials(
    app: &AccountsApp,
    body: &Map<String, Value>,
) -> Result<(password::To, Password, ClientId), ApiError> {
    let mut fields = Fields::of(body, &["email", "phone", "password", "client_id"]);
    let login = password::to(&mut fields, body);
    let password = fields.required("password", Password::presented);
    let client = match body.contains_key("client_id") {
        true => fields.optional("client_id", |raw| oauth::client(app, Some(raw))),
        false => oauth::client(app, None).ok(),
    };
    fields.finish()?;
    Ok((
        login.expect("no errors means an email or a number"),
        password.expect("no errors means a password"),
        client.expect("no errors means a client"),
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
