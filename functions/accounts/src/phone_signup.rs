//! Seed 000's `POST /users/register` and `POST /users/register-with-loyalty/`: a code by
//! SMS first (202, or 200 when `resend` re-sent it), then with the code the account and
//! its tokens (201). With loyalty, `add_loyalty: true` asks for a card too: stored
//! `pending` with the account, its member created at the platform before the answer when
//! the platform answers in time, otherwise by the sync consumer later. Errors are problem
//! details, as on every self-service route.

use api::ApiError;
use api::http::{json, json_object, request_id, request_source};
use api::loyalty::{CardBody, take_add_loyalty};
use api::otp::{code_resent, code_sent};
use api::profile_body::ProfileBody;
use domain::password::PasswordRules;
use domain::source::RequestSource;
use domain::{Email, FieldErrors, LocaleCatalog, ProfilePatch};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use usecases::phone_signup::{Outcome, PhoneSignUp, Refusal, Request as SignUp};

use crate::{AccountsApp, TokenResponse};
use api::http::no_store;

/// Seed 000 requires these besides `email` and `password`.
const REQUIRED_PROFILE_FIELDS: &[&str] = &["first_name", "last_name", "phone", "date_of_birth"];

fn parse(
    mut body: Map<String, Value>,
    rules: &PasswordRules,
    request_id: String,
    source: RequestSource,
) -> Result<SignUp, ApiError> {
    let mut errors = FieldErrors::default();
    let with_loyalty_card = take_add_loyalty(&mut body)
        .map_err(|m| errors.add("add_loyalty", m))
        .unwrap_or_default();
    let mut text = |name: &str, errors: &mut FieldErrors| match body.remove(name) {
        Some(Value::String(s)) => Some(s),
        None | Some(Value::Null) => {
            errors.add(name, "is required");
            None
        }
        Some(_) => {
            errors.add(name, "must be a string");
            None
        }
    };
    let email = text("email", &mut errors)
        .and_then(|raw| Email::parse(&raw).map_err(|m| errors.add("email", m)).ok());
    let password = text("password", &mut errors);
    // Seed 000 sends no confirmation; seed-001 clients do, and then it must match.
    let confirm = match body.remove("confirm_password") {
        None => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            errors.add("confirm_password", "must be a string");
            None
        }
    };
    if let (Some(p), Some(c)) = (&password, &confirm)
        && p != c
    {
        errors.add("confirm_password", "must match password");
    }
    let password = password.and_then(|p| {
        rules
            .new_password(&p, email.as_ref())
            .map_err(|m| errors.add("password", m))
            .ok()
    });
    for &name in REQUIRED_PROFILE_FIELDS {
        if matches!(body.get(name), None | Some(Value::Null)) {
            errors.add(name, "is required");
            body.remove(name);
        }
    }
    let today = chrono::Utc::now().date_naive();
    // Empty only when required fields are missing, which is reported already.
    let profile = (!body.is_empty())
        .then(|| {
            ProfilePatch::parse(&body, today, &LocaleCatalog::all())
                .map_err(|e| errors.merge(e))
                .ok()
        })
        .flatten();
    errors.into_result()?;
    let mut profile = profile.expect("no errors means a profile");
    let phone = profile.phone.take().expect("phone is required");
    let code = profile.code.take();
    let resend = std::mem::take(&mut profile.resend);
    Ok(SignUp {
        email: email.expect("no errors means an email"),
        password: password.expect("no errors means a password"),
        phone,
        profile,
        code,
        resend,
        request_id,
        source,
        with_loyalty_card,
    })
}

/// 201: the account as `GET /users/profile` shows it, and the login's tokens (and on
/// the loyalty route, the card).
#[derive(Serialize)]
struct Registered<'a> {
    profile: ProfileBody<'a>,
    #[serde(flatten)]
    tokens: TokenResponse,
    #[serde(skip_serializing_if = "Option::is_none")]
    loyalty_card: Option<Option<CardBody<'a>>>,
}

/// `POST /users/register`: no card, whatever the body says.
pub(crate) async fn register(app: &AccountsApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let body = json_object(req)?;
    if body.contains_key("add_loyalty") {
        return Err(ApiError::field(
            "add_loyalty",
            "is taken by POST /users/register-with-loyalty/ only",
        ));
    }
    sign_up(app, body, req, false).await
}

/// `POST /users/register-with-loyalty/`.
pub(crate) async fn register_with_loyalty(
    app: &AccountsApp,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    if app.loyalty.is_none() {
        return Err(ApiError::loyalty_not_configured());
    }
    sign_up(app, json_object(req)?, req, true).await
}

async fn sign_up(
    app: &AccountsApp,
    body: Map<String, Value>,
    req: &Request,
    loyalty_route: bool,
) -> Result<Response<Body>, ApiError> {
    let request = parse(
        body,
        &app.password_rules,
        request_id(req),
        request_source(req),
    )?;
    crate::screened(&app.screen, &request.password, "password").await?;
    let resend = request.resend;
    let use_case = PhoneSignUp {
        accounts: &app.accounts,
        sms: &app.sms,
        codes: &app.codes,
        tokens: &app.tokens,
        client: &app.client_ids[0],
    };
    match use_case.run(request).await.map_err(refused)? {
        Outcome::CodeSent(sent) if resend => Ok(code_resent(&sent)),
        Outcome::CodeSent(sent) => Ok(code_sent(&sent)),
        Outcome::Registered {
            profile,
            tokens,
            mut card,
        } => {
            if let (Some(card), Some(platform)) = (card.as_mut(), app.loyalty.as_ref()) {
                // The account stands either way: a card the platform did not confirm in
                // time stays pending and the sync consumer finishes it.
                if let Err(e) =
                    usecases::loyalty::activate(platform, &app.cards, &profile, card).await
                {
                    tracing::warn!(error = %e, "loyalty member not created yet; the card stays pending");
                }
            }
            Ok(no_store(json(
                StatusCode::CREATED,
                &Registered {
                    profile: ProfileBody(&profile),
                    tokens: tokens.into(),
                    loyalty_card: loyalty_route
                        .then(|| card.as_ref().map(|c| CardBody::of(c, None))),
                },
            )))
        }
    }
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::EmailTaken => ApiError::field("email", "A user with this email already exists."),
        Refusal::PhoneTaken => ApiError::phone_taken(),
        Refusal::Failed(failure) => api::otp::failed(failure, "number"),
    }
}
