//! A user's own sessions: `GET /users/me/sessions` lists the live ones (the caller's marked
//! `current`), `DELETE /users/me/sessions/{session_id}` ends one, `DELETE /users/me/sessions`
//! ends them all, the caller's included. An ended session's refresh token is refused at once;
//! access tokens already issued live until their `exp` (at most 15 minutes).

use api::http::{json, no_store};
use api::{ApiError, Identity};
use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use store::EndedBy;

use crate::AccountsApp;

#[derive(Serialize)]
struct Listed {
    sessions: Vec<Session>,
}

#[derive(Serialize)]
struct Session {
    id: String,
    created_at: String,
    last_used_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    current: bool,
}

pub(crate) async fn list(app: &AccountsApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let identity = Identity::from_request(req)?;
    let user = identity.require_user()?;
    let now = app.clock.now().timestamp();
    let sessions = app.sessions.live(user, now).await?;
    if sessions.disabled {
        return Err(ApiError::account_disabled());
    }
    let sessions = sessions
        .live
        .into_iter()
        .map(|s| Session {
            current: identity.session.as_deref() == Some(s.id.as_str()),
            created_at: crate::rfc3339(s.created_at),
            last_used_at: crate::rfc3339(s.last_used_at),
            client_id: s.client,
            id: s.id,
        })
        .collect();
    Ok(no_store(json(StatusCode::OK, &Listed { sessions })))
}

fn session_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "session_not_found",
        "you have no live session with this id",
    )
}

pub(crate) async fn end(app: &AccountsApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let identity = Identity::from_request(req)?;
    let user = identity.require_user()?;
    let id = req
        .path_parameters_ref()
        .and_then(|p| p.first("session_id"))
        .filter(|id| domain::session::is_session_id(id))
        .ok_or_else(session_not_found)?;
    let actor = identity.actor(req, domain::Source::Holder);
    if !app.sessions.end(user, id, &actor, app.clock.now()).await? {
        return Err(session_not_found());
    }
    Ok(no_content())
}

pub(crate) async fn end_all(app: &AccountsApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let identity = Identity::from_request(req)?;
    let user = identity.require_user()?;
    crate::mfa::step_up(app, &identity).await?;
    let actor = identity.actor(req, domain::Source::Holder);
    let count = app
        .sessions
        .end_every(user, EndedBy::User, &actor, app.clock.now())
        .await?;
    tracing::info!(count, "every session ended by the user");
    Ok(no_content())
}

pub(crate) fn no_content() -> Response<Body> {
    no_store(
        Response::builder()
            .status(StatusCode::NO_CONTENT)
            .body(Body::Empty)
            .expect("valid response parts"),
    )
}
