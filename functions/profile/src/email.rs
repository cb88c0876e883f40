//! A profile write with a new `email`: the use case decides; its refusals
//! answer as on every route (`api::refusals`). `None`: the address is the account's
//! already.

use api::ApiError;
use usecases::email_change::{EmailChange, Outcome, Request};

use crate::{Patched, ProfileApp};

pub(crate) async fn change(
    app: &ProfileApp,
    request: &Request<'_>,
) -> Result<Option<Patched>, ApiError> {
    let use_case = EmailChange {
        accounts: &app.accounts,
        email: &app.email,
        keys: &app.otp_keys,
        policy: &app.otp_policy,
        clock: &app.clock,
    };
    match use_case.run(request).await.map_err(ApiError::from)? {
        Outcome::Unchanged => Ok(None),
        Outcome::Applied(profile) => Ok(Some(Patched::Profile(profile))),
        Outcome::TokenSent { sent, checksum } => Ok(Some(Patched::TokenSent(sent, checksum))),
    }
}
