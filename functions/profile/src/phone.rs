//! PATCH /users/profile with a new `phone` (SPEC §4): without a code (or with
//! `resend: true`) a code goes by SMS to the new number and nothing else is applied;
//! with the right code the whole PATCH applies atomically.

use api::ApiError;
use api::http::json;
use domain::otp::{OtpCode, Purpose, Verdict};
use domain::{ConsentActor, ExpectedVersion, PhoneNumber, ProfilePatch, UserId};
use http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;
use store::{CommitError, PhoneChangeState, RETRY_AFTER_SECS, VerifiedPhoneChange};

use crate::{ProfileApp, apply, check_precondition, profile_response, store_error};

/// Reads and writes the verification may repeat when a concurrent profile write wins.
const COMMIT_ATTEMPTS: usize = 4;

#[derive(Serialize)]
struct CodeSent {
    detail: String,
    expires_in: i64,
    resend_after: i64,
}

pub(crate) async fn change(
    app: &ProfileApp,
    user: &UserId,
    patch: &ProfilePatch,
    phone: &PhoneNumber,
    precondition: ExpectedVersion,
    actor: &ConsentActor,
) -> Result<Response<Body>, ApiError> {
    for _ in 0..COMMIT_ATTEMPTS {
        let state = app.profiles.load_phone_change(user, phone).await?;
        check_precondition(precondition, state.profile.as_ref())?;
        if let Some(current) = &state.profile
            && patch.code.is_none()
            && !patch.resend
            && current.phone_verified
            && current.phone.as_deref() == Some(phone.e164())
        {
            // The verified number again and no code: nothing to verify; apply the rest.
            let rest = ProfilePatch {
                phone: None,
                code: None,
                resend: false,
                ..patch.clone()
            };
            if rest.changes_profile_fields() {
                return apply(app, user, &rest, precondition, actor).await;
            }
            return Ok(profile_response(current));
        }
        if state
            .owner
            .as_deref()
            .is_some_and(|owner| owner != user.as_str())
        {
            return Err(ApiError::phone_taken());
        }
        let code = match &patch.code {
            Some(code) if !patch.resend => code,
            _ => return send_code(app, user, phone, &state).await,
        };
        match verify(
            app,
            user,
            VerifiedPhoneChange {
                phone,
                patch,
                actor,
                max_attempts: app.otp_policy.max_attempts,
            },
            code,
            &state,
        )
        .await
        {
            Err(Retry) => continue,
            Ok(response) => return response,
        }
    }
    Err(ApiError::unavailable(RETRY_AFTER_SECS))
}

/// The profile changed between read and commit; read again.
struct Retry;

async fn send_code(
    app: &ProfileApp,
    user: &UserId,
    phone: &PhoneNumber,
    state: &PhoneChangeState,
) -> Result<Response<Body>, ApiError> {
    let policy = &app.otp_policy;
    let now = app.clock.now().timestamp();
    policy
        .check_send(
            now,
            state.challenge.as_ref(),
            state.sends_to_number.as_ref(),
        )
        .map_err(|limited| {
            ApiError::rate_limited(
                limited.retry_after_secs.max(1) as u64,
                "too many codes requested; wait before asking again",
            )
        })?;
    let key = app.otp_keys.key().await.map_err(|e| {
        tracing::warn!(error = %e, "OTP key unavailable");
        ApiError::unavailable(RETRY_AFTER_SECS)
    })?;
    let code = OtpCode::generate();
    let digest = key.digest(Purpose::PhoneChange, user, phone.e164(), &code);
    let challenge = policy.issue(now, state.challenge.as_ref(), phone.e164(), digest);
    let log = policy.log_send(now, state.sends_to_number.as_ref());
    if !app
        .profiles
        .reserve_code(user, phone, state, &challenge, &log, now)
        .await?
    {
        return Err(ApiError::rate_limited(
            policy.resend_cooldown_secs.max(1) as u64,
            "a code was just sent; wait before asking again",
        ));
    }
    if app
        .sms
        .send_code(phone, &code, policy.lifetime_secs)
        .await
        .is_err()
    {
        if let Err(e) = app
            .profiles
            .release_code(user, phone, state, &challenge, &log)
            .await
        {
            tracing::warn!(error = %e, "could not release the unsent code's cooldown");
        }
        return Err(ApiError::unavailable(RETRY_AFTER_SECS));
    }
    tracing::info!(to = %phone, "verification code sent");
    Ok(json(
        StatusCode::ACCEPTED,
        &CodeSent {
            detail: format!("A verification code was sent to {}.", phone.masked()),
            expires_in: policy.lifetime_secs,
            resend_after: policy.resend_cooldown_secs,
        },
    ))
}

async fn verify(
    app: &ProfileApp,
    user: &UserId,
    change: VerifiedPhoneChange<'_>,
    code: &OtpCode,
    state: &PhoneChangeState,
) -> Result<Result<Response<Body>, ApiError>, Retry> {
    let phone = change.phone;
    let policy = &app.otp_policy;
    let now = app.clock.now();
    let key = match app.otp_keys.key().await {
        Ok(key) => key,
        Err(e) => {
            tracing::warn!(error = %e, "OTP key unavailable");
            return Ok(Err(ApiError::unavailable(RETRY_AFTER_SECS)));
        }
    };
    let verdict = policy.judge(
        now.timestamp(),
        state.challenge.as_ref(),
        phone.e164(),
        |digest| key.matches(Purpose::PhoneChange, user, phone.e164(), code, digest),
    );
    let expired = || {
        ApiError::otp_refused(
            "otp_expired",
            "no live code for this number; request a new one",
        )
    };
    let exhausted = || {
        ApiError::otp_refused(
            "otp_attempts_exceeded",
            "too many wrong codes; request a new one",
        )
    };
    let digest = state
        .challenge
        .as_ref()
        .and_then(|c| c.digest.clone())
        .unwrap_or_default();
    match verdict {
        Verdict::NoLiveCode => Ok(Err(expired())),
        Verdict::Exhausted => Ok(Err(exhausted())),
        Verdict::Wrong => Ok(match app.profiles.record_wrong_code(user, &digest).await {
            Err(e) => Err(e.into()),
            Ok(None) => Err(expired()),
            Ok(Some(attempts)) if attempts >= policy.max_attempts => Err(exhausted()),
            Ok(Some(attempts)) => Err(ApiError::otp_refused(
                "otp_invalid",
                format!("wrong code; {} tries left", policy.max_attempts - attempts),
            )),
        }),
        Verdict::Right => match app
            .profiles
            .commit_phone_change(user, state, &change, now)
            .await
        {
            Ok(next) => {
                tracing::info!(phone = %phone, "phone verified");
                Ok(Ok(profile_response(&next)))
            }
            Err(CommitError::TooManyAttributes) => {
                Ok(Err(store_error(store::PatchError::TooManyAttributes)))
            }
            Err(CommitError::PhoneTaken) => Ok(Err(ApiError::phone_taken())),
            Err(CommitError::CodeGone) => Ok(Err(expired())),
            Err(CommitError::ProfileChanged) => Err(Retry),
            Err(CommitError::Store(e)) => Ok(Err(e.into())),
        },
    }
}
