//! The HTTP edge: the only layer that knows `lambda_http`. One error type (`ApiError`)
//! rendered in each route's style (`Style`: problem details, the partner envelope,
//! seed 001's and seed 002's shapes, RFC 6749's), the one reader of the authorizer
//! context, and the conversions from use-case refusals to answers.

pub mod app;
pub mod error;
pub mod fields;
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
pub mod style;

pub use error::ApiError;
pub use identity::{Identity, Principal};
pub use style::Style;
