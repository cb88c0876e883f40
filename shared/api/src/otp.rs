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
struct CodeSentBody {
    detail: String,
    expires_in: i64,
    resend_after: i64,
}

/// 202: a code went out.
pub fn code_sent(sent: &CodeSent) -> Response<Body> {
    code_sent_body(sent, code_sent_detail(sent))
}

/// Seed 000's answer when `resend: true` sent a new code: 200, the same body.
pub fn code_resent(sent: &CodeSent) -> Response<Body> {
    let mut response = code_sent(sent);
    *response.status_mut() = StatusCode::OK;
    response
}

/// 202: an email change's token went to the new address and its checksum to the
/// current address or number.
pub fn token_sent(token: &CodeSent, checksum: &CodeSent) -> Response<Body> {
    code_sent_body(token, token_sent_detail(token, checksum))
}

/// What the 202 of an email change says: where each of its two codes went.
pub fn token_sent_detail(token: &CodeSent, checksum: &CodeSent) -> String {
    format!(
        "A token was sent to {} and a token checksum to {}.",
        token.masked_destination, checksum.masked_destination
    )
}

fn code_sent_detail(sent: &CodeSent) -> String {
    format!(
        "A verification code was sent to {}.",
        sent.masked_destination
    )
}

fn code_sent_body(sent: &CodeSent, detail: String) -> Response<Body> {
    json(
        StatusCode::ACCEPTED,
        &CodeSentBody {
            detail,
            expires_in: sent.expires_in,
            resend_after: sent.resend_after,
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
