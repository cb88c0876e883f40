//! Seed 000's `POST /users/register`: the body of seed 000's registration (without the
//! loyalty card), a code by SMS first (202), then with the code the account and its
//! tokens (201). Errors are problem details, as on every self-service route.

use api::ApiError;
use api::error::RETRY_AFTER_SECS;
use api::http::{json, json_object, request_id, request_source};
use api::otp::code_sent;
use api::profile_body::ProfileBody;
use domain::password::Password;
use domain::source::RequestSource;
use domain::{Email, FieldErrors, LocaleCatalog, ProfilePatch};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use usecases::phone_signup::{Outcome, PhoneSignUp, Refusal, Request as SignUp};

use crate::{AccountsApp, TokenResponse, no_store};

/// Seed 000 requires these besides `email` and `password`.
const REQUIRED_PROFILE_FIELDS: &[&str] = &["first_name", "last_name", "phone", "date_of_birth"];

fn parse(
    mut body: Map<String, Value>,
    request_id: String,
    source: RequestSource,
) -> Result<SignUp, ApiError> {
    let mut errors = FieldErrors::default();
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
        Password::new(&p, email.as_ref())
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
    })
}

/// 201: the account as `GET /users/profile` shows it, and the login's tokens.
#[derive(Serialize)]
struct Registered<'a> {
    profile: ProfileBody<'a>,
    #[serde(flatten)]
    tokens: TokenResponse,
}

pub(crate) async fn register(app: &AccountsApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let request = parse(json_object(req)?, request_id(req), request_source(req))?;
    let use_case = PhoneSignUp {
        accounts: &app.accounts,
        sms: &app.sms,
        keys: &app.otp_keys,
        tokens: &app.tokens,
        policy: &app.otp_policy,
        clock: &app.clock,
    };
    match use_case.run(request).await.map_err(refused)? {
        Outcome::CodeSent(sent) => Ok(code_sent(&sent)),
        Outcome::Registered { profile, tokens } => Ok(no_store(json(
            StatusCode::CREATED,
            &Registered {
                profile: ProfileBody(&profile),
                tokens: tokens.into(),
            },
        ))),
    }
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::EmailTaken => ApiError::field("email", "A user with this email already exists."),
        Refusal::PhoneTaken => ApiError::phone_taken(),
        Refusal::Code(refusal) => api::otp::refused(refusal, "number"),
        Refusal::DependencyUnavailable(_) => ApiError::unavailable(RETRY_AFTER_SECS),
        Refusal::Store(e) => e.into(),
    }
}
