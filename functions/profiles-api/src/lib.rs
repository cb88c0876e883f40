//! The partner profile API, after the reference server-to-server API: the same
//! paths under /api/v1, the same envelope and codes, so its clients can switch by
//! changing only the host and the token.

mod properties;

use std::collections::BTreeMap;

use api::app::HttpApp;
use api::http::json_object;
use api::partner::{self, FailureDetail, UpdateResult, UserFailure};
use api::{ApiError, Style};
use domain::{Channel, Clock, ConsentStatus, LocaleCatalog, Profile};
use lambda_http::{Body, Request, Response};
use platform::{ConfigError, Platform};
use serde::Serialize;
use serde_json::Value;
use store::{PatchError, ProfileStore};

api::routes! {
    pub enum Route {
        Update = "POST /api/v1/users/profile/update",
        View = "POST /api/v1/users/profile",
    }
}

pub const READ_SCOPE: &str = "profiles:read";
pub const WRITE_SCOPE: &str = "profiles:write";

pub struct ProfilesApiApp {
    pub profiles: ProfileStore,
    pub clock: Clock,
    pub locales: LocaleCatalog,
}

impl ProfilesApiApp {
    pub fn new(p: &Platform) -> Result<Self, ConfigError> {
        Ok(Self {
            profiles: p.store()?,
            clock: p.clock.clone(),
            locales: p.settings.locales()?,
        })
    }
}

impl HttpApp for ProfilesApiApp {
    type Route = Route;
    const STYLE: Style = Style::Partner;

    async fn route(&self, route: Route, req: Request) -> Result<Response<Body>, ApiError> {
        match route {
            Route::Update => update(self, &req).await,
            Route::View => view(self, &req).await,
        }
    }
}

async fn update(app: &ProfilesApiApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let identity = partner::authorize(req, WRITE_SCOPE)?;
    let body = json_object(req)?;
    let entries = partner::user_entries(&body, "user_properties")?;
    let actor = identity.actor(req, domain::Source::Api);
    let now = app.clock.now();
    let outcomes = partner::for_each_user(entries, |user, properties| {
        let actor = &actor;
        async move {
            let patch = properties::to_patch(&properties, now.date_naive(), &app.locales)?;
            app.profiles
                .partner_update(&user, &patch, actor, &app.clock)
                .await
                .map_err(|e| match e {
                    PatchError::NotFound | PatchError::VersionConflict => UserFailure::not_found(),
                    PatchError::TooManyAttributes => UserFailure::invalid_property(format!(
                        "Invalid property: a profile holds at most {} attributes.",
                        domain::MAX_ATTRIBUTES
                    )),
                    PatchError::Store(e) => UserFailure::from(e),
                })
        }
    })
    .await;
    Ok(partner::ok(UpdateResult::from_outcomes(&outcomes)))
}

#[derive(Serialize)]
struct UserProperties {
    user_id: String,
    properties: BTreeMap<String, Value>,
}

#[derive(Serialize)]
struct ViewResult {
    successful_user_properties: Vec<UserProperties>,
    failure_details: Vec<FailureDetail>,
}

/// Every property a partner can read: set profile fields, attributes, and all twelve
/// consent flags (`Undefined` when never set).
fn properties_of(profile: &Profile) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let contacts = [("email", &profile.email), ("phone", &profile.phone)];
    let set_fields = profile.fields.iter().map(|(f, v)| (f.name(), v));
    for (name, value) in contacts
        .into_iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| (name, v)))
        .chain(set_fields)
    {
        out.insert(name.to_owned(), Value::String(value.clone()));
    }
    for (key, value) in &profile.attributes {
        out.insert(
            key.clone(),
            serde_json::to_value(value).expect("attribute values serialize"),
        );
    }
    for channel in Channel::ALL {
        let status = ConsentStatus::api_str(profile.consents.status(channel));
        out.insert(channel.api_flag(), Value::String(status.to_owned()));
    }
    out
}

/// One BatchGetItem for up to 20 users.
async fn view(app: &ProfilesApiApp, req: &Request) -> Result<Response<Body>, ApiError> {
    partner::authorize(req, READ_SCOPE)?;
    let body = json_object(req)?;
    let users = partner::user_ids(body.get("user_ids"), "user_ids")?;
    let wanted = match body.get("property_names") {
        None | Some(Value::Null) => None,
        value => Some(partner::names(value, "property_names")?),
    };
    let read = app.profiles.get_many(&users).await;
    let (successful, failures) = partner::batch_view(&users, read, |user, profile| {
        let mut properties = properties_of(profile);
        if let Some(names) = &wanted {
            properties.retain(|k, _| names.contains(k));
        }
        Some(UserProperties {
            user_id: user.to_string(),
            properties,
        })
    });
    Ok(partner::ok(ViewResult {
        successful_user_properties: successful,
        failure_details: failures,
    }))
}
