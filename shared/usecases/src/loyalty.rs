//! Loyalty cards at the platform: a pending card's member created (keyed by the card
//! number we chose, so asking twice finds the first), and a card's standing read within
//! the platform's time budget. Used by the routes right after a card is asked for and by
//! the sync consumer for what they could not finish.

use domain::loyalty::{
    CardStatus, LoyaltyCard, LoyaltyCardService, LoyaltyFailure, MemberDetails, Standing,
};
use domain::{Profile, UserId};
use store::{Activation, LoyaltyStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum LinkFailure {
    #[error(transparent)]
    Platform(#[from] LoyaltyFailure),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `activate` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activated {
    /// The card is active with its member.
    Active,
    /// The account is being erased: the member the platform just created was
    /// anonymized there, and the card stays as the erasure leaves it.
    Anonymized,
}

/// Makes `card` active: its member created at the platform (or found, if an earlier
/// call created it) and recorded. An active card is left as it is. A member created
/// for an account that is being erased meanwhile is anonymized at once: nothing else
/// would ever name it.
pub async fn activate<L: LoyaltyCardService>(
    platform: &L,
    cards: &LoyaltyStore,
    profile: &Profile,
    card: &mut LoyaltyCard,
) -> Result<Activated, LinkFailure> {
    if card.status == CardStatus::Active {
        return Ok(Activated::Active);
    }
    let member = platform
        .create_member(&card.number, &MemberDetails::of(profile))
        .await?;
    let user = UserId::parse(&profile.user_id)
        .map_err(|e| StoreError::Failed(format!("a stored user id does not parse: {e}")))?;
    match cards.activate(&user, &member, profile.version).await? {
        Activation::Recorded | Activation::AlreadyActive => {}
        Activation::Orphaned => {
            platform.anonymize_member(&member).await?;
            tracing::info!(user = %profile.user_id, "loyalty member of an account being erased anonymized");
            return Ok(Activated::Anonymized);
        }
    }
    card.status = CardStatus::Active;
    card.member_id = Some(member);
    card.pushed_version = profile.version;
    tracing::info!(user = %profile.user_id, card = %card.number.masked(), "loyalty member created");
    Ok(Activated::Active)
}

/// The member's points and tier, or `None` when the card has no member yet or the
/// platform does not answer in time: the card as stored is shown then.
pub async fn standing<L: LoyaltyCardService>(platform: &L, card: &LoyaltyCard) -> Option<Standing> {
    let member = card.member_id.as_deref()?;
    match platform.standing(member).await {
        Ok(standing) => Some(standing),
        Err(e) => {
            tracing::warn!(error = %e, "loyalty standing unavailable; the stored card is shown");
            None
        }
    }
}
