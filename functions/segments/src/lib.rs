//! Segment routes: users list and join self-assignable segments; partner
//! systems with scope `segments:write` manage the catalog.

use api::app::HttpApp;
use api::http::{json, json_object};
use api::{ApiError, Identity};
use domain::{Clock, Segment, SegmentId};
use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use platform::{ConfigError, Platform};
use serde::Serialize;
use store::{AssignError, SegmentStore};

api::routes! {
    pub enum Route {
        Mine = "GET /users/segments",
        SetMine = "POST /users/segments/{segment_id}/set",
        PutCatalog = "PUT /api/v1/segments/{segment_id}",
        Catalog = "GET /api/v1/segments",
    }
}

pub const CATALOG_SCOPE: &str = "segments:write";

pub struct SegmentsApp {
    pub segments: SegmentStore,
    /// Whether the holder's account is disabled, for the list of its segments.
    pub profiles: store::ProfileStore,
    pub clock: Clock,
}

impl SegmentsApp {
    pub fn new(p: &Platform) -> Result<Self, ConfigError> {
        Ok(Self {
            segments: p.store()?,
            profiles: p.store()?,
            clock: p.clock.clone(),
        })
    }
}

impl HttpApp for SegmentsApp {
    type Route = Route;

    async fn route(&self, route: Route, req: Request) -> Result<Response<Body>, ApiError> {
        let app = self;
        let identity = Identity::from_request(&req)?;
        match route {
            Route::Mine => {
                let user = identity.require_user()?;
                let (segments, ()) = tokio::try_join!(
                    app.segments.of_user(user),
                    app.profiles.holder_may_read(user)
                )?;
                let mine: Vec<UserSegment> = segments.iter().map(UserSegment::from).collect();
                Ok(json(StatusCode::OK, &mine))
            }
            Route::SetMine => {
                let user = identity.require_user()?;
                let id = segment_id(&req)?;
                match app.segments.assign_self(user, id, app.clock.now()).await {
                    Ok(()) => Ok(json(
                        StatusCode::OK,
                        &Assigned {
                            pk: id,
                            detail: "segment set",
                        },
                    )),
                    Err(AssignError::Unknown) => Err(ApiError::new(
                        StatusCode::NOT_ACCEPTABLE,
                        "segment_unknown",
                        format!("there is no segment {}", id.get()),
                    )),
                    Err(AssignError::NotSelfAssignable) => Err(ApiError::new(
                        StatusCode::NOT_ACCEPTABLE,
                        "segment_not_self_assignable",
                        format!("segment {} cannot be chosen by users", id.get()),
                    )),
                    Err(AssignError::Store(e)) => Err(e.into()),
                }
            }
            Route::PutCatalog => {
                identity.require_server_scope(CATALOG_SCOPE)?;
                let id = segment_id(&req)?;
                let segment =
                    Segment::parse(id, &json_object(&req)?).map_err(ApiError::validation)?;
                let created = app.segments.put(&segment, app.clock.now()).await?;
                let status = if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                };
                Ok(json(status, &segment))
            }
            Route::Catalog => {
                identity.require_server_scope(CATALOG_SCOPE)?;
                Ok(json(StatusCode::OK, &app.segments.catalog().await?))
            }
        }
    }
}

fn segment_id(req: &Request) -> Result<SegmentId, ApiError> {
    let raw = req
        .path_parameters_ref()
        .and_then(|p| p.first("segment_id"))
        .unwrap_or_default();
    SegmentId::parse(raw).map_err(|message| ApiError::field("segment_id", message))
}

/// The reference API's shape: `pk` is the segment id.
#[derive(Serialize)]
struct UserSegment<'a> {
    pk: SegmentId,
    priority: u32,
    name: &'a str,
}

impl<'a> From<&'a Segment> for UserSegment<'a> {
    fn from(s: &'a Segment) -> Self {
        Self {
            pk: s.segment_id,
            priority: s.priority,
            name: &s.name,
        }
    }
}

#[derive(Serialize)]
struct Assigned {
    pk: SegmentId,
    detail: &'static str,
}
