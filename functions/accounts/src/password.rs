//! Passwords: `POST /auth/password/forgot` asks for a reset code (one 202 for every
//! address), `POST /auth/password/reset` sets a new password with it, and
//! `POST /users/me/password` changes it with the current one.

use adapters::email::SesEmail;
use adapters::secrets::OtpKeySource;
use adapters::sms::SnsSms;
use api::fields::Fields;
use api::http::{json, json_object, no_store, request_id, request_source};
use api::{ApiError, Identity};
use domain::otp::CodeRefusal;
use domain::otp::OtpCode;
use domain::password::Password;
use domain::{Email, PhoneNumber};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};
use store::Destination;
use usecases::codes::CodeFailure;
use usecases::password::{Passwords, Refusal};

use crate::AccountsApp;

type AppPasswords<'a> = Passwords<'a, SnsSms, SesEmail, OtpKeySource>;

fn passwords(app: &AccountsApp) -> AppPasswords<'_> {
    Passwords {
        accounts: &app.accounts,
        sessions: &app.sessions,
        sms: &app.sms,
        email: &app.email,
        codes: &app.codes,
        limits: &app.login_limits,
    }
}

/// Where the code goes, or who logs in: `email` or `phone`, exactly one.
pub(crate) enum To {
    Email(Email),
    Phone(PhoneNumber),
}

impl To {
    pub(crate) fn destination(&self) -> Destination<'_> {
        match self {
            To::Email(e) => Destination::Email(e),
            To::Phone(p) => Destination::Phone(p),
        }
    }
}

pub(crate) fn to(fields: &mut Fields, body: &Map<String, Value>) -> Option<To> {
    let email = fields.optional("email", Email::parse);
    let phone = fields.optional("phone", PhoneNumber::parse);
    match (body.contains_key("email"), body.contains_key("phone")) {
        (true, true) => {
            fields.refuse("phone", "give an email or a phone, not both");
            None
        }
        (false, false) => {
            fields.refuse("email", "is required (or phone)");
            None
        }
        _ => email.map(To::Email).or(phone.map(To::Phone)),
    }
}

fn detail(status: StatusCode, text: &str) -> Response<Body> {
    no_store(json(status, &json!({ "detail": text })))
}

pub(crate) async fn forgot(app: &AccountsApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let body = json_object(req)?;
    let mut fields = Fields::of(&body, &["email", "phone"]);
    let to = to(&mut fields, &body);
    fields.finish()?;
    let to = to.expect("no errors means a destination");
    passwords(app)
        .forgot(to.destination(), &request_source(req))
        .await
        .map_err(refused)?;
    Ok(detail(
        StatusCode::ACCEPTED,
        "If an account has proven this address, a code to reset its password is on its way.",
    ))
}

pub(crate) async fn reset(app: &AccountsApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let body = json_object(req)?;
    let mut fields = Fields::of(&body, &["email", "phone", "code", "new_password"]);
    let to = to(&mut fields, &body);
    let code = fields.required("code", |raw| {
        OtpCode::parse(raw).map_err(|_| "must be the 6-digit code that was sent".to_owned())
    });
    let login = match &to {
        Some(To::Email(email)) => Some(email.clone()),
        _ => None,
    };
    let new = fields.required("new_password", |raw| {
        app.password_rules.new_password(raw, login.as_ref())
    });
    fields.finish()?;
    let (to, code, new) = (
        to.expect("no errors means a destination"),
        code.expect("no errors means a code"),
        new.expect("no errors means a password"),
    );
    crate::screened(&app.screen, &new, "new_password").await?;
    passwords(app)
        .reset(
            to.destination(),
            &code,
            &new,
            &request_id(req),
            &request_source(req),
        )
        .await
        .map_err(refused)?;
    Ok(detail(
        StatusCode::OK,
        "The password is set. Every session of the account was signed out.",
    ))
}

pub(crate) async fn change(app: &AccountsApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let identity = Identity::from_request(req)?;
    let user = identity.require_user()?;
    let body = json_object(req)?;
    let mut fields = Fields::of(&body, &["current_password", "new_password"]);
    let current = fields.required("current_password", Password::presented);
    let new = fields.required("new_password", |raw| {
        app.password_rules.new_password(raw, None)
    });
    fields.finish()?;
    let (current, new) = (
        current.expect("no errors means a password"),
        new.expect("no errors means a password"),
    );
    crate::mfa::step_up(app, &identity).await?;
    crate::screened(&app.screen, &new, "new_password").await?;
    passwords(app)
        .change(
            user,
            identity.session.as_deref(),
            &current,
            &new,
            &request_id(req),
            &request_source(req),
        )
        .await
        .map_err(refused)?;
    Ok(detail(
        StatusCode::OK,
        "The password is changed. Every other session was signed out.",
    ))
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::WrongPassword => ApiError::new(
            StatusCode::FORBIDDEN,
            "invalid_credentials",
            "the current password is wrong",
        ),
        Refusal::Limited { retry_after_secs } => ApiError::passwords_limited(retry_after_secs),
        Refusal::NoPassword => ApiError::new(
            StatusCode::BAD_REQUEST,
            "no_password",
            "this account signs in through another identity provider and has no password here",
        ),
        Refusal::Raced => ApiError::unavailable(api::error::RETRY_AFTER_SECS),
        // No count of tries left: the count would say an account has a live code.
        Refusal::Failed(CodeFailure::Refused(CodeRefusal::Wrong { .. })) => ApiError::otp_refused(
            "otp_invalid",
            "the code is not valid for this address; ask for a new one if it keeps failing",
        ),
        Refusal::Failed(failure) => api::otp::failed(failure, "address or number"),
    }
}
