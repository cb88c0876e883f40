//! The domain of the User Profile Service: types whose `parse` returns a value that
//! cannot be invalid, the rules on profiles, consents, segments and one-time codes, and
//! the ports (traits) the adapters implement; the use cases that combine them live in
//! `usecases`. No AWS SDK, no HTTP: `cargo tree -p domain`
//! shows it, and `tests/tests/integration/layers.rs` checks it.

mod account_state;
pub mod api_token;
mod attributes;
pub mod avatar;
pub mod ci;
pub mod clock;
pub mod consent;
pub mod events;
mod field_errors;
pub mod import;
mod locale;
pub mod login;
pub mod loyalty;
pub mod mfa;
pub mod opaque;
pub mod otp;
pub mod password;
mod person;
mod phone;
pub mod ports;
pub mod privacy;
pub mod profile;
pub mod segment;
pub mod session;
pub mod sms;
pub mod source;
pub mod token_keys;

pub use account_state::{DisableReason, MAX_REASON_CHARS};
pub use attributes::{AttributeKey, AttributeValue, MAX_ATTRIBUTE_VALUE_BYTES, MAX_ATTRIBUTES};
pub use ci::{CiProperty, CiValues};
pub use clock::Clock;
pub use consent::{Actor, Channel, ChannelState, ConsentChange, ConsentStatus, Consents, Source};
pub use field_errors::FieldErrors;
pub use locale::{CountryCode, Currency, LanguageCode, LocaleCatalog, TimeZone};
pub use person::{Address, DateOfBirth, Email, Gender, PersonName, UserId};
pub use phone::{NUMBER_SETTLES, PhoneNumber, PhoneParts, number_settled};
pub use profile::{
    AvatarPointer, ExpectedVersion, Field, FieldValue, Profile, ProfilePatch, TooManyAttributes,
    timestamp,
};
pub use segment::{Segment, SegmentId, sort_segments};
