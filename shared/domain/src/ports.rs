//! What the use cases need from the outside world besides the table, as traits the
//! adapters implement: SMS and email gateways, the key one-time codes are digested with,
//! and the issuer of access tokens.

use std::future::Future;

use crate::PhoneNumber;
use crate::otp::{OtpCode, OtpKey};

#[derive(Debug, thiserror::Error)]
#[error("the SMS was not sent: {0}")]
pub struct SmsNotSent(pub String);

pub trait SmsSender: Send + Sync {
    /// Sends `code` to `to`; neither is logged.
    fn send_code(
        &self,
        to: &PhoneNumber,
        code: &OtpCode,
        lifetime_secs: i64,
    ) -> impl Future<Output = Result<(), SmsNotSent>> + Send;
}

#[derive(Debug, thiserror::Error)]
#[error("the email was not sent: {0}")]
pub struct EmailNotSent(pub String);

pub trait EmailSender: Send + Sync {
    /// Sends a plain-text email to `to`; neither the address nor the text is logged.
    fn send(
        &self,
        to: &crate::Email,
        subject: &str,
        text: &str,
    ) -> impl Future<Output = Result<(), EmailNotSent>> + Send;
}

#[derive(Debug, thiserror::Error)]
#[error("the OTP key could not be read: {0}")]
pub struct KeyUnavailable(pub String);

pub trait OtpKeys: Send + Sync {
    fn key(&self) -> impl Future<Output = Result<&OtpKey, KeyUnavailable>> + Send;
}

/// A signed access token and how long it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub token: String,
    pub expires_in: i64,
}

/// Issues the access tokens the authorizer verifies.
pub trait AccessTokens: Send + Sync {
    fn issue(
        &self,
        grant: &crate::session::Grant<'_>,
        now: i64,
    ) -> impl Future<Output = Result<AccessToken, KeyUnavailable>> + Send;
}

#[derive(Debug, thiserror::Error)]
#[error("the image store failed: {0}")]
pub struct ImageStoreFailed(pub String);

/// Object storage for profile images. A replaced object is retired, not deleted: the
/// bucket's lifecycle rule deletes it after a grace period, so caches that still hold
/// its URL keep working for a while.
pub trait ImageStore: Send + Sync {
    fn put(
        &self,
        key: &str,
        image: &crate::avatar::ValidImage,
    ) -> impl Future<Output = Result<(), ImageStoreFailed>> + Send;

    /// Marks a replaced object for the lifecycle rule.
    fn retire(&self, key: &str) -> impl Future<Output = Result<(), ImageStoreFailed>> + Send;

    /// Removes an object nothing points at (an upload whose profile write failed).
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), ImageStoreFailed>> + Send;

    /// Where clients fetch the object.
    fn url(&self, key: &str) -> String;
}

/// An object under a user's folder in the private bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub key: String,
    pub size: i64,
    /// RFC 3339.
    pub last_modified: Option<String>,
}

/// Every object kept for a user (images, exports), found by the folder it lives under
/// (`OtpKey::object_folder`): what an export lists and an erasure deletes.
pub trait UserObjects: Send + Sync {
    fn list(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<StoredObject>, ImageStoreFailed>> + Send;

    /// Deletes `keys`; a key already gone is no error.
    fn delete_all(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<(), ImageStoreFailed>> + Send;

    /// Stores a private JSON document.
    fn put_json(
        &self,
        key: &str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<(), ImageStoreFailed>> + Send;

    /// A presigned GET of `key`, valid `lifetime_secs`.
    fn download_url(
        &self,
        key: &str,
        lifetime_secs: u64,
    ) -> impl Future<Output = Result<String, ImageStoreFailed>> + Send;
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("the event was not published: {reason}")]
pub struct NotPublished {
    pub reason: String,
    /// Trying again cannot help (the event is too large for the bus).
    pub permanent: bool,
}

impl NotPublished {
    pub fn transient(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            permanent: false,
        }
    }

    pub fn permanent(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            permanent: true,
        }
    }
}

/// Where change events go (an EventBridge bus in AWS).
pub trait EventPublisher: Send + Sync {
    /// Publishes `events`; the answer says, for each in order, whether it went out.
    fn publish(
        &self,
        events: &[crate::events::ChangeEvent],
    ) -> impl Future<Output = Vec<Result<(), NotPublished>>> + Send;
}

/// Something given up on, set aside for an operator: the message itself, why, and what
/// finds it (a user id, a version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub body: String,
    pub reason: String,
    /// Named values an operator filters on, beside the reason.
    pub attributes: Vec<(&'static str, String)>,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("the message was not set aside: {0}")]
pub struct NotSetAside(pub String);

/// Where messages that cannot be processed wait for an operator (an SQS queue in AWS).
pub trait DeadLetters: Send + Sync {
    fn set_aside(&self, letter: DeadLetter)
    -> impl Future<Output = Result<(), NotSetAside>> + Send;
}

#[derive(Debug, thiserror::Error)]
#[error("the breached-password check is unavailable: {0}")]
pub struct CheckUnavailable(pub String);

/// Whether a password is known to attackers: common, or seen in a breach (Have I Been
/// Pwned's range API behind the adapter). Only a prefix of a hash of it may leave.
pub trait BreachedPasswords: Send + Sync {
    fn seen(
        &self,
        password: &crate::password::Password,
    ) -> impl Future<Output = Result<bool, CheckUnavailable>> + Send;
}
