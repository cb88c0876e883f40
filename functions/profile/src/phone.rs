//! A profile write with a new `phone`: the use case decides, this maps its refusals to
//! errors (SPEC §4).

use api::ApiError;
use api::error::RETRY_AFTER_SECS;
use usecases::phone_change::{Outcome, PhoneChange, Refusal, Request};

use crate::{Patched, ProfileApp, patch_refused};

pub(crate) async fn change(app: &ProfileApp, request: &Request<'_>) -> Result<Patched, ApiError> {
    let use_case = PhoneChange {
        profiles: &app.profiles,
        sms: &app.sms,
        keys: &app.otp_keys,
        policy: &app.otp_policy,
        clock: &app.clock,
    };
    match use_case.run(request).await.map_err(refused)? {
        Outcome::Applied(profile) => Ok(Patched::Profile(Box::new(profile))),
        Outcome::CodeSent(sent) => Ok(Patched::CodeSent(sent)),
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
