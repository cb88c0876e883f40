//! A profile write with a new `email`: the use case decides, this maps its refusals to
//! errors (issue 9). `None`: the address is the account's already.

use api::ApiError;
use api::error::RETRY_AFTER_SECS;
use usecases::email_change::{EmailChange, Outcome, Refusal, Request};

use crate::{Patched, ProfileApp, patch_refused};

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
    match use_case.run(request).await.map_err(refused)? {
        Outcome::Unchanged => Ok(None),
        Outcome::Applied(profile) => Ok(Some(Patched::Profile(profile))),
        Outcome::TokenSent { sent, checksum } => Ok(Some(Patched::TokenSent(sent, checksum))),
    }
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::NoProfile => {
            ApiError::not_found("no profile yet; PATCH /users/profile creates it")
        }
        Refusal::VersionConflict => ApiError::version_conflict(),
        Refusal::EmailTaken => ApiError::field("email", "is used by another account"),
        Refusal::NoCredential => ApiError::field(
            "email",
            "this account signs in through an identity provider, which owns its email",
        ),
        Refusal::ChecksumMissing => ApiError::field(
            "token_checksum",
            "is required with token: send the token_checksum of the answer that sent it",
        ),
        Refusal::PhoneAlsoChanging => ApiError::field(
            "phone",
            "change the email and the phone in separate requests",
        ),
        Refusal::TooManyAttributes => patch_refused(store::PatchError::TooManyAttributes),
        Refusal::Code(refusal) => api::otp::refused(refusal, "address"),
        Refusal::DependencyUnavailable(_) => ApiError::unavailable(RETRY_AFTER_SECS),
        Refusal::Store(e) => e.into(),
    }
}
