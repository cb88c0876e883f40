//! The common crate of the User Profile Service.
//!
//! Everything a function needs beyond its own routing lives here: configuration,
//! identity read from the authorizer context, RFC 9457 errors, the domain types that
//! parse input once, and the DynamoDB store (the only module that knows key layout).
//! Nothing in `domain` knows it runs in Lambda; nothing outside `store` knows DynamoDB.

pub mod api_token;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod identity;
pub mod otp;
pub mod partner;
pub mod secrets;
pub mod sms;
pub mod store;
pub mod telemetry;

pub use error::{ApiError, FieldErrors};
pub use identity::{Identity, Principal};
