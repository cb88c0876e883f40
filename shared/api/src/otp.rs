//! The answer when a one-time code went out (SPEC §4): 202 with when it expires and when
//! another may be asked for. Every flow that sends codes answers with it.

use http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::http::json;

#[derive(Serialize)]
struct CodeSent {
    detail: String,
    expires_in: i64,
    resend_after: i64,
}

/// 202: a code went to `masked_destination`.
pub fn code_sent(masked_destination: &str, expires_in: i64, resend_after: i64) -> Response<Body> {
    json(
        StatusCode::ACCEPTED,
        &CodeSent {
            detail: format!("A verification code was sent to {masked_destination}."),
            expires_in,
            resend_after,
        },
    )
}
