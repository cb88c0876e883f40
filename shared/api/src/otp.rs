//! One-time codes at the HTTP edge: 202 when a code went out, with when it
//! expires and when another may be asked for, and the answers to a refused code. Every
//! flow that sends codes answers with these.

use http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;

use domain::otp::{CodeRefusal, CodeSent};

use usecases::codes::CodeFailure;

use crate::ApiError;
use crate::error::RETRY_AFTER_SECS;
use crate::http::json;

#[derive(Serialize)]
struct CodeSentBody<'a> {
    detail: String,
    expires_in: i64,
    resend_after: i64,
    /// An email change's: the client sends it back with the emailed token.
    #[serde(skip_serializing_if = "Option::is_none")]
    token_checksum: Option<&'a str>,
}

/// 202: a code went out.
pub fn code_sent(sent: &CodeSent) -> Response<Body> {
    code_sent_body(sent, None)
}

/// Seed 000's answer when `resend: true` sent a new code: 200, the same body.
pub fn code_resent(sent: &CodeSent) -> Response<Body> {
    let mut response = code_sent_body(sent, None);
    *response.status_mut() = StatusCode::OK;
    response
}

/// 202: an email change's token went out; `checksum` binds the request.
pub fn token_sent(sent: &CodeSent, checksum: &str) -> Response<Body> {
    code_sent_body(sent, Some(checksum))
}

fn code_sent_body(sent: &CodeSent, token_checksum: Option<&str>) -> Response<Body> {
    json(
        StatusCode::ACCEPTED,
        &CodeSentBody {
            detail: format!(
                "A verification code was sent to {}.",
                sent.masked_destination
            ),
            expires_in: sent.expires_in,
            resend_after: sent.resend_after,
            token_checksum,
        },
    )
}

/// The answer to a code flow's failure: its refused code, or a 503 when a dependency
/// failed, or the store's answer; `destination` names where codes go.
pub fn failed(failure: CodeFailure, destination: &str) -> ApiError {
    match failure {
        CodeFailure::Refused(refusal) => refused(refusal, destination),
        CodeFailure::Unavailable(_) => ApiError::unavailable(RETRY_AFTER_SECS),
        CodeFailure::Store(e) => e.into(),
    }
}

/// The answer to a refused code; `destination` names where codes go (`number`, `address`).
pub fn refused(refusal: CodeRefusal, destination: &str) -> ApiError {
    match refusal {
        CodeRefusal::RateLimited {
            retry_after_secs,
            just_sent: false,
        } => ApiError::rate_limited(
            retry_after_secs,
            "too many codes requested; wait before asking again",
        ),
        CodeRefusal::RateLimited {
            retry_after_secs,
            just_sent: true,
        } => ApiError::rate_limited(
            retry_after_secs,
            "a code was just sent; wait before asking again",
        ),
        CodeRefusal::Expired => ApiError::otp_expired(destination),
        CodeRefusal::AttemptsExceeded => ApiError::otp_attempts_exceeded(),
        CodeRefusal::Wrong { tries_left } => ApiError::otp_invalid(tries_left),
        CodeRefusal::Undeliverable(why) => ApiError::field("phone", why.to_string()),
        CodeRefusal::SmsPaused { retry_after_secs } => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "sms_paused",
            "codes by SMS are paused for now; try again later",
        )
        .with_retry_after(retry_after_secs),
    }
}
