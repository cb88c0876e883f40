//! Seed 000's `GET` and `PATCH /users/profile-with-loyalty/`: the profile with the
//! user's loyalty card. GET shows the card as stored plus the platform's points and tier
//! when it answers within its budget (`null` otherwise); a card still pending is
//! finished first when the platform answers. PATCH is the profile PATCH with
//! `date_of_birth` required, the change pushed to the card's member; `add_loyalty: true`
//! links a card to a user who has none.

use adapters::loyalty::OpenLoyalty;
use api::ApiError;
use api::http::json;
use api::loyalty::{CardBody, take_add_loyalty};
use api::profile_body::ProfileBody;
use domain::loyalty::{CardNumber, CardStatus, LoyaltyCard, LoyaltyCardService, MemberDetails};
use domain::{Actor, FieldErrors, Profile, ProfilePatch, UserId};
use http::{StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::Value;
use usecases::profile_update::Outcome;

use crate::{ProfileApp, if_match};

#[derive(Serialize)]
struct WithCard<'a> {
    #[serde(flatten)]
    profile: ProfileBody<'a>,
    loyalty_card: CardBody<'a>,
}

fn platform(app: &ProfileApp) -> Result<&OpenLoyalty, ApiError> {
    app.loyalty
        .as_ref()
        .ok_or_else(ApiError::loyalty_not_configured)
}

fn answer(
    profile: &Profile,
    card: &LoyaltyCard,
    standing: Option<domain::loyalty::Standing>,
) -> Response<Body> {
    let mut response = json(
        StatusCode::OK,
        &WithCard {
            profile: ProfileBody(profile),
            loyalty_card: CardBody::of(card, standing),
        },
    );
    if let Ok(value) = profile.etag().parse() {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// The profile and the card; 404 `loyalty_card_not_found` without a card.
async fn profile_and_card(
    app: &ProfileApp,
    user: &UserId,
) -> Result<(Profile, Option<LoyaltyCard>), ApiError> {
    let (profile, card) = app.cards.profile_with_card(user).await?;
    let profile = profile
        .ok_or_else(|| ApiError::not_found("no profile yet; PATCH /users/profile creates it"))?;
    if profile.disabled_at.is_some() {
        return Err(ApiError::account_disabled());
    }
    Ok((profile, card))
}

/// A pending card's member created now if the platform answers; the card as it stands.
async fn finish(
    platform: &OpenLoyalty,
    app: &ProfileApp,
    profile: &Profile,
    card: &mut LoyaltyCard,
) {
    if card.status == CardStatus::Pending
        && let Err(e) = usecases::loyalty::activate(platform, &app.cards, profile, card).await
    {
        tracing::warn!(error = %e, "the loyalty card stays pending");
    }
}

pub(crate) async fn get(app: &ProfileApp, user: &UserId) -> Result<Response<Body>, ApiError> {
    let platform = platform(app)?;
    let (profile, card) = profile_and_card(app, user).await?;
    let mut card = card.ok_or_else(ApiError::loyalty_card_not_found)?;
    finish(platform, app, &profile, &mut card).await;
    let standing = usecases::loyalty::standing(platform, &card).await;
    Ok(answer(&profile, &card, standing))
}

pub(crate) async fn patch(
    app: &ProfileApp,
    user: &UserId,
    actor: Actor,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let platform = platform(app)?;
    let expected = if_match(req.headers())?;
    let crate::form::PatchBody {
        fields: mut body,
        avatar,
    } = crate::form::patch_body(req).await?;
    // Every refused field in one answer.
    let mut errors = FieldErrors::default();
    let add_loyalty = take_add_loyalty(&mut body)
        .map_err(|m| errors.add("add_loyalty", m))
        .unwrap_or_default();
    if matches!(body.get("date_of_birth"), None | Some(Value::Null)) {
        errors.add("date_of_birth", "is required");
    }
    let now = app.clock.now();
    let patch = ProfilePatch::parse(&body, now.date_naive(), &app.locales)
        .map_err(|e| errors.merge(e))
        .ok();
    errors.into_result().map_err(ApiError::validation)?;
    let patch = patch.expect("no errors means a patch");
    // A user with no profile yet may link a card: the PATCH creates the profile.
    let card = app.cards.card(user).await?;
    if card.is_none() && !add_loyalty {
        return Err(ApiError::loyalty_card_not_found());
    }
    let profile =
        match crate::form::apply_with_avatar(app, user, &actor, patch, expected, avatar).await? {
            Outcome::Applied(profile) => profile,
            Outcome::CodeSent(sent) => return Ok(api::otp::code_sent(&sent)),
            Outcome::TokenSent { token, checksum } => {
                return Ok(api::otp::token_sent(&token, &checksum));
            }
        };
    let mut card = match card {
        Some(card) => card,
        None => {
            let card = LoyaltyCard {
                number: CardNumber::generate(),
                status: CardStatus::Pending,
                member_id: None,
                linked_at: domain::timestamp(now),
                pushed_version: 0,
            };
            app.cards.link(user, &card).await?;
            card
        }
    };
    if card.status == CardStatus::Pending {
        finish(platform, app, &profile, &mut card).await;
    } else if let Some(member) = card.member_id.clone() {
        push(platform, app, user, &profile, &card, &member).await;
    }
    Ok(answer(&profile, &card, None))
}

/// The new profile to the card's member, best effort within the platform's budget.
async fn push(
    platform: &OpenLoyalty,
    app: &ProfileApp,
    user: &UserId,
    profile: &Profile,
    card: &LoyaltyCard,
    member: &str,
) {
    match platform
        .update_member(member, &card.number, &MemberDetails::of(profile))
        .await
    {
        Ok(()) => {
            if let Err(e) = app.cards.record_pushed(user, profile.version).await {
                tracing::warn!(error = %e, "the pushed version was not recorded");
            }
        }
        Err(e) => tracing::warn!(error = %e, "the loyalty member was not updated"),
    }
}
