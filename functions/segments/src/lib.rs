//! Segment routes (SPEC §7): users list and join self-assignable segments; partner
//! systems with scope `segments:write` manage the catalog.

use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use shared::clock::Clock;
use shared::domain::{Segment, SegmentId};
use shared::http::{json, json_object, route_key, serve};
use shared::store::{AssignError, SegmentStore};
use shared::{ApiError, Identity};

pub const CATALOG_SCOPE: &str = "segments:write";

pub struct SegmentsApp {
    pub segments: SegmentStore,
    pub clock: Clock,
}

pub async fn handle(app: &SegmentsApp, req: Request) -> Response<Body> {
    serve(req, |req| route(app, req)).await
}

async fn route(app: &SegmentsApp, req: Request) -> Result<Response<Body>, ApiError> {
    let identity = Identity::from_request(&req)?;
    match route_key(&req) {
        Some("GET /users/segments") => {
            let user = identity.require_user()?;
            let segments = app.segments.of_user(user).await?;
            let mine: Vec<UserSegment> = segments.iter().map(UserSegment::from).collect();
            Ok(json(StatusCode::OK, &mine))
        }
        Some("POST /users/segments/{segment_id}/set") => {
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
        Some("PUT /api/v1/segments/{segment_id}") => {
            identity.require_scope(CATALOG_SCOPE)?;
            let id = segment_id(&req)?;
            let segment = Segment::parse(id, &json_object(&req)?).map_err(ApiError::validation)?;
            let created = app.segments.put(&segment, app.clock.now()).await?;
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(json(status, &segment))
        }
        Some("GET /api/v1/segments") => {
            identity.require_scope(CATALOG_SCOPE)?;
            Ok(json(StatusCode::OK, &app.segments.catalog().await?))
        }
        _ => Err(ApiError::route_not_found()),
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
