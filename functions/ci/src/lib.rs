//! The partner CI API, after the reference "User CI Profile API": set, view and
//! delete `kakao_id` and `phone_number` for batches of up to 20 users.

use std::collections::BTreeMap;

use api::app::HttpApp;
use api::http::json_object;
use api::partner::{self, FailureDetail, UpdateResult, UserFailure};
use api::{ApiError, Style};
use domain::{CiProperty, Clock};
use lambda_http::{Body, Request, Response};
use platform::{ConfigError, Platform};
use serde::Serialize;
use serde_json::{Map, Value};
use store::{CiError, CiStore};

api::routes! {
    pub enum Route {
        Update = "POST /api/v1/users/ci/update",
        View = "POST /api/v1/users/ci",
        Delete = "POST /api/v1/users/ci/delete",
    }
}

pub const READ_SCOPE: &str = "ci:read";
pub const WRITE_SCOPE: &str = "ci:write";

pub struct CiApp {
    pub ci: CiStore,
    pub clock: Clock,
}

impl CiApp {
    pub fn new(p: &Platform) -> Result<Self, ConfigError> {
        Ok(Self {
            ci: p.store()?,
            clock: p.clock.clone(),
        })
    }
}

impl HttpApp for CiApp {
    type Route = Route;
    const STYLE: Style = Style::Partner;

    async fn route(&self, route: Route, req: Request) -> Result<Response<Body>, ApiError> {
        match route {
            Route::Update => update(self, &req).await,
            Route::View => view(self, &req).await,
            Route::Delete => delete(self, &req).await,
        }
    }
}

fn properties(raw: &Map<String, Value>) -> Result<Vec<(CiProperty, String)>, UserFailure> {
    if raw.is_empty() {
        return Err(UserFailure::invalid_property(
            "Invalid property: properties is empty.",
        ));
    }
    let mut invalid = Vec::new();
    let mut out = Vec::new();
    for (key, value) in raw {
        match CiProperty::parse(key).map(|p| (p, p.parse_value(value))) {
            Some((property, Ok(v))) => out.push((property, v)),
            Some((_, Err(reason))) => invalid.push(format!("{key} {reason}")),
            None => invalid.push(format!("{key} is not a CI property")),
        }
    }
    if invalid.is_empty() {
        Ok(out)
    } else {
        Err(UserFailure::invalid_property(format!(
            "Invalid property: {}.",
            invalid.join("; ")
        )))
    }
}

/// `user_ci_property_names`: required, known names only.
fn property_names(body: &Map<String, Value>) -> Result<Vec<CiProperty>, ApiError> {
    partner::names(body.get("user_ci_property_names"), "user_ci_property_names")?
        .iter()
        .map(|n| {
            CiProperty::parse(n)
                .ok_or_else(|| partner::invalid(format!("Unknown CI property: {n}.")))
        })
        .collect()
}

async fn update(app: &CiApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let identity = partner::authorize(req, WRITE_SCOPE)?;
    let body = json_object(req)?;
    let entries = partner::user_entries(&body, "user_ci_properties")?;
    let now = app.clock.now();
    let actor = &identity.actor(req, domain::Source::Api);
    let outcomes = partner::for_each_user(entries, |user, raw| async move {
        let values = properties(&raw)?;
        app.ci
            .set(&user, &values, actor, now)
            .await
            .map_err(|e| match e {
                CiError::NotFound => UserFailure::not_found(),
                CiError::Store(e) => UserFailure::from(e),
            })
    })
    .await;
    Ok(partner::ok(UpdateResult::from_outcomes(&outcomes)))
}

#[derive(Serialize)]
struct UserCiProperties {
    user_id: String,
    properties: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct ViewResult {
    successful_user_ci_properties: Vec<UserCiProperties>,
    failure_details: Vec<FailureDetail>,
}

async fn view(app: &CiApp, req: &Request) -> Result<Response<Body>, ApiError> {
    partner::authorize(req, READ_SCOPE)?;
    let body = json_object(req)?;
    let users = partner::user_ids(body.get("user_ids"), "user_ids")?;
    let names = property_names(&body)?;
    let read = app.ci.get_many(&users).await;
    let (successful, failures) = partner::batch_view(&users, read, |user, record| {
        record.has_profile.then(|| UserCiProperties {
            user_id: user.to_string(),
            properties: names
                .iter()
                .filter_map(|p| record.values.get(*p).map(|v| (p.as_str(), v.to_owned())))
                .collect(),
        })
    });
    Ok(partner::ok(ViewResult {
        successful_user_ci_properties: successful,
        failure_details: failures,
    }))
}

async fn delete(app: &CiApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let identity = partner::authorize(req, WRITE_SCOPE)?;
    let body = json_object(req)?;
    // The reference documents `user_ids` but its example sends `user_id`: take either.
    let ids = match (body.get("user_ids"), body.get("user_id")) {
        (Some(_), Some(_)) => {
            return Err(partner::invalid(
                "Send user_ids or user_id, not both.".to_owned(),
            ));
        }
        (ids, alias) => ids.or(alias),
    };
    let users = partner::user_ids(ids, "user_ids")?;
    let names = property_names(&body)?;
    let entries = users.into_iter().map(|user| (user, ())).collect();
    let (actor, now) = (&identity.actor(req, domain::Source::Api), app.clock.now());
    let outcomes = partner::for_each_user(entries, |user, ()| {
        let names = &names;
        async move {
            app.ci
                .remove(&user, names, actor, now)
                .await
                .map_err(UserFailure::from)
        }
    })
    .await;
    Ok(partner::ok(UpdateResult::from_outcomes(&outcomes)))
}
