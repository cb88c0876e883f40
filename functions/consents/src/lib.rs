//! Consent routes. The store is shared: the profile's `*_allowed` fields and
//! the partner API write the same consent attributes and the same audit trail.

use std::collections::BTreeMap;

use api::app::HttpApp;
use api::http::{json, json_object};
use api::{ApiError, Identity};
use domain::consent::parse_consent_patch;
use domain::{Actor, Channel, Clock, Consents, FieldErrors, UserId};
use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use platform::{ConfigError, Platform};
use serde::Serialize;
use store::{HistoryError, MAX_HISTORY_PAGE, ProfileStore};

api::routes! {
    pub enum Route {
        GetConsents = "GET /users/consents",
        PatchConsents = "PATCH /users/consents",
        History = "GET /users/consents/history",
    }
}

pub const DEFAULT_HISTORY_PAGE: usize = 20;

pub struct ConsentsApp {
    pub profiles: ProfileStore,
    pub clock: Clock,
}

impl ConsentsApp {
    pub fn new(p: &Platform) -> Result<Self, ConfigError> {
        Ok(Self {
            profiles: p.store()?,
            clock: p.clock.clone(),
        })
    }
}

impl HttpApp for ConsentsApp {
    type Route = Route;

    async fn route(&self, route: Route, req: Request) -> Result<Response<Body>, ApiError> {
        let app = self;
        let identity = Identity::from_request(&req)?;
        let user = identity.require_user()?;
        match route {
            Route::GetConsents => {
                let consents = app.profiles.consents(user).await?;
                Ok(json(StatusCode::OK, &view(&consents, Channel::ALL)))
            }
            Route::PatchConsents => {
                patch(
                    app,
                    user,
                    identity.actor(&req, domain::Source::Holder),
                    &req,
                )
                .await
            }
            Route::History => history(app, user, &req).await,
        }
    }
}

#[derive(Serialize)]
struct ChannelView {
    /// `subscribed`, `unsubscribed` or `undefined`.
    status: &'static str,
    updated_at: Option<String>,
}

fn view(
    consents: &Consents,
    channels: impl IntoIterator<Item = Channel>,
) -> BTreeMap<&'static str, ChannelView> {
    channels
        .into_iter()
        .map(|channel| {
            let state = consents.0.get(&channel);
            let view = ChannelView {
                status: state.map_or("undefined", |s| s.status.as_str()),
                updated_at: state.map(|s| s.updated_at.clone()),
            };
            (channel.as_str(), view)
        })
        .collect()
}

/// One transaction; answers with the state of the channels named.
async fn patch(
    app: &ConsentsApp,
    user: &UserId,
    actor: Actor,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let body = json_object(req)?;
    let requested = parse_consent_patch(&body).map_err(ApiError::validation)?;
    let (_changes, state) = app
        .profiles
        .change_consents(user, &requested, &actor, &app.clock)
        .await?;
    Ok(json(
        StatusCode::OK,
        &view(&state, requested.iter().map(|(c, _)| *c)),
    ))
}

async fn history(
    app: &ConsentsApp,
    user: &UserId,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let query = req.query_string_parameters_ref();
    let param = |name: &str| query.and_then(|q| q.first(name)).map(str::to_owned);
    let mut errors = FieldErrors::default();
    let limit = match param("limit") {
        None => DEFAULT_HISTORY_PAGE,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=MAX_HISTORY_PAGE).contains(&n) => n,
            _ => {
                errors.add(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_HISTORY_PAGE}"),
                );
                DEFAULT_HISTORY_PAGE
            }
        },
    };
    errors.into_result()?;
    let cursor = param("cursor");
    let history = async {
        app.profiles
            .consent_history(user, limit, cursor.as_deref())
            .await
            .map_err(|e| match e {
                HistoryError::BadCursor => {
                    ApiError::field("cursor", "is not a cursor from a previous page")
                }
                HistoryError::Store(e) => e.into(),
            })
    };
    let allowed = async { Ok::<_, ApiError>(app.profiles.holder_may_read(user).await?) };
    let (page, ()) = tokio::try_join!(history, allowed)?;
    Ok(json(StatusCode::OK, &page))
}
