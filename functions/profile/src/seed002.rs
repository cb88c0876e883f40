//! Seed 002's profile routes, wire-compatible: `GET /user/get/profile` and
//! `POST /user/update/profile`, in its envelope, with its field names and messages.
//! Both are views over the canonical profile: the update goes through `apply`, the same
//! code path as `PATCH /users/profile`, after seed 002's names are translated.

use api::ApiError;
use api::seed002::{self, INVALID_EMAIL, PHONE_FORMAT, REQUIRED, TOKEN_NOT_MATCHING, TOO_LONG_255};
use domain::{
    Actor, Email, ExpectedVersion, Field, FieldErrors, PhoneNumber, Profile, ProfilePatch, UserId,
};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};
use usecases::codes::CodeFailure;
use usecases::email_change;
use usecases::profile_update::{Outcome, Refusal};

use crate::{ProfileApp, apply, load};

/// Seed 002's name → the profile's, for the fields its update takes.
const RENAMED: &[(&str, &str)] = &[
    ("first_name", "first_name"),
    ("last_name", "last_name"),
    ("email", "email"),
    ("phone_number", "phone"),
    ("languages", "language_code"),
    ("currencies", "currency"),
    ("timezones", "timezone"),
    ("token_field", "token"),
    ("token_checksum_field", "token_checksum"),
    // Not in seed 002: a number changes only with the code sent to it, as everywhere.
    ("code", "code"),
    ("resend", "resend"),
];

fn text(profile: &Profile, field: Field) -> &str {
    profile.field(field).unwrap_or_default()
}

pub(crate) async fn get(app: &ProfileApp, user: &UserId) -> Result<Response<Body>, ApiError> {
    let profile = load(app, user).await?;
    let phone = profile
        .phone
        .as_deref()
        .and_then(|p| PhoneNumber::parse(p).ok())
        .map(|p| p.parts());
    let country = phone
        .as_ref()
        .and_then(|p| p.region.clone())
        .or_else(|| profile.field(Field::Country).map(str::to_owned))
        .unwrap_or_default();
    Ok(seed002::ok(json!({
        "UserProfile": [{
            "username": profile.user_id,
            "first_name": text(&profile, Field::FirstName),
            "last_name": text(&profile, Field::LastName),
            "email": profile.email.as_deref().unwrap_or_default(),
            "phone_code": phone.as_ref().map(|p| p.calling_code.as_str()).unwrap_or_default(),
            "phone_number": phone.as_ref().map(|p| p.national.as_str()).unwrap_or_default(),
            "country_code": country,
        }],
        "ProfileImage": profile.avatar_url.as_deref().unwrap_or_default(),
        "UserLocInfo": {
            "lan": text(&profile, Field::LanguageCode),
            "tz": text(&profile, Field::Timezone),
            "currency": text(&profile, Field::Currency),
        },
    })))
}

/// The profile's number for seed 002's `phone_number` (digits, no `+`), `None` when it is
/// the number the account has. Its GET shows the national number beside `phone_code`, and
/// its clients send that back: digits are read first as a national number in the
/// country of the account's number (or the profile's country), then as an international
/// one (calling code and number), as before.
fn seed_phone(
    digits: &str,
    current: Option<&PhoneNumber>,
    country: Option<&str>,
) -> Option<String> {
    let region = current
        .and_then(|p| p.parts().region)
        .or_else(|| country.map(str::to_owned));
    let national = region.and_then(|r| PhoneNumber::parse_national(digits, &r).ok());
    let international = format!("+{digits}");
    let number = match national {
        Some(number) => number.e164().to_owned(),
        None => international,
    };
    match current {
        Some(current) if current.e164() == number => None,
        _ => Some(number),
    }
}

/// Seed 002's own checks, in its words, then its names as the profile's. `current`: the
/// profile as stored, which a national `phone_number` is read against.
fn translate(
    body: Map<String, Value>,
    current: Option<&Profile>,
) -> Result<Map<String, Value>, FieldErrors> {
    let phone = current
        .and_then(|p| p.phone.as_deref())
        .and_then(|p| PhoneNumber::parse(p).ok());
    let country = current.and_then(|p| p.field(Field::Country));
    let mut errors = FieldErrors::default();
    let mut out = Map::new();
    match body.get("email") {
        None | Some(Value::Null) => errors.add("email", REQUIRED),
        Some(Value::String(s)) if s.trim().is_empty() => errors.add("email", REQUIRED),
        Some(Value::String(s)) if Email::parse(s).is_err() => errors.add("email", INVALID_EMAIL),
        _ => {}
    }
    for name in ["first_name", "last_name"] {
        if let Some(Value::String(s)) = body.get(name)
            && s.chars().count() > 255
        {
            errors.add(name, TOO_LONG_255);
        }
    }
    if let Some(Value::String(s)) = body.get("phone_number")
        && (s.is_empty() || s.len() > 15 || !s.bytes().all(|b| b.is_ascii_digit()))
    {
        errors.add("phone_number", PHONE_FORMAT);
    }
    if body.contains_key("token_field") && !body.contains_key("token_checksum_field") {
        errors.add("token_checksum_field", REQUIRED);
    }
    for (name, value) in body {
        match RENAMED.iter().find(|(seed, _)| *seed == name) {
            Some((_, ours)) => {
                let value = match (*ours, value) {
                    ("phone", Value::String(digits)) => {
                        match seed_phone(&digits, phone.as_ref(), country) {
                            Some(number) => Value::String(number),
                            // The number the account has: no change, no code.
                            None => continue,
                        }
                    }
                    // Form bodies carry text: `resend=true`; other text stays text, which
                    // the profile's parser refuses naming the field.
                    ("resend", Value::String(flag)) if flag == "true" || flag == "false" => {
                        Value::Bool(flag == "true")
                    }
                    // Blank form fields leave a value as it is.
                    (_, Value::String(s)) if s.is_empty() => continue,
                    (_, value) => value,
                };
                out.insert((*ours).to_owned(), value);
            }
            None => errors.add(name, "This field is not allowed."),
        }
    }
    errors.into_result().map(|()| out)
}

pub(crate) async fn update(
    app: &ProfileApp,
    user: &UserId,
    actor: Actor,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let body = seed002::fields(req).await?;
    // A number is read against the stored one: one read, only when a number is sent.
    let current = match body.get("phone_number") {
        Some(Value::String(_)) => app.profiles.get(user).await?,
        _ => None,
    };
    let body = translate(body, current.as_ref()).map_err(ApiError::validation)?;
    let now = app.clock.now();
    let patch = ProfilePatch::parse(&body, now.date_naive(), &app.locales)
        .map_err(|e| ApiError::validation(e).rename_fields(RENAMED))?;
    let outcome = apply(app, user, &actor, patch, ExpectedVersion::Any)
        .await
        .map_err(|refusal| in_seed_words(refusal, body.contains_key("token")))?;
    // A code, or a token and its checksum, sent instead: 202 and where they went.
    let (sent, detail) = match outcome {
        Outcome::Applied(_) => return Ok(seed002::ok(json!({}))),
        Outcome::CodeSent(sent) => {
            let detail = format!(
                "A verification code was sent to {}.",
                sent.masked_destination
            );
            (sent, detail)
        }
        Outcome::TokenSent { token, checksum } => {
            let detail = api::otp::token_sent_detail(&token, &checksum);
            (token, detail)
        }
    };
    let data = json!({
        "detail": detail,
        "expires_in": sent.expires_in,
        "resend_after": sent.resend_after,
    });
    Ok(seed002::envelope(
        StatusCode::ACCEPTED,
        &FieldErrors::default(),
        data,
    ))
}

/// A refusal of the canonical path as seed 002 words it: a wrong or spent email token is
/// its 400 "Token is not matching."; field names are its own.
fn in_seed_words(refusal: Refusal, had_token: bool) -> ApiError {
    match refusal {
        Refusal::Email(email_change::Refusal::Failed(CodeFailure::Refused(_))) if had_token => {
            ApiError::field("token_field", TOKEN_NOT_MATCHING)
        }
        refusal => ApiError::from(refusal).rename_fields(RENAMED),
    }
}
