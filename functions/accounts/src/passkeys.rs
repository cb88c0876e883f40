//! Passkeys: `POST /users/me/passkeys/options` and `POST /users/me/passkeys` register one
//! (a recent login needed: a stolen token must not leave a way back in; an account's
//! first factor is confirmed by a code to its proven email or number),
//! `GET /users/me/passkeys` lists them, `DELETE /users/me/passkeys/{id}` removes one
//! (step-up), and `POST /auth/passkey/options` with `POST /auth/passkey` sign in with one.
//! Without `WebAuthnRpId` the routes answer 501.

use adapters::access_tokens::JwtIssuer;
use adapters::secrets::OtpKeySource;
use api::fields::Fields;
use api::http::{json, json_object, no_store};
use api::{ApiError, Identity};
use domain::Source;
use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use usecases::passkeys::{Options, PasskeyRefusal, Passkeys};
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential, Url, Webauthn};

use crate::AccountsApp;

/// The relying party, from `WEBAUTHN_RP_ID` and `WEBAUTHN_ORIGINS`; no network.
pub(crate) fn relying_party(
    config: &platform::WebAuthnConfig,
) -> Result<Webauthn, platform::ConfigError> {
    let invalid = |reason: String| platform::ConfigError::Invalid {
        name: "WEBAUTHN_ORIGINS",
        reason,
    };
    let origins: Vec<Url> = config
        .origins
        .iter()
        .map(|o| Url::parse(o).map_err(|e| invalid(format!("{o}: {e}"))))
        .collect::<Result<_, _>>()?;
    let mut builder = webauthn_rs::WebauthnBuilder::new(&config.rp_id, &origins[0])
        .map_err(|e| invalid(format!("{}: {e}", config.rp_id)))?
        .rp_name("User Profile Service");
    for origin in &origins[1..] {
        builder = builder.append_allowed_origin(origin);
    }
    builder.build().map_err(|e| invalid(e.to_string()))
}

fn flow(app: &AccountsApp) -> Result<Passkeys<'_, JwtIssuer, OtpKeySource>, ApiError> {
    let webauthn = app.webauthn.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "passkeys_not_configured",
            "this deployment has no WebAuthnRpId: passkeys are off",
        )
    })?;
    Ok(Passkeys {
        mfa: &app.mfa,
        accounts: &app.accounts,
        sessions: &app.sessions,
        tokens: &app.tokens,
        keys: &app.codes.keys,
        webauthn,
        clock: &app.clock,
    })
}

fn options(options: Options) -> Response<Body> {
    let mut body = options.options;
    body["challenge_id"] = Value::from(options.challenge_id);
    no_store(json(StatusCode::OK, &body))
}

/// `{challenge_id, credential}`: the credential in its `toJSON()` form. An object that
/// is no WebAuthn credential is an answer that does not verify (401, naming the field),
/// like one that is.
fn answer<C: DeserializeOwned>(req: &Request) -> Result<(String, C), ApiError> {
    let body = json_object(req)?;
    let mut fields = Fields::of(&body, &["challenge_id", "credential"]);
    let id = fields.required("challenge_id", |raw: &str| {
        match raw.len() == 32 && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            true => Ok(raw.to_owned()),
            false => Err("must be the challenge_id the options answered".to_owned()),
        }
    });
    match body.get("credential") {
        Some(Value::Object(_)) => {}
        Some(_) => fields.refuse(
            "credential",
            "must be the credential's JSON form (PublicKeyCredential.toJSON())",
        ),
        None => fields.refuse("credential", "is required"),
    }
    fields.finish()?;
    let credential = serde_json::from_value::<C>(body["credential"].clone()).map_err(|e| {
        tracing::info!(reason = %e, "not a WebAuthn credential");
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "passkey_not_verified",
            "credential: is not a WebAuthn credential in its JSON form",
        )
    })?;
    Ok((id.expect("no errors means an id"), credential))
}

pub(crate) async fn register_options(
    app: &AccountsApp,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let identity = Identity::from_request(req)?;
    let user = identity.require_user()?;
    let code = crate::mfa::confirmation_code(req)?;
    let passkeys = flow(app)?;
    let profile = match crate::mfa::confirmed_holder(app, &identity, code.as_ref()).await? {
        crate::mfa::Holder::Confirmed(profile) => profile,
        crate::mfa::Holder::CodeSent(answer) => return Ok(answer),
    };
    let name = crate::mfa::holder_name(&profile, user);
    let opened = passkeys
        .registration_options(user, &name)
        .await
        .map_err(refused)?;
    Ok(options(opened))
}

pub(crate) async fn register(app: &AccountsApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let identity = Identity::from_request(req)?;
    let user = identity.require_user()?;
    let (challenge_id, credential) = answer::<RegisterPublicKeyCredential>(req)?;
    let actor = identity.actor(req, Source::Holder);
    let added = flow(app)?
        .register(user, &challenge_id, &credential, &actor)
        .await
        .map_err(refused)?;
    crate::mfa::notify_added(app, user, "A passkey").await;
    Ok(no_store(json(
        StatusCode::CREATED,
        &json!({"id": added.id, "created_at": crate::rfc3339(added.created_at), "last_used_at": null}),
    )))
}

pub(crate) async fn list(app: &AccountsApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let identity = Identity::from_request(req)?;
    let user = identity.require_user()?;
    let listed = flow(app)?.list(user).await.map_err(refused)?;
    let passkeys: Vec<_> = listed
        .into_iter()
        .map(|p| {
            json!({
                "id": p.id,
                "created_at": crate::rfc3339(p.created_at),
                "last_used_at": p.last_used_at.map(crate::rfc3339),
            })
        })
        .collect();
    Ok(no_store(json(
        StatusCode::OK,
        &json!({ "passkeys": passkeys }),
    )))
}

pub(crate) async fn remove(app: &AccountsApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let identity = Identity::from_request(req)?;
    let user = identity.require_user()?;
    let id = req
        .path_parameters_ref()
        .and_then(|p| p.first("passkey_id"))
        .unwrap_or_default()
        .to_owned();
    let passkeys = flow(app)?;
    let well_formed = (1..=344).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(refused(PasskeyRefusal::NotFound));
    }
    crate::mfa::step_up(app, &identity).await?;
    let actor = identity.actor(req, Source::Holder);
    passkeys.remove(user, &id, &actor).await.map_err(refused)?;
    Ok(crate::sessions::no_content())
}

pub(crate) async fn sign_in_options(
    app: &AccountsApp,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let body = json_object(req)?;
    Fields::of(&body, &[]).finish()?;
    let opened = flow(app)?.sign_in_options().await.map_err(refused)?;
    Ok(options(opened))
}

pub(crate) async fn sign_in(app: &AccountsApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let (challenge_id, credential) = answer::<PublicKeyCredential>(req)?;
    let client = crate::oauth::client(app, None).map_err(|e| ApiError::field("client_id", e))?;
    let tokens = flow(app)?
        .sign_in(&challenge_id, &credential, &client)
        .await
        .map_err(refused);
    crate::issued(tokens)
}

fn refused(refusal: PasskeyRefusal) -> ApiError {
    match refusal {
        PasskeyRefusal::NoCeremony => ApiError::new(
            StatusCode::NOT_FOUND,
            "webauthn_ceremony_not_found",
            "no live options with this challenge_id: they expired or were used; ask for new ones",
        ),
        PasskeyRefusal::NotVerified(reason) => {
            tracing::info!(%reason, "passkey refused");
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "passkey_not_verified",
                "the passkey's answer did not verify",
            )
        }
        PasskeyRefusal::Unknown => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "passkey_not_verified",
            "the passkey's answer did not verify",
        ),
        PasskeyRefusal::Exists => ApiError::new(
            StatusCode::CONFLICT,
            "passkey_exists",
            "this passkey is registered already",
        ),
        PasskeyRefusal::TooMany => ApiError::new(
            StatusCode::CONFLICT,
            "too_many_passkeys",
            "the account has 10 passkeys; remove one first",
        ),
        PasskeyRefusal::NotFound => ApiError::new(
            StatusCode::NOT_FOUND,
            "passkey_not_found",
            "the account has no such passkey",
        ),
        PasskeyRefusal::Unavailable(_) => ApiError::unavailable(api::error::RETRY_AFTER_SECS),
        PasskeyRefusal::Store(e) => e.into(),
    }
}
