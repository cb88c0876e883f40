//! Data-subject rights (GDPR art. 15, 17 and 20, KVKK art. 11):
//! - `POST /users/me/export`: every stored fact about the caller, as one JSON document
//!   behind a link valid 15 minutes; 3 a day.
//! - `DELETE /users/me`: the caller's erasure, with a fresh proof (password, or a code
//!   sent to the verified phone, else the verified email); without one a code is sent.
//! - `POST /api/v1/users/delete`: a partner's erasure of up to 20 users, in seed 003's
//!   envelope, for API tokens with `users:delete` only.

use adapters::email::SesEmail;
use adapters::images::S3Images;
use adapters::secrets::OtpKeySource;
use adapters::sms::SnsSms;
use api::app::HttpApp;
use api::http::{json, json_object, request_id};
use api::partner::{self, UpdateResult, UserFailure};
use api::{ApiError, Identity, Style, otp};
use domain::otp::OtpCode;
use domain::password::Password;
use domain::privacy::{ErasedBy, ExportQuota};
use domain::{Clock, FieldErrors};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use platform::{ConfigError, Platform};
use serde_json::{Map, Value, json as json_value};
use store::{AccountStore, PrivacyStore, ProfileStore};
use usecases::codes::{CodeFailure, CodeSettings};
use usecases::erasure::{self, Eraser, HolderErasure, Outcome, Proof};
use usecases::export::{self, Export};

api::routes! {
    pub enum Route {
        Export = "POST /users/me/export",
        Erase = "DELETE /users/me",
        PartnerDelete = "POST /api/v1/users/delete",
    }
}

/// The scope of `POST /api/v1/users/delete`.
pub const DELETE_SCOPE: &str = "users:delete";

pub struct PrivacyApp {
    pub privacy: PrivacyStore,
    pub profiles: ProfileStore,
    pub accounts: AccountStore,
    pub objects: S3Images,
    pub sms: SnsSms,
    pub email: SesEmail,
    /// The key (of codes, and of the folders an erasure finds by name), limits, clock.
    pub codes: CodeSettings<OtpKeySource>,
    pub export_quota: ExportQuota,
    /// A wrong password proving an erasure counts as a failed login.
    pub login_limits: domain::login::LoginLimits,
    /// An erasure by the holder asks for a recent login, with the second factor where
    /// the account has one.
    pub mfa: store::MfaStore,
    pub step_up_max_age_secs: i64,
    pub clock: Clock,
}

impl PrivacyApp {
    pub fn new(p: &Platform) -> Result<Self, ConfigError> {
        let settings = &p.settings;
        Ok(Self {
            privacy: p.store()?,
            profiles: p.store()?,
            accounts: p.store()?,
            objects: p.image_store()?,
            sms: SnsSms::new(p.sns(), settings.sms.clone()),
            email: p.email_sender()?,
            codes: p.code_settings()?,
            export_quota: ExportQuota::default(),
            login_limits: settings.login_limits,
            mfa: p.store()?,
            step_up_max_age_secs: settings.step_up_max_age_secs,
            clock: p.clock.clone(),
        })
    }

    pub fn eraser(&self) -> Eraser<'_, OtpKeySource, S3Images> {
        Eraser {
            privacy: &self.privacy,
            objects: &self.objects,
            keys: &self.codes.keys,
            clock: &self.codes.clock,
        }
    }

    pub fn holder_erasure(&self) -> HolderErasure<'_, SnsSms, SesEmail, OtpKeySource, S3Images> {
        HolderErasure {
            eraser: self.eraser(),
            profiles: &self.profiles,
            accounts: &self.accounts,
            sms: &self.sms,
            email: &self.email,
            codes: &self.codes,
            login_limits: &self.login_limits,
        }
    }

    pub fn export(&self) -> Export<'_, OtpKeySource, S3Images> {
        Export {
            privacy: &self.privacy,
            objects: &self.objects,
            keys: &self.codes.keys,
            quota: self.export_quota,
            clock: &self.clock,
        }
    }
}

impl HttpApp for PrivacyApp {
    type Route = Route;

    /// Seed 003's envelope for every answer of the partner route.
    fn style(route: Route) -> Style {
        match route {
            Route::PartnerDelete => Style::Partner,
            Route::Export | Route::Erase => Style::Problem,
        }
    }

    async fn route(&self, route: Route, req: Request) -> Result<Response<Body>, ApiError> {
        match route {
            Route::Export => export_self(self, &req).await,
            // Boxed: an erasure's future is the largest of the service's, too large for a
            // small stack inline.
            Route::Erase => Box::pin(erase_self(self, &req)).await,
            Route::PartnerDelete => partner_delete(self, &req).await,
        }
    }
}

/// A body these routes may leave out: `None` when empty, else its JSON object.
fn optional_body(req: &Request) -> Result<Option<Map<String, Value>>, ApiError> {
    if req.body().as_ref().iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    api::http::json_object(req).map(Some)
}

/// The body of a route that takes none: empty, or `{}`.
fn no_fields(req: &Request) -> Result<(), ApiError> {
    let Some(body) = optional_body(req)? else {
        return Ok(());
    };
    let mut errors = FieldErrors::default();
    for name in body.keys() {
        errors.add(name.as_str(), "is not a field of this request");
    }
    errors.into_result().map_err(ApiError::validation)
}

async fn export_self(app: &PrivacyApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let identity = Identity::from_request(req)?;
    let user = identity.require_user()?;
    no_fields(req)?;
    match app.export().to_bucket(user).await {
        Ok(link) => Ok(api::http::no_store(json(
            StatusCode::OK,
            &json_value!({"url": link.url, "expires_at": link.expires_at}),
        ))),
        Err(export::Refusal::NotFound) => Err(ApiError::not_found("no profile to export")),
        Err(export::Refusal::Limited { retry_after_secs }) => Err(ApiError::rate_limited(
            retry_after_secs,
            "at most 3 exports a day; the next one is possible after Retry-After seconds",
        )),
        Err(export::Refusal::DependencyUnavailable(_)) => {
            Err(ApiError::unavailable(api::error::RETRY_AFTER_SECS))
        }
        Err(export::Refusal::Store(e)) => Err(e.into()),
    }
}

/// `{"password"}` or `{"code"}` (or neither: a code is sent); anything else is refused.
fn parse_proof(req: &Request) -> Result<Proof, ApiError> {
    let Some(body) = optional_body(req)? else {
        return Ok(Proof::None);
    };
    let mut errors = FieldErrors::default();
    let mut proof = Proof::None;
    for (name, value) in &body {
        match (name.as_str(), value) {
            ("password", Value::String(raw)) => match Password::presented(raw) {
                Ok(p) => proof = Proof::Password(p),
                Err(e) => errors.add("password", e),
            },
            ("code", Value::String(raw)) => match OtpCode::parse(raw) {
                Ok(c) => proof = Proof::Code(c),
                Err(e) => errors.add("code", e),
            },
            ("password" | "code", _) => errors.add(name.as_str(), "must be a string"),
            _ => errors.add(name.as_str(), "is not a field of this request"),
        }
    }
    if body.contains_key("password") && body.contains_key("code") {
        errors.add("code", "send a password or a code, not both");
    }
    errors.into_result().map_err(ApiError::validation)?;
    Ok(proof)
}

async fn erase_self(app: &PrivacyApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let identity = Identity::from_request(req)?;
    let user = identity.require_user()?;
    let proof = parse_proof(req)?;
    // A recent login, with the second factor where the account has one: asked of an
    // account that exists, so an unknown one still answers 404.
    if app.profiles.get(user).await?.is_some() {
        let now = app.clock.now().timestamp();
        identity
            .require_step_up(&app.mfa, now, app.step_up_max_age_secs)
            .await?;
    }
    match app
        .holder_erasure()
        .by_holder(
            user,
            proof,
            &request_id(req),
            &api::http::request_source(req),
        )
        .await
    {
        Ok(Outcome::CodeSent(sent)) => Ok(otp::code_sent(&sent)),
        Ok(Outcome::Erased) => Ok(json(StatusCode::OK, &json_value!({"status": "erased"}))),
        Err(refusal) => Err(refused(refusal)),
    }
}

fn refused(refusal: erasure::Refusal) -> ApiError {
    use erasure::Refusal;
    match refusal {
        Refusal::NotFound => ApiError::not_found("no such user"),
        Refusal::AlreadyErased => ApiError::account_erased(),
        Refusal::WrongPassword => ApiError::invalid_credentials("the password is wrong"),
        Refusal::PasswordLimited { retry_after_secs } => {
            ApiError::passwords_limited(retry_after_secs)
        }
        Refusal::NoProofPossible => ApiError::new(
            StatusCode::FORBIDDEN,
            "erasure_proof_unavailable",
            "the account has no verified phone or email to send a code to and no password; \
             ask support to erase it",
        ),
        Refusal::Failed(failure) => otp::failed(failure, "destination"),
    }
}

async fn partner_delete(app: &PrivacyApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let identity = partner::authorize(req, DELETE_SCOPE)?;
    let body = json_object(req)?;
    if let Some(name) = body.keys().find(|k| k.as_str() != "user_ids") {
        return Err(partner::invalid(format!("Unknown parameter: {name}.")));
    }
    let users = partner::user_ids(body.get("user_ids"), "user_ids")?;
    // `partner::authorize` admits API tokens only: the actor is the token's id.
    let actor = identity.actor(req, domain::Source::Api);
    let by = ErasedBy::ApiToken(actor.actor);
    let request_id = actor.request_id;
    let entries = users.into_iter().map(|user| (user, ())).collect();
    let outcomes = partner::for_each_user(entries, |user, ()| {
        let (by, request_id) = (&by, &request_id);
        async move {
            match app.eraser().by_authority(&user, by, request_id).await {
                Ok(_) => Ok(()),
                Err(erasure::Refusal::NotFound | erasure::Refusal::AlreadyErased) => {
                    Err(UserFailure::not_found())
                }
                Err(erasure::Refusal::Failed(CodeFailure::Store(e))) => Err(UserFailure::from(e)),
                Err(e) => Err(UserFailure::from(store::StoreError::Unavailable(
                    e.to_string(),
                ))),
            }
        }
    })
    .await;
    Ok(partner::ok(UpdateResult::from_outcomes(&outcomes)))
}
