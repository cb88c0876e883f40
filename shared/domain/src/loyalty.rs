//! Loyalty cards: a user's card at a third-party loyalty platform, the
//! member the platform keeps for it, and the port through which the service reaches
//! the platform. The card number is ours, chosen when the card is asked for and stored
//! before the platform is called, so asking again (a retry, the sync consumer) finds the
//! member instead of making a second one.

use std::future::Future;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::{Channel, Field, Profile};

/// Where a card stands on our side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardStatus {
    /// Asked for; the platform has not confirmed a member yet.
    Pending,
    /// The platform holds a member for it.
    Active,
}

impl CardStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
        }
    }
}

/// The digits of a card number: 16, the first never 0.
pub const CARD_NUMBER_DIGITS: usize = 16;

/// A card number: digits only, as printed on a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CardNumber(String);

impl CardNumber {
    /// A fresh number: 16 random digits from the OS generator.
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let first = char::from(b'1' + rng.random_range(0..9u8));
        let rest: String = (1..CARD_NUMBER_DIGITS)
            .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
            .collect();
        Self(format!("{first}{rest}"))
    }

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.len() == CARD_NUMBER_DIGITS
            && raw.bytes().all(|b| b.is_ascii_digit())
            && !raw.starts_with('0')
        {
            Ok(Self(raw.to_owned()))
        } else {
            Err("must be a 16-digit card number")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last four digits, for logs and support: a card number is never logged whole.
    pub fn masked(&self) -> String {
        format!("****{}", &self.0[self.0.len() - 4..])
    }
}

/// A user's card as we keep it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoyaltyCard {
    pub number: CardNumber,
    pub status: CardStatus,
    /// The platform's id of the member, once it answered.
    pub member_id: Option<String>,
    pub linked_at: String,
    /// The profile version last pushed to the member: older events are skipped.
    pub pushed_version: u64,
}

/// The member as the platform is told of it: what of the profile it keeps.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberDetails {
    /// Our user id, which the platform keeps as the member's `externalId`.
    pub external_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    /// E.164, only a verified number.
    pub phone: Option<String>,
    /// `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    pub gender: Option<String>,
    /// The platform's three agreement flags: email, SMS and call consents.
    pub agreements: [bool; 3],
}

impl MemberDetails {
    pub fn of(profile: &Profile) -> Self {
        let text = |f: Field| profile.field(f).map(str::to_owned);
        Self {
            external_id: profile.user_id.clone(),
            first_name: text(Field::FirstName),
            last_name: text(Field::LastName),
            email: profile.email.clone(),
            phone: profile.phone.clone().filter(|_| profile.phone_verified),
            birth_date: text(Field::DateOfBirth),
            gender: text(Field::Gender),
            agreements: [
                profile.allows(Channel::Email),
                profile.allows(Channel::Sms),
                profile.allows(Channel::Call),
            ],
        }
    }
}

/// What the platform says of a member's standing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Standing {
    pub points: Option<f64>,
    pub tier: Option<String>,
}

/// Why the platform did not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoyaltyFailure {
    /// Down, slow, or failing on its side (5xx, a timeout, no connection): worth trying
    /// again later.
    #[error("the loyalty platform is unavailable: {0}")]
    Unavailable(String),
    /// It refused the request for good (4xx): trying again cannot help.
    #[error("the loyalty platform refused: {0}")]
    Refused(String),
}

/// The loyalty platform.
pub trait LoyaltyCardService: Send + Sync {
    /// The member of `card`, created unless the platform holds one for it already:
    /// its id.
    fn create_member(
        &self,
        card: &CardNumber,
        member: &MemberDetails,
    ) -> impl Future<Output = Result<String, LoyaltyFailure>> + Send;

    fn update_member(
        &self,
        member_id: &str,
        card: &CardNumber,
        member: &MemberDetails,
    ) -> impl Future<Output = Result<(), LoyaltyFailure>> + Send;

    fn standing(
        &self,
        member_id: &str,
    ) -> impl Future<Output = Result<Standing, LoyaltyFailure>> + Send;

    /// Removes the member's personal data at the platform (erasure).
    fn anonymize_member(
        &self,
        member_id: &str,
    ) -> impl Future<Output = Result<(), LoyaltyFailure>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_are_sixteen_digits_and_mask_to_four() {
        for _ in 0..100 {
            let n = CardNumber::generate();
            assert_eq!(CardNumber::parse(n.as_str()), Ok(n.clone()));
            assert_eq!(n.masked().len(), 8);
        }
        assert!(CardNumber::parse("0123456789012345").is_err());
        assert!(CardNumber::parse("123").is_err());
        assert!(CardNumber::parse("12345678901234a5").is_err());
    }
}
