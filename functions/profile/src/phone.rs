//! PATCH /users/profile with a new `phone`: the use case decides, this maps its outcome
//! to an answer (SPEC §4).

use api::ApiError;
use api::error::RETRY_AFTER_SECS;
use api::otp::code_sent;
use lambda_http::{Body, Response};
use usecases::phone_change::{Outcome, PhoneChange, Refusal, Request};

use crate::{ProfileApp, patch_refused, profile_response};

pub(crate) async fn change(
    app: &ProfileApp,
    request: &Request<'_>,
) -> Result<Response<Body>, ApiError> {
    let use_case = PhoneChange {
        profiles: &app.profiles,
        sms: &app.sms,
        keys: &app.otp_keys,
        policy: &app.otp_policy,
        clock: &app.clock,
    };
    match use_case.run(request).await.map_err(refused)? {
        Outcome::Applied(profile) => Ok(profile_response(&profile)),
        Outcome::CodeSent(sent) => Ok(code_sent(&sent)),
    }
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::VersionConflict => ApiError::version_conflict(),
        Refusal::PhoneTaken => ApiError::phone_taken(),
        Refusal::Code(refusal) => api::otp::refused(refusal, "number"),
        Refusal::TooManyAttributes => patch_refused(store::PatchError::TooManyAttributes),
        Refusal::DependencyUnavailable(_) => ApiError::unavailable(RETRY_AFTER_SECS),
        Refusal::Store(e) => e.into(),
    }
}
