//! The application layer: each use case combines the domain's rules, the store and the
//! ports (`domain::ports`) and returns a domain outcome. It knows neither HTTP nor which
//! AWS service sits behind a port; the HTTP edge maps its outcomes to answers.

pub mod auth;
pub mod avatar_upload;
pub mod codes;
pub use codes::SMS_CAP_ALARM;
pub mod email_change;
pub mod erasure;
pub mod export;
pub mod factor_confirmation;
mod hashing;
pub mod import;
pub mod loyalty;
pub mod mfa;
pub mod passkeys;
pub mod password;
pub mod phone_change;
pub mod phone_signup;
pub mod profile_update;
pub mod registration;
