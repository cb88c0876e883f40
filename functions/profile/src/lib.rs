//! Self-service profile routes. The handlers take their dependencies as arguments so
//! tests and the local gateway run them in-process exactly as Lambda does.

mod form;
mod loyalty;
mod seed002;

use adapters::email::SesEmail;
use adapters::secrets::OtpKeySource;
use adapters::sms::SnsSms;
use api::app::HttpApp;
use api::http::json;
use api::profile_body::ProfileBody;
use api::seed002::AppKeys;
use api::{ApiError, Identity, Style};
use domain::{Actor, Clock, ExpectedVersion, Field, LocaleCatalog, Profile, ProfilePatch, UserId};
use http::{HeaderMap, StatusCode, header};
use lambda_http::{Body, Request, Response};
use platform::{ConfigError, Platform};
use serde::Serialize;
use store::{AccountStore, ProfileStore};
use usecases::codes::CodeSettings;
use usecases::profile_update::{self, Outcome, ProfileUpdate};

api::routes! {
    pub enum Route {
        GetProfile = "GET /users/profile",
        PatchProfile = "PATCH /users/profile",
        GetUser = "GET /users/user",
        GetProfileWithLoyalty = "GET /users/profile-with-loyalty",
        PatchProfileWithLoyalty = "PATCH /users/profile-with-loyalty",
        Seed002GetProfile = "GET /user/get/profile",
        Seed002UpdateProfile = "POST /user/update/profile",
    }
}

pub struct ProfileApp {
    pub profiles: ProfileStore,
    pub accounts: AccountStore,
    pub email: SesEmail,
    /// The key, limits and clock of the codes a new number or address is proven with.
    pub codes: CodeSettings<OtpKeySource>,
    pub sms: SnsSms,
    pub clock: Clock,
    /// The languages and currencies profiles may name (`/local-info` shows the same).
    pub locales: LocaleCatalog,
    /// The `apikey` values seed 002's routes accept.
    pub app_keys: AppKeys,
    /// `None` with `LoyaltyProvider: none`: the loyalty routes answer 501.
    pub loyalty: Option<adapters::loyalty::OpenLoyalty>,
    pub cards: store::LoyaltyStore,
    /// Where a PATCH's `avatar` is stored; `None` where no bucket is configured.
    pub images: Option<adapters::images::S3Images>,
    pub upload_policy: domain::avatar::UploadPolicy,
}

impl ProfileApp {
    pub fn new(p: &Platform) -> Result<Self, ConfigError> {
        let settings = &p.settings;
        Ok(Self {
            profiles: p.store()?,
            accounts: p.store()?,
            email: p.email_sender()?,
            codes: p.code_settings()?,
            sms: SnsSms::new(p.sns(), settings.sms.clone()),
            clock: p.clock.clone(),
            locales: settings.locales()?,
            app_keys: AppKeys::new(settings.app_keys.clone()),
            loyalty: p.loyalty(),
            cards: p.store()?,
            images: p.image_store().ok(),
            upload_policy: settings.upload_policy,
        })
    }
}

impl HttpApp for ProfileApp {
    type Route = Route;

    fn style(route: Route) -> Style {
        match route {
            Route::Seed002GetProfile | Route::Seed002UpdateProfile => Style::Seed002,
            _ => Style::Problem,
        }
    }

    async fn route(&self, route: Route, req: Request) -> Result<Response<Body>, ApiError> {
        if matches!(
            route,
            Route::Seed002GetProfile | Route::Seed002UpdateProfile
        ) {
            self.app_keys.check(&req)?;
        }
        let identity = Identity::from_request(&req)?;
        let user = identity.require_user()?;
        let actor = || identity.actor(&req, domain::Source::Holder);
        match route {
            Route::PatchProfile => patch_profile(self, user, actor(), &req).await,
            Route::PatchProfileWithLoyalty => loyalty::patch(self, user, actor(), &req).await,
            Route::GetProfileWithLoyalty => loyalty::get(self, user).await,
            Route::GetUser => get_user(self, user).await,
            Route::GetProfile => get_profile(self, user).await,
            Route::Seed002GetProfile => seed002::get(self, user).await,
            Route::Seed002UpdateProfile => seed002::update(self, user, actor(), &req).await,
        }
    }
}

pub(crate) async fn load(app: &ProfileApp, user: &UserId) -> Result<Profile, ApiError> {
    app.profiles
        .get_for_holder(user)
        .await?
        .ok_or_else(|| ApiError::not_found("no profile yet; PATCH /users/profile creates it"))
}

async fn get_profile(app: &ProfileApp, user: &UserId) -> Result<Response<Body>, ApiError> {
    Ok(profile_response(&load(app, user).await?))
}

async fn patch_profile(
    app: &ProfileApp,
    user: &UserId,
    actor: Actor,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let expected = if_match(req.headers())?;
    let body = form::patch_body(req).await?;
    let now = app.clock.now();
    let patch = form::parse(app, &body, now.date_naive()).map_err(ApiError::validation)?;
    Ok(
        match form::apply_with_avatar(app, user, &actor, patch, expected, body.avatar).await? {
            Outcome::Applied(profile) => profile_response(&profile),
            Outcome::CodeSent(sent) => api::otp::code_sent(&sent),
            Outcome::TokenSent { token, checksum } => api::otp::token_sent(&token, &checksum),
        },
    )
}

/// Every profile write of this function's routes: the one use case that decides what a
/// new email, a new number and the plain fields take.
pub(crate) async fn apply(
    app: &ProfileApp,
    user: &UserId,
    actor: &Actor,
    patch: ProfilePatch,
    expected: ExpectedVersion,
) -> Result<Outcome, profile_update::Refusal> {
    let update = ProfileUpdate {
        profiles: &app.profiles,
        accounts: &app.accounts,
        sms: &app.sms,
        email: &app.email,
        codes: &app.codes,
    };
    let request = profile_update::Request {
        user,
        patch,
        expected,
        actor,
    };
    update.run(request).await
}

pub(crate) fn profile_response(profile: &Profile) -> Response<Body> {
    let mut response = json(StatusCode::OK, &ProfileBody(profile));
    if let Ok(value) = profile.etag().parse() {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// The account view of the reference API's `GET /users/user`.
#[derive(Serialize)]
struct UserDetail<'a> {
    user_id: &'a str,
    /// The identity provider's subject is the only username this service knows.
    username: &'a str,
    email: Option<&'a str>,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    full_name: String,
}

async fn get_user(app: &ProfileApp, user: &UserId) -> Result<Response<Body>, ApiError> {
    let profile = load(app, user).await?;
    let detail = UserDetail {
        user_id: &profile.user_id,
        username: &profile.user_id,
        email: profile.email.as_deref(),
        first_name: profile.field(Field::FirstName),
        last_name: profile.field(Field::LastName),
        full_name: profile.full_name(),
    };
    Ok(json(StatusCode::OK, &detail))
}

/// `If-Match` as a write precondition: absent, `*`, or one strong tag `"<version>"`.
pub(crate) fn if_match(headers: &HeaderMap) -> Result<ExpectedVersion, ApiError> {
    let Some(raw) = headers.get(header::IF_MATCH) else {
        return Ok(ExpectedVersion::Any);
    };
    let raw = raw.to_str().unwrap_or_default().trim();
    if raw == "*" {
        return Ok(ExpectedVersion::Exists);
    }
    raw.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .and_then(|s| s.parse::<u64>().ok())
        .map(ExpectedVersion::Exactly)
        .ok_or_else(|| {
            ApiError::field(
                "If-Match",
                "must be * or the quoted ETag of GET /users/profile, such as \"3\"",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::IF_MATCH, value.parse().unwrap());
        h
    }

    #[test]
    fn if_match_forms() {
        assert_eq!(if_match(&HeaderMap::new()).unwrap(), ExpectedVersion::Any);
        assert_eq!(if_match(&headers("*")).unwrap(), ExpectedVersion::Exists);
        assert_eq!(
            if_match(&headers("\"7\"")).unwrap(),
            ExpectedVersion::Exactly(7)
        );
        for bad in ["7", "W/\"7\"", "\"x\"", "\"1\", \"2\""] {
            let err = if_match(&headers(bad)).unwrap_err();
            assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{bad}");
        }
    }
}
