//! The answers to the use cases' refusals, the same on every route that runs them
//! (`PATCH /users/profile`, seed 001's PATCH by id, seed 002's update). A route with
//! its own words for one refusal matches it before falling back to these.

use store::{ContactError, PatchError};
use usecases::{avatar_upload, email_change, phone_change, profile_update};

use crate::ApiError;
use crate::error::RETRY_AFTER_SECS;
use crate::otp;

const NO_PROFILE: &str = "no profile yet; PATCH /users/profile creates it";

impl ApiError {
    pub fn too_many_attributes() -> Self {
        Self::field(
            "attributes",
            format!(
                "a profile holds at most {} attributes; remove some with null",
                domain::MAX_ATTRIBUTES
            ),
        )
    }
}

impl From<PatchError> for ApiError {
    fn from(err: PatchError) -> Self {
        match err {
            PatchError::VersionConflict => Self::version_conflict(),
            PatchError::NotFound => Self::not_found(NO_PROFILE),
            PatchError::TooManyAttributes => Self::too_many_attributes(),
            PatchError::Store(e) => e.into(),
        }
    }
}

/// An image upload's refusal, on every route that takes one (the seed 002 upload words
/// the same errors in its envelope).
impl From<avatar_upload::Refusal> for ApiError {
    fn from(refusal: avatar_upload::Refusal) -> Self {
        use avatar_upload::Refusal;
        match refusal {
            Refusal::Invalid(errors) => Self::validation(errors),
            Refusal::LimitReached { now, available_at } => Self::rate_limited(
                (available_at - now).num_seconds().max(1) as u64,
                domain::avatar::daily_limit_message(now, available_at),
            ),
            Refusal::DependencyUnavailable(_) => Self::unavailable(RETRY_AFTER_SECS),
            Refusal::Store(e) => e.into(),
        }
    }
}

impl From<phone_change::Refusal> for ApiError {
    fn from(refusal: phone_change::Refusal) -> Self {
        use phone_change::Refusal;
        match refusal {
            Refusal::VersionConflict => Self::version_conflict(),
            Refusal::PhoneTaken => Self::phone_taken(),
            Refusal::TooManyAttributes => Self::too_many_attributes(),
            Refusal::Failed(failure) => otp::failed(failure, "number"),
        }
    }
}

impl From<email_change::Refusal> for ApiError {
    fn from(refusal: email_change::Refusal) -> Self {
        use email_change::Refusal;
        match refusal {
            Refusal::NoProfile => Self::not_found(NO_PROFILE),
            Refusal::VersionConflict => Self::version_conflict(),
            Refusal::EmailTaken => Self::field("email", "is used by another account"),
            Refusal::NoCredential => Self::field(
                "email",
                "this account signs in through an identity provider, which owns its email",
            ),
            Refusal::NoProvenAddress => Self::field(
                "email",
                "cannot change before the account's email or a number is proven: the change is \
                 confirmed from one of them",
            ),
            Refusal::NumberTooRecent => Self::new(
                http::StatusCode::FORBIDDEN,
                "number_too_recent",
                "the account's number was changed less than a day ago; an email change is \
                 confirmed from a number the account has held for a day, or from a proven email",
            ),
            Refusal::ChecksumMissing => Self::field(
                "token_checksum",
                "is required with token: send the code sent to your current email or phone",
            ),
            Refusal::PhoneAlsoChanging => Self::field(
                "phone",
                "change the email and the phone in separate requests",
            ),
            Refusal::TooManyAttributes => Self::too_many_attributes(),
            Refusal::Failed(failure) => otp::failed(failure, "address"),
        }
    }
}

/// An administrator's change of the contact data.
impl From<ContactError> for ApiError {
    fn from(err: ContactError) -> Self {
        match err {
            ContactError::NotFound => Self::not_found(NO_PROFILE),
            ContactError::EmailTaken => Self::field("email", "is used by another account"),
            ContactError::PhoneTaken => Self::phone_taken(),
            ContactError::NoCredential => Self::field(
                "email",
                "this account signs in through an identity provider, which owns its email",
            ),
            ContactError::TooManyAttributes => Self::too_many_attributes(),
            ContactError::CodeGone => otp::refused(domain::otp::CodeRefusal::Expired, "address"),
            ContactError::Store(e) => e.into(),
        }
    }
}

impl From<profile_update::Refusal> for ApiError {
    fn from(refusal: profile_update::Refusal) -> Self {
        use profile_update::Refusal;
        match refusal {
            Refusal::Email(r) => r.into(),
            Refusal::Phone(r) => r.into(),
            Refusal::Contact(e) => e.into(),
            Refusal::Patch(e) => e.into(),
            Refusal::ContactNotAllowed { field } => Self::forbidden(format!(
                "the {field} changes only through a code sent to it"
            )),
        }
    }
}
