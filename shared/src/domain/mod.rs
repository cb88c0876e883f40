//! Domain types: each `parse` returns a value that cannot be invalid, so handlers and
//! the store work on checked data only. Error strings are user-facing messages; the
//! caller attaches the field name.

mod attributes;
pub mod ci;
pub mod consent;
mod locale;
mod person;
mod phone;
pub mod profile;
pub mod segment;

pub use attributes::{AttributeKey, AttributeValue, MAX_ATTRIBUTE_VALUE_BYTES, MAX_ATTRIBUTES};
pub use ci::{CiProperty, CiValues};
pub use consent::{Channel, ChannelState, ConsentActor, ConsentChange, ConsentStatus, Consents};
pub use locale::{Currency, LanguageCode, LocaleCatalog, TimeZone};
pub use person::{DateOfBirth, Email, Gender, PersonName, UserId};
pub use phone::PhoneNumber;
pub use profile::{Profile, ProfilePatch, TooManyAttributes, timestamp};
pub use segment::{Segment, SegmentId, sort_segments};
