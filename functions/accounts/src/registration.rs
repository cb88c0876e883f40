//! Seed 001's `POST /api/v1/accounts/users` and `POST /users/verify`. Sign-up answers in
//! seed 001's shapes: 201 `{msg, data}`, and field errors as `{"field": ["message"]}`.

use api::ApiError;
use api::http::{json, json_object, request_id, request_source};
use domain::otp::OtpCode;
use domain::password::PasswordRules;
use domain::ports::BreachedPasswords;
use domain::ports::{EmailSender, OtpKeys};
use domain::source::RequestSource;
use domain::{Email, FieldErrors, Gender, PhoneNumber, ProfilePatch};
use usecases::password::Screen;

use crate::seed::{SeedUser, seed_gender_to_profile};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};
use usecases::registration::{Delivery, NewAccount, Refusal, Registration};

const SIGNUP_FIELDS: &[&str] = &[
    "email",
    "password",
    "confirm_password",
    "first_name",
    "last_name",
    "phone",
    "gender",
    "country",
];

/// Seed 001 spells genders `M` and `F`; `male`, `female` and `other` are taken too.
fn gender(raw: &str) -> Result<Gender, String> {
    Gender::parse(seed_gender_to_profile(raw))
}

fn parse_signup(
    body: &Map<String, Value>,
    rules: &PasswordRules,
    request_id: String,
    source: RequestSource,
) -> Result<NewAccount, FieldErrors> {
    let mut errors = FieldErrors::default();
    for name in body.keys() {
        if !SIGNUP_FIELDS.contains(&name.as_str()) {
            errors.add(name.as_str(), "This field is not allowed.");
        }
    }
    let text = |name: &str, required: bool, errors: &mut FieldErrors| match body.get(name) {
        None | Some(Value::Null) if required => {
            errors.add(name, "This field is required.");
            None
        }
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.add(name, "Not a valid string.");
            None
        }
    };
    let email = text("email", true, &mut errors)
        .and_then(|raw| Email::parse(&raw).map_err(|m| errors.add("email", m)).ok());
    let password = text("password", true, &mut errors);
    let confirm = text("confirm_password", true, &mut errors);
    let password = match (password, confirm) {
        (Some(p), Some(c)) if p != c => {
            errors.add("confirm_password", "must match password");
            None
        }
        (Some(p), Some(_)) => rules
            .new_password(&p, email.as_ref())
            .map_err(|m| errors.add("password", m))
            .ok(),
        _ => None,
    };
    let phone = text("phone", false, &mut errors).and_then(|raw| {
        PhoneNumber::parse(&raw)
            .map_err(|m| errors.add("phone", m))
            .ok()
    });
    let mut fields = Map::new();
    for name in ["first_name", "last_name", "country"] {
        if let Some(value) = text(name, false, &mut errors) {
            fields.insert(name.to_owned(), Value::String(value));
        }
    }
    if let Some(raw) = text("gender", false, &mut errors) {
        match gender(&raw) {
            Ok(g) => {
                fields.insert("gender".into(), Value::String(g.as_str().to_owned()));
            }
            Err(m) => errors.add("gender", m),
        }
    }
    // Names, gender and country go through the profile's own parser.
    let today = chrono::Utc::now().date_naive();
    let profile = if fields.is_empty() {
        ProfilePatch::default()
    } else {
        ProfilePatch::parse(&fields, today, &domain::LocaleCatalog::all()).unwrap_or_else(|e| {
            for field in e.fields() {
                errors.add(field, "is not valid");
            }
            ProfilePatch::default()
        })
    };
    errors.into_result()?;
    Ok(NewAccount {
        email: email.expect("no errors means an email"),
        password: password.expect("no errors means a password"),
        profile,
        phone,
        request_id,
        source,
    })
}

pub(crate) async fn create<E: EmailSender, K: OtpKeys, B: BreachedPasswords>(
    registration: &Registration<'_, E, K>,
    screen: &Screen<B>,
    rules: &PasswordRules,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let body = json_object(req)?;
    let account = parse_signup(&body, rules, request_id(req), request_source(req))?;
    crate::screened(screen, &account.password, "password").await?;
    match registration.register(account).await {
        Ok((profile, delivery)) => {
            let msg = match delivery {
                Delivery::Sent => "Email sent successfully!",
                Delivery::NotSent => {
                    "Account created; the email could not be sent: ask for a new code at /users/verify."
                }
            };
            Ok(json(
                StatusCode::CREATED,
                &json!({"msg": msg, "data": SeedUser::of(&profile)}),
            ))
        }
        Err(Refusal::EmailTaken) => Err(ApiError::field(
            "email",
            "A user with this email already exists.",
        )),
        Err(other) => Err(refused(other)),
    }
}

pub(crate) async fn verify<E: EmailSender, K: OtpKeys>(
    registration: &Registration<'_, E, K>,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let body = json_object(req)?;
    let mut errors = FieldErrors::default();
    for name in body.keys() {
        if !["email", "code", "resend"].contains(&name.as_str()) {
            errors.add(name.as_str(), "is not a field of this request");
        }
    }
    let email = match body.get("email") {
        Some(Value::String(s)) => Email::parse(s).map_err(|m| errors.add("email", m)).ok(),
        _ => {
            errors.add("email", "is required");
            None
        }
    };
    let resend = match body.get("resend") {
        None | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(_) => {
            errors.add("resend", "must be true or false");
            false
        }
    };
    let code = match body.get("code") {
        Some(Value::String(s)) => OtpCode::parse(s).map_err(|m| errors.add("code", m)).ok(),
        None if resend => None,
        _ => {
            errors.add("code", "is required unless resend is true");
            None
        }
    };
    errors.into_result()?;
    let email = email.expect("no errors means an email");
    let source = request_source(req);
    if resend {
        // One answer whatever the address is: unknown, pending, proven, just sent to.
        registration
            .resend(&email, &source)
            .await
            .map_err(refused)?;
        return Ok(json(
            StatusCode::ACCEPTED,
            &json!({"detail": "If an unverified account has this address, a new code was sent to it."}),
        ));
    }
    let code = code.expect("no errors and no resend means a code");
    registration
        .verify(&email, &code, &source)
        .await
        .map_err(refused)?;
    Ok(json(
        StatusCode::OK,
        &json!({"detail": "The email address is verified."}),
    ))
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::EmailTaken => ApiError::field("email", "A user with this email already exists."),
        // The same words for every reason, and no count of tries left (the use case
        // folds unknown and proven addresses into a code not accepted).
        Refusal::UnknownEmail | Refusal::AlreadyVerified | Refusal::CodeNotAccepted => {
            ApiError::otp_refused(
                "otp_invalid",
                "the code is not valid for this address; ask for a new one with resend",
            )
        }
        Refusal::Failed(failure) => api::otp::failed(failure, "address"),
    }
}
