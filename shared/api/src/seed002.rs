//! Seed 002's API at the edge: its `{status_code, errors, data}` envelope, its request
//! bodies (JSON, `application/x-www-form-urlencoded` and `multipart/form-data`, as its
//! Node and PHP samples send), and its `apikey` header. Its routes are views over the
//! canonical ones: they translate names and answers, never rules.

use domain::FieldErrors;
use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

use crate::ApiError;

/// Seed 002's messages for the validations it documents.
pub const REQUIRED: &str = "This field is required.";
pub const INVALID_EMAIL: &str = "Enter a valid email address.";
pub const TOO_LONG_255: &str = "Ensure this field has no more than 255 characters.";
pub const PHONE_FORMAT: &str =
    "Phone number must be entered in the format: '999999999'. Up to 15 digits allowed.";
pub const TOKEN_NOT_MATCHING: &str = "Token is not matching.";

#[derive(Serialize)]
struct Envelope<'a> {
    status_code: u16,
    errors: &'a FieldErrors,
    data: Value,
}

/// An answer in the envelope; the HTTP status is the envelope's `status_code`.
pub fn envelope(status: StatusCode, errors: &FieldErrors, data: Value) -> Response<Body> {
    crate::http::json(
        status,
        &Envelope {
            status_code: status.as_u16(),
            errors,
            data,
        },
    )
}

pub fn ok(data: Value) -> Response<Body> {
    envelope(StatusCode::OK, &FieldErrors::default(), data)
}

/// Any refusal of the canonical code path, in the envelope: the fields it names, or its
/// detail under `detail` (as Django REST framework words it); `Retry-After` kept.
pub(crate) fn refused(error: ApiError) -> Response<Body> {
    let mut errors = error.errors().clone();
    if errors.is_empty() {
        errors.add("detail", error.detail());
    }
    let mut response = envelope(error.status(), &errors, json!({}));
    if let Some(secs) = error.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// The body's fields, whatever of seed 002's three encodings it comes in. Values are
/// JSON values; form fields are strings.
pub async fn fields(req: &Request) -> Result<Map<String, Value>, ApiError> {
    Ok(crate::form::read(req, &[]).await?.fields)
}

/// The app keys a deployment accepts in the `apikey` header; none configured = any.
#[derive(Debug, Clone, Default)]
pub struct AppKeys(Vec<String>);

impl AppKeys {
    pub fn new(keys: Option<Vec<String>>) -> Self {
        Self(keys.unwrap_or_default())
    }

    /// A request without a known key is refused (403 naming `apikey`).
    pub fn check(&self, req: &Request) -> Result<(), ApiError> {
        if self.0.is_empty() {
            return Ok(());
        }
        let presented = req
            .headers()
            .get("apikey")
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        // Every key is compared, in constant time, so timing tells nothing.
        let known = self.0.iter().fold(false, |found, key| {
            found | bool::from(key.as_bytes().ct_eq(presented))
        });
        if known {
            Ok(())
        } else {
            Err(ApiError::forbidden_field(
                "apikey",
                "Invalid or missing apikey.",
            ))
        }
    }
}
