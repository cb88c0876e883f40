//! The second factor: `GET /users/me/mfa` lists it, `POST /users/me/mfa/totp` starts an
//! authenticator app (the secret shown once; an account's first factor is confirmed
//! there first, by a code to its proven email or number), `POST /users/me/mfa/totp/verify`
//! proves it with a first code and hands out the recovery codes,
//! `POST /users/me/mfa/recovery-codes` replaces them, `DELETE /users/me/mfa/{factor_id}` removes it, and
//! `POST /auth/mfa/verify` finishes a login's second step. Setting up, replacing and
//! removing need a recent login (`Identity::require_step_up`): a stolen token alone can
//! neither lock the holder out behind a factor nor take theirs away.

use adapters::access_tokens::JwtIssuer;
use adapters::secrets::OtpKeySource;
use api::fields::Fields;
use api::http::{json, json_object, no_store};
use api::{ApiError, Identity, otp};
use domain::mfa::{SecondFactorCode, is_factor_id};
use domain::otp::OtpCode;
use domain::{Profile, Source};
use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;
use usecases::factor_confirmation::{
    Confirmed, FactorConfirmation, Refusal as ConfirmationRefusal,
};
use usecases::mfa::{MfaFlow, MfaRefusal};

use crate::AccountsApp;

fn flow(app: &AccountsApp) -> MfaFlow<'_, JwtIssuer, OtpKeySource> {
    MfaFlow {
        mfa: &app.mfa,
        tokens: &app.tokens,
        keys: &app.codes.keys,
        clock: &app.clock,
    }
}

/// Tells the account's proven email that a second factor was added (`what`): a thief
/// who added one of theirs is then no secret. A failure is logged; the change stands.
pub(crate) async fn notify_added(app: &AccountsApp, user: &domain::UserId, what: &str) {
    use domain::ports::EmailSender;
    let account = match app.accounts.password_account_of(user).await {
        Ok(account) => account,
        Err(e) => {
            tracing::warn!(error = %e, "the new-factor notice was not sent");
            return;
        }
    };
    let Some(address) = account.as_ref().and_then(|a| a.proven_email()) else {
        return;
    };
    let text = format!(
        "{what} was just added to your account: it can now be used to sign in. If this was \
         not you, reset your password now and ask support to remove it."
    );
    if let Err(e) = app
        .email
        .send(address, "A sign-in method was added to your account", &text)
        .await
    {
        tracing::warn!(error = %e, "the new-factor notice was not sent");
    }
}

pub(crate) async fn step_up(app: &AccountsApp, identity: &Identity) -> Result<(), ApiError> {
    let now = app.clock.now().timestamp();
    identity
        .require_step_up(&app.mfa, now, app.step_up_max_age_secs)
        .await
}

pub(crate) async fn list(app: &AccountsApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let identity = Identity::from_request(req)?;
    let user = identity.require_user()?;
    let profile = app.profiles.get_for_holder(user).await?;
    profile.ok_or_else(|| ApiError::not_found("the account does not exist"))?;
    let factor = app.mfa.totp(user).await?.filter(|f| f.active);
    let factors: Vec<_> = factor
        .iter()
        .map(|f| json!({"id": f.id, "type": "totp", "created_at": crate::rfc3339(f.created_at)}))
        .collect();
    let left = factor.map(|f| f.recovery_left).unwrap_or_default();
    Ok(no_store(json(
        StatusCode::OK,
        &json!({ "factors": factors, "recovery_codes_left": left }),
    )))
}

pub(crate) async fn enroll(app: &AccountsApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let identity = Identity::from_request(req)?;
    let user = identity.require_user()?;
    let code = confirmation_code(req)?;
    let profile = match confirmed_holder(app, &identity, code.as_ref()).await? {
        Holder::Confirmed(profile) => profile,
        Holder::CodeSent(answer) => return Ok(answer),
    };
    let label = holder_name(&profile, user);
    let issuer = issuer_name(&app.issuer);
    let enrolment = flow(app)
        .enroll(user, &issuer, &label)
        .await
        .map_err(refused)?;
    Ok(no_store(json(
        StatusCode::OK,
        &json!({
            "factor_id": enrolment.factor_id,
            "secret": enrolment.secret,
            "otpauth_uri": enrolment.otpauth_uri,
            "qr_svg": enrolment.qr_svg,
        }),
    )))
}

/// The body of a request that sets up a factor: nothing, or the `code` sent to confirm
/// the account's first one.
pub(crate) fn confirmation_code(req: &Request) -> Result<Option<OtpCode>, ApiError> {
    let body = json_object(req)?;
    let mut fields = Fields::of(&body, &["code"]);
    let code = fields.optional("code", |raw| {
        OtpCode::parse(raw).map_err(|_| "must be the 6-digit code sent to confirm".to_owned())
    });
    fields.finish()?;
    Ok(code)
}

/// The holder's profile, or the answer that a code went out first.
pub(crate) enum Holder {
    Confirmed(Profile),
    CodeSent(Response<Body>),
}

/// The holder's profile (404 without one) once the set-up of a factor is confirmed: a
/// recent login (with the factor, where there is one) and, for an account's first
/// factor, a code from its proven email or number (`usecases::factor_confirmation`);
/// without `code` one is sent (202). Both are judged on one read of the account's
/// factors.
pub(crate) async fn confirmed_holder(
    app: &AccountsApp,
    identity: &Identity,
    code: Option<&OtpCode>,
) -> Result<Holder, ApiError> {
    let user = identity.require_user()?;
    let has_factor = app.mfa.has_factor(user).await?;
    let now = app.clock.now().timestamp();
    identity.require_recent(now, app.step_up_max_age_secs, has_factor)?;
    let profile = app.profiles.get_for_holder(user).await?;
    let profile = profile.ok_or_else(|| ApiError::not_found("the account does not exist"))?;
    let confirmation = FactorConfirmation {
        accounts: &app.accounts,
        sms: &app.sms,
        email: &app.email,
        codes: &app.codes,
    };
    match confirmation.confirm(user, &profile, has_factor, code).await {
        Ok(Confirmed::Yes) => Ok(Holder::Confirmed(profile)),
        Ok(Confirmed::CodeSent(sent)) => Ok(Holder::CodeSent(otp::code_sent(&sent))),
        Err(ConfirmationRefusal::NumberTooRecent) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "number_too_recent",
            "the account's number was changed less than a day ago; a first factor is \
             confirmed from a number the account has held for a day, or from a proven email",
        )),
        Err(ConfirmationRefusal::Failed(failure)) => Err(otp::failed(failure, "address")),
    }
}

/// What an authenticator app or a passkey lists the account as: its email, else its
/// number, else its id.
pub(crate) fn holder_name(profile: &Profile, user: &domain::UserId) -> String {
    profile
        .email
        .as_ref()
        .map(ToString::to_string)
        .or(profile.phone.as_ref().map(ToString::to_string))
        .unwrap_or_else(|| user.to_string())
}

/// The name apps show beside the code: the token issuer's host.
fn issuer_name(issuer: &str) -> String {
    let host = issuer
        .split("://")
        .nth(1)
        .unwrap_or(issuer)
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    match host {
        "" => "User Profile Service".to_owned(),
        host => host.to_owned(),
    }
}

pub(crate) async fn confirm(app: &AccountsApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let identity = Identity::from_request(req)?;
    let user = identity.require_user()?;
    let body = json_object(req)?;
    let mut fields = Fields::of(&body, &["factor_id", "code"]);
    let factor_id = fields.required("factor_id", factor_id);
    let code = fields.required("code", six_digits);
    fields.finish()?;
    let (factor_id, code) = (
        factor_id.expect("no errors means a factor"),
        code.expect("no errors means a code"),
    );
    let actor = identity.actor(req, Source::Holder);
    let codes = flow(app)
        .confirm(user, &factor_id, &code, &actor)
        .await
        .map_err(refused)?;
    notify_added(app, user, "An authenticator app").await;
    Ok(no_store(json(
        StatusCode::OK,
        &json!({ "recovery_codes": codes }),
    )))
}

pub(crate) async fn recovery_codes(
    app: &AccountsApp,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let identity = Identity::from_request(req)?;
    let user = identity.require_user()?;
    let body = json_object(req)?;
    Fields::of(&body, &[]).finish()?;
    step_up(app, &identity).await?;
    let actor = identity.actor(req, Source::Holder);
    let codes = flow(app)
        .new_recovery_codes(user, &actor)
        .await
        .map_err(refused)?;
    Ok(no_store(json(
        StatusCode::OK,
        &json!({ "recovery_codes": codes }),
    )))
}

pub(crate) async fn remove(app: &AccountsApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let identity = Identity::from_request(req)?;
    let user = identity.require_user()?;
    let raw = req
        .path_parameters_ref()
        .and_then(|p| p.first("factor_id"))
        .unwrap_or_default()
        .to_owned();
    if !is_factor_id(&raw) {
        return Err(refused(MfaRefusal::NoFactor));
    }
    step_up(app, &identity).await?;
    let actor = identity.actor(req, Source::Holder);
    flow(app)
        .remove(user, &raw, &actor)
        .await
        .map_err(refused)?;
    Ok(crate::sessions::no_content())
}

/// `POST /auth/mfa/verify {mfa_token, code}`: a login's second step.
pub(crate) async fn finish_login(
    app: &AccountsApp,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let body = json_object(req)?;
    let mut fields = Fields::of(&body, &["mfa_token", "code"]);
    // Any string of the documented length; one that is no live step is a 401.
    let token = fields.required("mfa_token", |raw: &str| match raw.chars().count() {
        1..=128 => Ok(raw.to_owned()),
        _ => Err("must be the mfa_token the login answered".to_owned()),
    });
    let code = fields.required("code", SecondFactorCode::parse);
    fields.finish()?;
    let (token, code) = (
        token.expect("no errors means a token"),
        code.expect("no errors means a code"),
    );
    crate::issued(flow(app).finish_login(&token, &code).await.map_err(refused))
}

fn factor_id(raw: &str) -> Result<String, String> {
    match is_factor_id(raw) {
        true => Ok(raw.to_owned()),
        false => Err("must be the factor_id the set-up answered".into()),
    }
}

fn six_digits(raw: &str) -> Result<String, String> {
    match raw.len() == 6 && raw.bytes().all(|b| b.is_ascii_digit()) {
        true => Ok(raw.to_owned()),
        false => Err("must be the 6 digits the authenticator app shows".into()),
    }
}

fn refused(refusal: MfaRefusal) -> ApiError {
    match refusal {
        MfaRefusal::Invalid { tries_left } => ApiError::otp_invalid(tries_left),
        MfaRefusal::AttemptsExceeded => {
            ApiError::otp_refused("otp_attempts_exceeded", "too many wrong codes; start again")
        }
        MfaRefusal::Limited { retry_after_secs } => ApiError::rate_limited(
            retry_after_secs.max(1) as u64,
            "too many second-step codes for this account this hour; wait before trying again",
        ),
        MfaRefusal::NoFactor => ApiError::new(
            StatusCode::NOT_FOUND,
            "mfa_factor_not_found",
            "the account has no such factor, or its set-up is over; start again",
        ),
        MfaRefusal::AlreadyEnrolled => ApiError::new(
            StatusCode::CONFLICT,
            "mfa_factor_exists",
            "an authenticator app is set up already; remove it first",
        ),
        MfaRefusal::StepGone => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_mfa_token",
            "the second step is over or not valid; log in again",
        ),
        MfaRefusal::Unavailable(_) => ApiError::unavailable(api::error::RETRY_AFTER_SECS),
        MfaRefusal::Store(e) => e.into(),
    }
}
