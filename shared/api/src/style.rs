//! The one error path: every route answers a refusal as an [`ApiError`] (a status, a
//! stable code, a detail, the fields it names) and `app::handle` logs its code and
//! renders it in the style of the route's API. A route's own words for a refusal are
//! chosen where it maps its use case's typed refusal, never by matching codes here.

use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde_json::json;

use crate::error::ApiError;
use crate::http::{json, no_store};
use crate::{partner, seed002};

/// How an API answers its refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// RFC 9457 problem details: this service's own routes.
    Problem,
    /// The partner envelope `{"result_code", "result_msg", "result_data"}`.
    Partner,
    /// Seed 001's two documented error bodies: invalid or forbidden fields as the bare
    /// field map (`{"email": ["..."]}`, 400 or 403), a hidden or missing account as
    /// `{"error": "..."}`; refusals it does not document (a taken number, a refused
    /// code, a limit) as problems with their code.
    Seed001,
    /// Seed 002's `{status_code, errors, data}` envelope.
    Seed002,
    /// RFC 6749 §5.2 `{"error", "error_description"}` for the token endpoint's own
    /// errors; the rest (413, 429, 503) as problems.
    OAuth,
}

/// RFC 6749 §5.2's error codes: the refusals the token endpoint words its way.
const OAUTH_ERRORS: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
];

/// Invalid input or a field the caller may not set, as opposed to a refusal that also
/// names a field (`phone_taken`).
fn field_refusal(error: &ApiError) -> bool {
    !error.errors().is_empty() && matches!(error.code(), "validation_failed" | "forbidden")
}

impl Style {
    pub fn render(self, error: ApiError) -> Response<Body> {
        match self {
            Style::Problem => error.into_response(),
            Style::Partner => partner::refused(error),
            Style::Seed002 => seed002::refused(error),
            Style::Seed001 if field_refusal(&error) => json(error.status(), error.errors()),
            Style::Seed001 if error.status() == StatusCode::NOT_FOUND => {
                json(StatusCode::NOT_FOUND, &json!({"error": error.detail()}))
            }
            Style::OAuth if OAUTH_ERRORS.contains(&error.code()) => {
                let mut response = no_store(json(
                    error.status(),
                    &json!({"error": error.code(), "error_description": error.detail()}),
                ));
                response
                    .headers_mut()
                    .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
                response
            }
            Style::Seed001 | Style::OAuth => error.into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(response: Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    /// One refusal, five renderings: the same status and, in each style's place, the
    /// same fields.
    #[test]
    fn a_field_refusal_in_every_style() {
        let refusal = || ApiError::field("email", "is used by another account");
        let problem = Style::Problem.render(refusal());
        assert_eq!(problem.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            body(problem)["errors"]["email"][0],
            "is used by another account"
        );
        let seed001 = body(Style::Seed001.render(refusal()));
        assert_eq!(seed001, json!({"email": ["is used by another account"]}));
        let seed002 = body(Style::Seed002.render(refusal()));
        assert_eq!(seed002["status_code"], 400);
        assert_eq!(seed002["errors"]["email"][0], "is used by another account");
        let partner = body(Style::Partner.render(refusal()));
        assert_eq!(partner["result_code"], partner::MALFORMED);
        assert_eq!(
            body(Style::OAuth.render(refusal()))["code"],
            "validation_failed"
        );
    }

    #[test]
    fn styles_keep_their_own_shapes_for_their_own_refusals() {
        let hidden = body(Style::Seed001.render(ApiError::not_found("User not found")));
        assert_eq!(hidden, json!({"error": "User not found"}));
        let taken = body(Style::Seed001.render(ApiError::phone_taken()));
        assert_eq!(
            taken["code"], "phone_taken",
            "not seed 001's to word: {taken}"
        );
        let grant = ApiError::new(StatusCode::BAD_REQUEST, "invalid_grant", "log in again");
        let oauth = Style::OAuth.render(grant);
        assert_eq!(oauth.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(
            body(oauth),
            json!({"error": "invalid_grant", "error_description": "log in again"})
        );
        let busy = Style::Seed002.render(ApiError::unavailable(3));
        assert_eq!(busy.headers()[header::RETRY_AFTER], "3");
        let route = body(Style::Partner.render(ApiError::route_not_found()));
        assert_eq!(route["result_code"], partner::ROUTE_NOT_FOUND);
        assert_eq!(route["result_msg"], "No such route.");
    }
}
