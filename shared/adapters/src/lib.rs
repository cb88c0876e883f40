//! Adapters to AWS services other than the table: SMS through SNS, keys from Secrets
//! Manager, and the one AWS SDK configuration every client is built from.

pub mod aws;
pub mod secrets;
pub mod sms;
