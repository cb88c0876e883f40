//! RFC 9457 problem details: the one error type of the HTTP layer.

use domain::FieldErrors;
use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;
use store::StoreError;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// How long a client should wait before retrying after a dependency pushed back.
pub const RETRY_AFTER_SECS: u64 = 1;

/// An error answered to the client. Boxed: it travels in every handler's `Result`.
#[derive(Debug, Clone)]
pub struct ApiError(Box<Problem>);

#[derive(Debug, Clone, Serialize)]
struct Problem {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    #[serde(serialize_with = "serialize_status")]
    status: StatusCode,
    detail: String,
    code: &'static str,
    #[serde(skip_serializing_if = "FieldErrors::is_empty")]
    errors: FieldErrors,
    #[serde(skip)]
    retry_after: Option<u64>,
    /// What a step-up asks of the token (`reauthentication_required`).
    #[serde(skip_serializing_if = "Option::is_none")]
    required: Option<serde_json::Value>,
}

fn serialize_status<S: serde::Serializer>(s: &StatusCode, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_u16(s.as_u16())
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self(Box::new(Problem {
            kind: format!("urn:user-profile:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error"),
            status,
            detail: detail.into(),
            code,
            errors: FieldErrors::default(),
            retry_after: None,
            required: None,
        }))
    }

    pub fn validation(errors: FieldErrors) -> Self {
        let names: Vec<&str> = errors.fields().collect();
        let detail = format!("invalid fields: {}", names.join(", "));
        let mut error = Self::new(StatusCode::BAD_REQUEST, "validation_failed", detail);
        error.0.errors = errors;
        error
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(FieldErrors::one(field, message))
    }

    /// 403 naming a field: well formed, but the caller may not set it.
    pub fn forbidden_field(field: &str, message: impl Into<String>) -> Self {
        let mut error = Self::field(field, message);
        error.0.status = StatusCode::FORBIDDEN;
        error.0.title = "Forbidden";
        error.0.code = "forbidden";
        error.0.kind = "urn:user-profile:problem:forbidden".into();
        error
    }

    /// The same refusal naming its fields as a route's API names them: pairs of
    /// (its name, ours).
    pub fn rename_fields(mut self, names: &[(&str, &str)]) -> Self {
        for (theirs, ours) in names {
            if ours != theirs {
                self.0.errors.rename(ours, theirs);
            }
        }
        self
    }

    pub fn malformed_body(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_body", detail)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        )
    }

    /// 401 for a wrong password (or an unknown email, told apart by nothing).
    pub fn invalid_credentials(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_credentials", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// The loyalty routes with `LoyaltyProvider: none`: nothing is created.
    pub fn loyalty_not_configured() -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "loyalty_not_configured",
            "no loyalty platform is configured for this service",
        )
    }

    pub fn loyalty_card_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "loyalty_card_not_found",
            "the user has no loyalty card; PATCH with add_loyalty: true links one",
        )
    }

    /// A write for an account that is erased (or being erased): a token issued before
    /// the erasure brings nothing back.
    pub fn account_erased() -> Self {
        Self::new(
            StatusCode::GONE,
            "account_erased",
            "This account has been erased.",
        )
    }

    pub fn account_disabled() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "account_disabled",
            "This account is disabled.",
        )
    }

    pub fn route_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "route_not_found", "no such route")
    }

    pub fn version_conflict() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "version_conflict",
            "the profile changed since the version named in If-Match; read it again",
        )
    }

    /// 406 for a refused one-time code (`otp_invalid`, `otp_expired`, `otp_attempts_exceeded`).
    pub fn otp_refused(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_ACCEPTABLE, code, detail)
    }

    /// No live code for this destination (`number`, `address`): never sent, expired, used.
    pub fn otp_expired(destination: &str) -> Self {
        Self::otp_refused(
            "otp_expired",
            format!("no live code for this {destination}; request a new one"),
        )
    }

    pub fn otp_attempts_exceeded() -> Self {
        Self::otp_refused(
            "otp_attempts_exceeded",
            "too many wrong codes; request a new one",
        )
    }

    pub fn otp_invalid(tries_left: u32) -> Self {
        Self::otp_refused(
            "otp_invalid",
            format!("wrong code; {tries_left} tries left"),
        )
    }

    /// 403: the change needs a more recent login (`max_age` seconds), and with `acr`
    /// (`aal2`) one with the account's second factor. OpenID Connect's `max_age` and
    /// `acr_values` carry the same two asks.
    pub fn reauthentication_required(acr: Option<&str>, max_age: i64) -> Self {
        let mut error = Self::new(
            StatusCode::FORBIDDEN,
            "reauthentication_required",
            match acr {
                Some(_) => "log in again, with the second factor, to make this change",
                None => "log in again to make this change",
            },
        );
        error.0.required = Some(serde_json::json!({ "acr": acr, "max_age": max_age }));
        error
    }

    pub fn phone_taken() -> Self {
        let mut error = Self::field("phone", "is used by another account");
        error.0.code = "phone_taken";
        error.0.kind = "urn:user-profile:problem:phone_taken".into();
        error.0.detail = "the phone number is used by another account".into();
        error
    }

    pub fn rate_limited(retry_after_secs: u64, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", detail)
            .with_retry_after(retry_after_secs)
    }

    /// The login throttle's answer to a password check (a login, a change, an erasure's
    /// proof): the seconds until its window opens again, at least one.
    pub fn passwords_limited(retry_after_secs: i64) -> Self {
        Self::rate_limited(
            retry_after_secs.max(1) as u64,
            "too many wrong passwords; wait before trying again",
        )
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body exceeds {limit} bytes"),
        )
    }

    /// A downstream dependency failed; nothing was written and the client may retry.
    pub fn unavailable(retry_after_secs: u64) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "a downstream service is unavailable; nothing was changed, retry later",
        )
        .with_retry_after(retry_after_secs)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an unexpected error occurred",
        )
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.0.retry_after = Some(secs.max(1));
        self
    }

    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    pub fn code(&self) -> &'static str {
        self.0.code
    }

    pub fn detail(&self) -> &str {
        &self.0.detail
    }

    pub fn errors(&self) -> &FieldErrors {
        &self.0.errors
    }

    pub fn retry_after(&self) -> Option<u64> {
        self.0.retry_after
    }

    pub fn into_response(self) -> Response<Body> {
        let body = serde_json::to_vec(&self.0).expect("problem details serialize");
        let mut response = Response::builder()
            .status(self.0.status)
            .header(header::CONTENT_TYPE, PROBLEM_JSON)
            .body(Body::from(body))
            .expect("valid response parts");
        if let Some(secs) = self.0.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = &self.0;
        write!(f, "{} {}: {}", p.status.as_u16(), p.code, p.detail)
    }
}

impl std::error::Error for ApiError {}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        Self::validation(errors)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(reason) => {
                tracing::warn!(%reason, "store unavailable");
                ApiError::unavailable(RETRY_AFTER_SECS)
            }
            StoreError::Failed(reason) => {
                tracing::error!(%reason, "store failure");
                ApiError::internal()
            }
            StoreError::Erased => ApiError::account_erased(),
            StoreError::Disabled => ApiError::account_disabled(),
        }
    }
}
