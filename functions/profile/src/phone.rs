//! A profile write with a new `phone`: the use case decides; its refusals
//! answer as on every route (`api::refusals`).

use api::ApiError;
use usecases::phone_change::{Outcome, PhoneChange, Request};

use crate::{Patched, ProfileApp};

pub(crate) async fn change(app: &ProfileApp, request: &Request<'_>) -> Result<Patched, ApiError> {
    let use_case = PhoneChange {
        profiles: &app.profiles,
        sms: &app.sms,
        keys: &app.otp_keys,
        policy: &app.otp_policy,
        clock: &app.clock,
    };
    match use_case.run(request).await.map_err(ApiError::from)? {
        Outcome::Applied(profile) => Ok(Patched::Profile(Box::new(profile))),
        Outcome::CodeSent(sent) => Ok(Patched::CodeSent(sent)),
    }
}
