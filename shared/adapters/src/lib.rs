//! Adapters to AWS services other than the table: SMS through SNS, keys from Secrets
//! Manager (the OTP key, the access-token signing key), and the one AWS SDK
//! configuration every client is built from.

pub mod access_tokens;
pub mod aws;
pub mod dead_letters;
pub mod email;
pub mod events;
mod http;
pub mod images;
pub mod loyalty;
pub mod pwned;
pub mod secrets;
pub mod sms;
