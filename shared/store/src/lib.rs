//! DynamoDB: the only part of the service that knows the table exists. It maps the
//! table's items to domain types and back.
//!
//! Leaves first: `keys` (the only key builder), `expr` (expressions with placeholders),
//! `item`, `txn` and `batch` (request plumbing), `profile_item`, `consent_item`,
//! `codes`, `markers` and `session_item` (item mapping; `codes` keeps every flow's
//! one-time code, `markers` the uniqueness claims). On top, one repository per
//! aggregate: `profiles` (+ `consents`, `phone`, `avatar`, which share its item, and
//! `listing`, the operators' pages of every profile), `accounts` (+ `contact_change`,
//! `claim`, `account_state`: disabling and enabling, `import`: users from another
//! system), `sessions`, `segments`, `ci`, `loyalty`, `api_tokens`, `privacy`
//! (+ `export`), and `stream`, which reads what any write did.
//! Where one repository reaches into another's items, it is because one transaction
//! spans both: a login's session clears the credential's attempts, a phone sign-up
//! writes the loyalty card, an erasure reads the credential and the card.

/// Declares a store over the one table: its client and the table's name, `new`, and
/// the `TableStore` the composition root builds it through.
#[macro_export]
#[doc(hidden)]
macro_rules! table_store {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        pub struct $name {
            pub(crate) client: aws_sdk_dynamodb::Client,
            pub(crate) table: String,
        }

        impl $name {
            pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
                Self {
                    client,
                    table: table.into(),
                }
            }
        }

        impl $crate::TableStore for $name {
            fn over(client: aws_sdk_dynamodb::Client, table: &str) -> Self {
                Self::new(client, table)
            }
        }
    };
}

/// A store over the one table, built from a DynamoDB client and the table's name.
pub trait TableStore: Sized {
    fn over(client: aws_sdk_dynamodb::Client, table: &str) -> Self;
}

mod account_audit;
mod account_state;
mod accounts;
mod api_tokens;
mod avatar;
mod batch;
mod ci;
mod claim;
mod codes;
mod consent_item;
mod consents;
mod contact_change;
mod counter;
mod email_verification;
mod erasure_steps;
mod export;
mod expr;
mod holder_proof;
mod import;
mod item;
pub mod keys;
mod listing;
mod login_attempts;
mod loyalty;
mod markers;
mod mfa;
mod passkeys;
mod password;
mod phone;
mod privacy;
mod profile_item;
mod profiles;
mod registration;
mod second_step;
mod segments;
mod session_epoch;
mod session_item;
mod sessions;
pub mod stream;
mod txn;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use thiserror::Error;

pub use account_state::Toggled;
pub use accounts::{AccountStore, Credential};
pub use api_tokens::ApiTokenStore;
pub use avatar::UploadSlot;
pub use ci::{CiError, CiRecord, CiStore};
pub use codes::{CodeKind, CodeSlot, Destination, OneTimeCode, SpentCode, Try};
pub use consent_item::AuditEntry;
pub use consents::{HistoryError, HistoryPage, MAX_HISTORY_PAGE};
pub use contact_change::{ContactChange, ContactError, EmailChangeState};
pub use counter::SmsQuota;
pub use email_verification::{EmailVerificationState, VerifyError};
pub use export::{ExportSlot, UserRecords};
pub use holder_proof::ProofState;
pub use import::ImportOutcome;
pub use item::Item;
pub use listing::{MAX_PAGE, ProfilePage};
pub use login_attempts::{Attempt, Forgiven, Reservation};
pub use loyalty::{Activation, LoyaltyStore};
pub use mfa::{MfaStore, Spent, TotpFactor};
pub use passkeys::{Added, MAX_PASSKEYS, PasskeyLogin, StoredPasskey};
pub use password::{Earned, PasswordAccount, PasswordError};
pub use phone::{CommitError, PhoneChangeState, VerifiedPhoneChange};
pub use privacy::{Account, Erasure, ErasureRequest, PrivacyStore, Standing as ErasureStanding};
pub use profile_item::PatchError;
pub use profiles::ProfileStore;
pub use registration::{AccountRecord, PhoneRegistrationState, RegisterError};
pub use second_step::{Challenge, NewChallenge, Spend};
pub use segments::{AssignError, SegmentStore};
pub use session_epoch::{EndedBy, SessionSummary, Sessions, SignIn};
pub use session_item::NewSession;
pub use sessions::{Rotation, SessionStore};

#[derive(Debug, Error)]
pub enum StoreError {
    /// Throttling, a 5xx or a network failure that survived the SDK's own retries.
    #[error("DynamoDB unavailable: {0}")]
    Unavailable(String),
    /// A request DynamoDB refused as malformed, or an item we cannot read: a bug here.
    #[error("DynamoDB request failed: {0}")]
    Failed(String),
    /// The account is erased, or being erased: a write for it may not
    /// bring any of it back.
    #[error("the account is erased")]
    Erased,
    /// An operator disabled the account: nothing but its operators' acts (enable,
    /// erase, sign out) changes it until they enable it again.
    #[error("the account is disabled")]
    Disabled,
}

const RETRYABLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

impl<E, R> From<SdkError<E, R>> for StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    fn from(err: SdkError<E, R>) -> Self {
        match &err {
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => Self::Unavailable(err.to_string()),
            SdkError::ServiceError(service) => {
                let code = service.err().code().unwrap_or("unknown");
                if RETRYABLE_CODES.contains(&code) {
                    Self::Unavailable(code.to_owned())
                } else {
                    Self::Failed(format!("{code}: {}", service.err().message().unwrap_or("")))
                }
            }
            _ => Self::Failed(err.to_string()),
        }
    }
}

impl From<serde_dynamo::Error> for StoreError {
    fn from(err: serde_dynamo::Error) -> Self {
        Self::Failed(format!("item does not match its model: {err}"))
    }
}
