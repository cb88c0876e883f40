//! The loyalty sync: an EventBridge rule hands it the change events that can
//! concern a card's member (profile, phone, email, consents, a card linked). For a user
//! with a card it
//! - creates the member of a card still `pending` (keyed by the card number: never two);
//! - pushes the profile as it is now to the member, unless the card's member already
//!   carries this version or a later one (older and repeated events are skipped, so the
//!   order events arrive in does not matter);
//! - anonymizes the member of an erased account (`account.deleted`): the tombstone names
//!   it until the platform has done so.
//!
//! What the platform cannot do now (down, slow, 5xx) fails the invocation: Lambda
//! retries it with backoff, then sends it to the on-failure destination. What it refuses
//! for good (4xx) is set aside at once in the dead-letter queue with the reason, the user
//! and the version, and later events for the user still flow.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use domain::UserId;
use domain::loyalty::{CardStatus, LoyaltyCardService, LoyaltyFailure, MemberDetails};
use domain::ports::{DeadLetter, DeadLetters};
use platform::{ConfigError, EventFunction, Platform};
use serde::Serialize;
use serde_json::Value;
use store::{LoyaltyStore, PrivacyStore};
use usecases::loyalty::{Activated, LinkFailure};

pub struct LoyaltySync<L, D> {
    /// `None` with `LoyaltyProvider: none` (the rule is disabled then too).
    pub platform: Option<L>,
    pub cards: LoyaltyStore,
    /// Erased accounts' tombstones, which name their member until it is anonymized.
    pub erasures: PrivacyStore,
    pub dead_letters: D,
}

impl LoyaltySync<adapters::loyalty::OpenLoyalty, adapters::dead_letters::SqsDeadLetters> {
    pub fn new(p: &Platform) -> Result<Self, ConfigError> {
        Ok(Self {
            platform: p.loyalty(),
            cards: p.store()?,
            erasures: p.store()?,
            dead_letters: p.dead_letters()?,
        })
    }
}

/// What became of one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "detail")]
pub enum Synced {
    /// Nothing to do: no card, or the member carries this version already.
    Skipped(&'static str),
    /// A pending card's member was created.
    Created,
    /// The profile went to the member.
    Pushed { version: u64 },
    /// An erased account's member was anonymized (or one created for an account being
    /// erased).
    Anonymized,
    /// Refused for good: in the dead-letter queue.
    SetAside { reason: String },
    /// Not now: Lambda retries the event.
    Retry { reason: String },
}

impl<L: LoyaltyCardService + 'static, D: DeadLetters + 'static> EventFunction
    for LoyaltySync<L, D>
{
    type Event = EventBridgeEvent<Value>;
    type Output = Synced;

    async fn handle(&self, event: EventBridgeEvent<Value>) -> Synced {
        let user = event.detail["user_id"].as_str().unwrap_or_default();
        let Ok(user) = UserId::parse(user) else {
            return Synced::Skipped("the event names no user");
        };
        let synced = if event.detail_type == ACCOUNT_DELETED {
            self.anonymize(&user).await
        } else {
            self.sync(&user).await
        };
        let outcome = match synced {
            Ok(synced) => synced,
            Err(LinkFailure::Platform(LoyaltyFailure::Refused(reason))) => {
                self.set_aside(&event, &user, reason).await
            }
            Err(e) => Synced::Retry {
                reason: e.to_string(),
            },
        };
        tracing::info!(
            user = %user,
            event = event.detail["id"].as_str().unwrap_or_default(),
            r#type = %event.detail_type,
            outcome = ?outcome,
            "loyalty sync"
        );
        outcome
    }

    fn failure(output: &Synced) -> Option<String> {
        match output {
            Synced::Retry { reason } => Some(reason.clone()),
            _ => None,
        }
    }
}

/// The event type of an erasure's end.
const ACCOUNT_DELETED: &str = "account.deleted";

impl<L: LoyaltyCardService, D: DeadLetters> LoyaltySync<L, D> {
    /// The erased account's member anonymized at the platform, then forgotten by the
    /// tombstone; a repeated event finds nothing left to do.
    async fn anonymize(&self, user: &UserId) -> Result<Synced, LinkFailure> {
        let Some(platform) = self.platform.as_ref() else {
            return Ok(Synced::Skipped("no loyalty platform is configured"));
        };
        let Some(member) = self.erasures.erased_member(user).await? else {
            return Ok(Synced::Skipped("no member to anonymize"));
        };
        platform.anonymize_member(&member).await?;
        self.erasures.forget_member(user).await?;
        Ok(Synced::Anonymized)
    }

    async fn sync(&self, user: &UserId) -> Result<Synced, LinkFailure> {
        let Some(platform) = self.platform.as_ref() else {
            return Ok(Synced::Skipped("no loyalty platform is configured"));
        };
        // One strongly consistent batch read: the profile pushed is the one committed.
        let (profile, card) = self.cards.profile_with_card(user).await?;
        let Some(mut card) = card else {
            return Ok(Synced::Skipped("no loyalty card"));
        };
        let Some(profile) = profile else {
            return Ok(Synced::Skipped("no profile"));
        };
        if card.status == CardStatus::Pending {
            return Ok(
                match usecases::loyalty::activate(platform, &self.cards, &profile, &mut card)
                    .await?
                {
                    Activated::Active => Synced::Created,
                    Activated::Anonymized => Synced::Anonymized,
                },
            );
        }
        if profile.version <= card.pushed_version {
            return Ok(Synced::Skipped("the member carries this version already"));
        }
        let member = card
            .member_id
            .as_deref()
            .ok_or_else(|| LoyaltyFailure::Refused("an active card without a member".into()))?;
        platform
            .update_member(member, &card.number, &MemberDetails::of(&profile))
            .await?;
        self.cards.record_pushed(user, profile.version).await?;
        Ok(Synced::Pushed {
            version: profile.version,
        })
    }

    /// The event to the dead-letter queue with the platform's reason; if the queue
    /// refuses too, the event is retried instead.
    async fn set_aside(
        &self,
        event: &EventBridgeEvent<Value>,
        user: &UserId,
        reason: String,
    ) -> Synced {
        let mut attributes = vec![
            ("user_id", user.as_str().to_owned()),
            ("event_type", event.detail_type.clone()),
        ];
        if let Some(version) = event.detail["version"].as_u64() {
            attributes.push(("version", version.to_string()));
        }
        if let Some(id) = event.detail["id"].as_str() {
            attributes.push(("event_id", id.to_owned()));
        }
        let letter = DeadLetter {
            body: serde_json::to_string(event).unwrap_or_default(),
            reason: reason.clone(),
            attributes,
        };
        match self.dead_letters.set_aside(letter).await {
            Ok(()) => {
                tracing::error!(user = %user, %reason, "the loyalty platform refused a member update: in the dead-letter queue");
                Synced::SetAside { reason }
            }
            Err(e) => Synced::Retry {
                reason: format!("{reason}; and {e}"),
            },
        }
    }
}
