//! The table's key layout. Nothing outside this module builds a key.
//!
//! | item                        | pk               | sk                                        |
//! |-----------------------------|------------------|-------------------------------------------|
//! | profile (+ consent state)   | `USER#<user_id>` | `PROFILE`                                 |
//! | OTP challenge               | `USER#<user_id>` | `OTP#<purpose>`                           |
//! | consent audit entry         | `USER#<user_id>` | `CONSENTLOG#<ms, 13 digits>#<request id>#<channel>` |
//! | account audit entry         | `USER#<user_id>` | `AUDIT#<ms, 13 digits>#<request id>`      |
//! | image uploads of a day      | `USER#<user_id>` | `UPLOADS#<yyyy-mm-dd>`                    |
//! | segment membership          | `USER#<user_id>` | `SEGMENT#<id, 10 digits>`                 |
//! | partner identifiers (CI)    | `USER#<user_id>` | `CI`                                      |
//! | loyalty card                | `USER#<user_id>` | `LOYALTY`                                 |
//! | exports taken (last 24 h)   | `USER#<user_id>` | `EXPORTS`                                 |
//! | phone uniqueness marker     | `PHONE#<e164>`   | `OWNER`                                   |
//! | credential (email marker)   | `EMAIL#<email, lower case>` | `CREDENTIAL`                   |
//! | email verification code     | `EMAIL#<email, lower case>` | `OTP#verify_email`             |
//! | codes sent to an address    | `EMAIL#<email, lower case>` | `OTP_SENDS`                    |
//! | ... that a holder asked for | `EMAIL#<email, lower case>` | `OTP_SENDS#HOLDER`             |
//! | login session (token family)| `USER#<user_id>` | `SESSION#<family id>`                     |
//! | sign-out generation         | `USER#<user_id>` | `SESSIONS`                                |
//! | refresh token               | `REFRESH#<sha256 hex>` | `TOKEN`                             |
//! | OTP sends to a number       | `PHONE#<e164>`   | `OTP_SENDS`                               |
//! | ... that a holder asked for | `PHONE#<e164>`   | `OTP_SENDS#HOLDER`                        |
//! | sign-up code to a number    | `PHONE#<e164>`   | `OTP#register_phone`                      |
//! | segment (catalog)           | `SEGMENTS`       | `SEGMENT#<id, 10 digits>`                 |
//! | API token                   | `APITOKENS`      | `TOKEN#<sha256 hex>`                      |
//! | texts sent in an hour       | `SMS_QUOTA`      | `HOUR#<epoch seconds of the hour>`        |
//! | sign-ups from an address    | `SOURCE#<ip or ipv6 /64>` | `SIGNUPS#<epoch seconds of the hour>` |
//! | failed logins from a source | `SOURCE#<ip or ipv6 /64>` | `LOGINS#<epoch seconds of the hour>` |
//! | failed logins of an address | `LOGINS#<sha256 of the email or E.164>` | `HOUR#<epoch seconds of the hour>` |
//! | ... from one source         | `LOGINS#<sha256 of the email or E.164>` | `FROM#<source>#<epoch seconds of the window>` |
//! | authenticator app           | `USER#<user_id>` | `MFA#TOTP`                                |
//! | second-step codes of an hour| `USER#<user_id>` | `MFA_CODES#<epoch seconds of the hour>`   |
//! | a login's second step       | `MFA_CHALLENGE#<sha256 of the mfa_token>` | `MFA_CHALLENGE`  |
//! | passkey                     | `USER#<user_id>` | `PASSKEY#<credential id, base64url>`      |
//! | passkey owner marker        | `PASSKEY#<credential id, base64url>` | `OWNER`               |
//! | WebAuthn ceremony           | `WEBAUTHN#<challenge id>` | `CEREMONY`                       |
//!
//! Index `ByCreation` (keys only) lists live profiles newest first: its partition key
//! `list_shard` is `USERS#<0-7>`, a hash of the user id spreading the writes, and its
//! sort key `listed_at`, the profile's creation time. Only profile items carry them, and
//! an erased account's tombstone does not: the index is sparse.
//!
//! `expires_at` is the table's TTL attribute: OTP challenges, send logs, upload counts and
//! hourly text counts carry it.
//! API tokens do not (their expiry is `valid_until`), so expired tokens stay listable.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use domain::otp::Purpose;
use domain::source::RequestSource;
use domain::{Channel, Email, PhoneNumber, SegmentId, UserId};

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// DynamoDB's limit on a sort key.
pub const MAX_SORT_KEY_BYTES: usize = 1024;
/// Epoch seconds after which DynamoDB TTL deletes an item.
pub const TTL_ATTRIBUTE: &str = "expires_at";

pub const USER_PREFIX: &str = "USER#";
pub const PROFILE_SK: &str = "PROFILE";
pub const OTP_PREFIX: &str = "OTP#";
const PHONE_PREFIX: &str = "PHONE#";
const OWNER_SK: &str = "OWNER";
const OTP_SENDS_SK: &str = "OTP_SENDS";
const HOLDER_SENDS_SK: &str = "OTP_SENDS#HOLDER";
pub const EMAIL_PREFIX: &str = "EMAIL#";
const REFRESH_PREFIX: &str = "REFRESH#";
const TOKEN_SK: &str = "TOKEN";
pub const SESSION_PREFIX: &str = "SESSION#";
/// Shares `SESSION` with the sessions, so one Query reads the generation with them.
pub const SESSIONS_SK: &str = "SESSIONS";
/// What the sessions' and the generation's sort keys begin with.
pub const SESSION_ITEMS_PREFIX: &str = "SESSION";
pub const CREDENTIAL_SK: &str = "CREDENTIAL";
/// The account's authenticator app (one at most), pending or active, with its recovery
/// codes' digests.
pub const TOTP_SK: &str = "MFA#TOTP";
const MFA_CHALLENGE_PREFIX: &str = "MFA_CHALLENGE#";
/// A passkey in its account's partition (`PASSKEY#<credential id>`), and the credential
/// id's owner marker outside it (a passkey login knows only the credential).
pub const PASSKEY_PREFIX: &str = "PASSKEY#";
const WEBAUTHN_PREFIX: &str = "WEBAUTHN#";
const CEREMONY_SK: &str = "CEREMONY";
const MFA_CHALLENGE_SK: &str = "MFA_CHALLENGE";
/// What the hourly counts of second-step codes' sort keys begin with.
pub const SECOND_STEP_CODES_PREFIX: &str = "MFA_CODES#";
const SEGMENTS_PK: &str = "SEGMENTS";
pub const CI_SK: &str = "CI";
pub const LOYALTY_SK: &str = "LOYALTY";
pub const EXPORTS_SK: &str = "EXPORTS";
pub const UPLOADS_PREFIX: &str = "UPLOADS#";
const API_TOKENS_PK: &str = "APITOKENS";
pub const SMS_QUOTA_PK: &str = "SMS_QUOTA";
const SOURCE_PREFIX: &str = "SOURCE#";
const LOGINS_PREFIX: &str = "LOGINS#";
const API_TOKEN_PREFIX: &str = "TOKEN#";
pub const SEGMENT_PREFIX: &str = "SEGMENT#";
/// Sort-key prefix of consent audit entries; they sort by time within a user.
pub const CONSENT_LOG_PREFIX: &str = "CONSENTLOG#";
/// Sort-key prefix of account audit entries (an administrator's direct changes).
pub const AUDIT_PREFIX: &str = "AUDIT#";

/// The index of live profiles by creation time, and its keys.
pub const LIST_INDEX: &str = "ByCreation";
pub const LIST_SHARD: &str = "list_shard";
/// The profile's creation time, under a name of its own: an index key attribute must
/// have the index's type on every item, and session items keep a numeric `created_at`.
pub const LIST_SORT: &str = "listed_at";
/// How many partitions the index's writes are spread over; a page reads each.
pub const LIST_SHARDS: u32 = 8;
const LIST_PREFIX: &str = "USERS#";

/// `user`'s partition of the index: the same on every write.
pub fn list_shard(user: &UserId) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(user.as_str().as_bytes());
    format!("{LIST_PREFIX}{}", u32::from(digest[0]) % LIST_SHARDS)
}

/// Every partition of the index.
pub fn list_shards() -> impl Iterator<Item = String> {
    (0..LIST_SHARDS).map(|n| format!("{LIST_PREFIX}{n}"))
}

fn user_pk(user: &UserId) -> String {
    format!("{USER_PREFIX}{}", user.as_str())
}

fn email_pk(email: &Email) -> String {
    format!("{EMAIL_PREFIX}{}", email.normalized())
}

/// Failed logins are kept under a digest of the address or number typed (canonical), not
/// the address: they outlive no erasure by holding it, and one nobody has is not written
/// down.
fn logins_pk(login: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(login.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{LOGINS_PREFIX}{hex}")
}

fn phone_pk(phone: &PhoneNumber) -> String {
    format!("{PHONE_PREFIX}{}", phone.e164())
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ItemKey {
    pub pk: String,
    pub sk: String,
}

impl ItemKey {
    fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    pub fn profile(user: &UserId) -> Self {
        Self::new(user_pk(user), PROFILE_SK)
    }

    pub fn challenge(user: &UserId, purpose: Purpose) -> Self {
        Self::new(user_pk(user), format!("{OTP_PREFIX}{}", purpose.as_str()))
    }

    /// Claims a number for one account; written in the same transaction as the profile.
    pub fn phone_owner(phone: &PhoneNumber) -> Self {
        Self::new(phone_pk(phone), OWNER_SK)
    }

    /// An account's email and password: claims the address for one account (its key is
    /// the uniqueness marker) and is the one item a login reads.
    pub fn credential(email: &Email) -> Self {
        Self::new(email_pk(email), CREDENTIAL_SK)
    }

    /// The credential of an account that holds no address: its password and grants,
    /// kept under the account after another sign-up took over an address it never proved.
    pub fn user_credential(user: &UserId) -> Self {
        Self::new(user_pk(user), CREDENTIAL_SK)
    }

    /// The code that proves an address, kept beside its credential so one read fetches
    /// both.
    pub fn email_challenge(email: &Email, purpose: Purpose) -> Self {
        Self::new(email_pk(email), format!("{OTP_PREFIX}{}", purpose.as_str()))
    }

    /// Codes sent to an address in the last hour, across accounts.
    pub fn email_sends(email: &Email) -> Self {
        Self::new(email_pk(email), OTP_SENDS_SK)
    }

    /// The codes a signed-in holder asked for to an address (`OTP_SENDS#HOLDER`).
    pub fn email_holder_sends(email: &Email) -> Self {
        Self::new(email_pk(email), HOLDER_SENDS_SK)
    }

    /// A refresh token, by the SHA-256 of its plaintext.
    pub fn refresh_token(sha256_hex: &str) -> Self {
        Self::new(format!("{REFRESH_PREFIX}{sha256_hex}"), TOKEN_SK)
    }

    /// The account's authenticator app (`mfa`).
    pub fn totp(user: &UserId) -> Self {
        Self::new(user_pk(user), TOTP_SK)
    }

    /// A passkey of `user`, by its credential id (base64url).
    pub fn passkey(user: &UserId, credential: &str) -> Self {
        Self::new(user_pk(user), format!("{PASSKEY_PREFIX}{credential}"))
    }

    /// Which account a passkey credential belongs to.
    pub fn passkey_owner(credential: &str) -> Self {
        Self::new(format!("{PASSKEY_PREFIX}{credential}"), OWNER_SK)
    }

    /// A WebAuthn ceremony's state between its options and its answer.
    pub fn ceremony(id: &str) -> Self {
        Self::new(format!("{WEBAUTHN_PREFIX}{id}"), CEREMONY_SK)
    }

    /// The account's second-step codes in the hour beginning at `hour`.
    pub fn second_step_codes(user: &UserId, hour: i64) -> Self {
        Self::new(user_pk(user), format!("{SECOND_STEP_CODES_PREFIX}{hour}"))
    }

    /// A login's second step, by the SHA-256 of its `mfa_token`.
    pub fn mfa_challenge(sha256_hex: &str) -> Self {
        Self::new(
            format!("{MFA_CHALLENGE_PREFIX}{sha256_hex}"),
            MFA_CHALLENGE_SK,
        )
    }

    /// A login session: the family of refresh tokens one login started.
    pub fn session(user: &UserId, family: &str) -> Self {
        Self::new(user_pk(user), format!("{SESSION_PREFIX}{family}"))
    }

    /// The generation every live session of `user` is of (`session_epoch`).
    pub fn sessions(user: &UserId) -> Self {
        Self::new(user_pk(user), SESSIONS_SK)
    }

    /// A code sent to a number before any account exists (seed 000's sign-up).
    pub fn phone_challenge(phone: &PhoneNumber, purpose: Purpose) -> Self {
        Self::new(phone_pk(phone), format!("{OTP_PREFIX}{}", purpose.as_str()))
    }

    pub fn phone_sends(phone: &PhoneNumber) -> Self {
        Self::new(phone_pk(phone), OTP_SENDS_SK)
    }

    /// The codes a signed-in holder asked for to a number (`OTP_SENDS#HOLDER`).
    pub fn phone_holder_sends(phone: &PhoneNumber) -> Self {
        Self::new(phone_pk(phone), HOLDER_SENDS_SK)
    }

    pub fn consent_log(user: &UserId, at_ms: i64, request_id: &str, channel: Channel) -> Self {
        Self::new(
            user_pk(user),
            format!(
                "{CONSENT_LOG_PREFIX}{at_ms:013}#{request_id}#{}",
                channel.as_str()
            ),
        )
    }

    /// An administrator's change to `user`'s account, in time order within the user.
    pub fn account_audit(user: &UserId, at_ms: i64, request_id: &str) -> Self {
        Self::new(
            user_pk(user),
            format!("{AUDIT_PREFIX}{at_ms:013}#{request_id}"),
        )
    }

    /// The count of `user`'s image uploads on one UTC day.
    pub fn sms_hour(hour: i64) -> Self {
        Self::new(SMS_QUOTA_PK, format!("HOUR#{hour}"))
    }

    /// The hour's count of texts to numbers no account has proved.
    pub fn sms_hour_new_numbers(hour: i64) -> Self {
        Self::new(SMS_QUOTA_PK, format!("NEW#{hour}"))
    }

    /// Failed logins of an address from one source in a window (`login_attempts`).
    pub fn login_failures(login: &str, source: &RequestSource, window: i64) -> Self {
        Self::new(
            logins_pk(login),
            format!("FROM#{}#{window}", source.as_str()),
        )
    }

    /// The partition of an address's failed-login counts.
    pub fn login_failures_partition(login: &str) -> String {
        logins_pk(login)
    }

    /// Failed logins of an address from every source in an hour.
    pub fn login_failures_of_address(login: &str, hour: i64) -> Self {
        Self::new(logins_pk(login), format!("HOUR#{hour}"))
    }

    /// Failed logins from a source over every address in an hour.
    pub fn login_failures_from(source: &RequestSource, hour: i64) -> Self {
        Self::new(
            format!("{SOURCE_PREFIX}{}", source.as_str()),
            format!("LOGINS#{hour}"),
        )
    }

    pub fn signups(source: &RequestSource, hour: i64) -> Self {
        Self::new(
            format!("{SOURCE_PREFIX}{}", source.as_str()),
            format!("SIGNUPS#{hour}"),
        )
    }

    pub fn uploads(user: &UserId, day: chrono::NaiveDate) -> Self {
        Self::new(user_pk(user), format!("{UPLOADS_PREFIX}{day}"))
    }

    /// A key within `user`'s partition from a sort key a client handed back (a cursor).
    pub fn in_user_partition(user: &UserId, sk: String) -> Self {
        Self::new(user_pk(user), sk)
    }

    /// Catalog items share one partition: the whole catalog is one Query.
    pub fn segment(id: SegmentId) -> Self {
        Self::new(SEGMENTS_PK, format!("{SEGMENT_PREFIX}{:010}", id.get()))
    }

    pub fn segments_partition() -> &'static str {
        SEGMENTS_PK
    }

    pub fn membership(user: &UserId, id: SegmentId) -> Self {
        Self::new(user_pk(user), format!("{SEGMENT_PREFIX}{:010}", id.get()))
    }

    pub fn ci(user: &UserId) -> Self {
        Self::new(user_pk(user), CI_SK)
    }

    /// The user's loyalty card: beside the profile, so one batch read fetches both.
    pub fn loyalty_card(user: &UserId) -> Self {
        Self::new(user_pk(user), LOYALTY_SK)
    }

    /// When the user took their recent exports.
    pub fn exports(user: &UserId) -> Self {
        Self::new(user_pk(user), EXPORTS_SK)
    }

    /// Tokens share one partition: listing is one Query; lookups are by hash.
    pub fn api_token(sha256_hex: &str) -> Self {
        Self::new(API_TOKENS_PK, format!("{API_TOKEN_PREFIX}{sha256_hex}"))
    }

    pub fn api_tokens_partition() -> &'static str {
        API_TOKENS_PK
    }

    pub fn user_partition(user: &UserId) -> String {
        user_pk(user)
    }

    pub fn to_item(&self) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (PK.to_owned(), AttributeValue::S(self.pk.clone())),
            (SK.to_owned(), AttributeValue::S(self.sk.clone())),
        ])
    }
}
