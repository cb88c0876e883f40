//! The HTTP edge: the only layer that knows `lambda_http`. RFC 9457 problem details for
//! self-service routes, the partner envelope for server-to-server ones, the one reader
//! of the authorizer context, and the conversions from store errors to answers.

pub mod error;
pub mod form;
pub mod http;
pub mod identity;
pub mod loyalty;
pub mod multipart;
pub mod otp;
pub mod partner;
pub mod profile_body;
mod refusals;
pub mod seed002;

pub use error::ApiError;
pub use identity::{Identity, Principal};
