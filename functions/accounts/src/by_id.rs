//! Seed 001's `GET` and `PATCH /api/v1/accounts/users/{user_id}`: an account by id, as
//! a view of the same profile. Who may call is decided before anything is read: the
//! user themself, a user token with `users:admin`, or an API token with `users:read`
//! (GET) / `users:write` (PATCH). Anyone else gets the answer a missing user gets, so
//! ids cannot be probed.
//!
//! A PATCH of `phone` or `email` by the user goes through the code or token sent to it,
//! as on `PATCH /users/profile`;
//! an administrator sets `email` and `phone` directly, with an audit entry. API tokens
//! change the other fields only, as on the partner routes.

use api::http::{json, json_object};
use api::otp::{code_sent, token_sent};
use api::{ApiError, Identity, Principal};
use domain::{Actor, Email, ExpectedVersion, FieldErrors, Profile, ProfilePatch, UserId};
use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Map, Value};
use store::{ContactError, PatchError};
use usecases::profile_update::{self, Outcome, ProfileUpdate, Refusal};
use usecases::{email_change, phone_change};

use crate::AccountsApp;
use crate::seed::{SeedAccount, seed_gender_to_profile};

pub const ADMIN_SCOPE: &str = domain::api_token::USERS_ADMIN_SCOPE;
pub const READ_SCOPE: &str = "users:read";
pub const WRITE_SCOPE: &str = "users:write";

/// Why the caller may reach the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Own,
    Admin,
    Server,
}

/// Who may read (`write` false) or change the account `target`; `None`: nobody here.
/// `admin_issuers`: other identity providers trusted to grant `users:admin`.
pub fn access(
    identity: &Identity,
    target: &UserId,
    write: bool,
    admin_issuers: &[String],
) -> Option<Access> {
    let has = |scope: &str| identity.scopes.contains(scope);
    match &identity.principal {
        Principal::User(me) if me == target => Some(Access::Own),
        Principal::User(_) if identity.has_trusted_scope(ADMIN_SCOPE, admin_issuers) => {
            Some(Access::Admin)
        }
        Principal::User(_) => None,
        Principal::ApiToken { .. } if has(if write { WRITE_SCOPE } else { READ_SCOPE }) => {
            Some(Access::Server)
        }
        Principal::ApiToken { .. } => None,
    }
}

/// Seed 001's answer for a user that is missing or not the caller's to see.
fn not_found() -> ApiError {
    ApiError::not_found("User not found")
}

/// The caller reaching the account `target` with `access`.
struct Admitted {
    identity: Identity,
    target: UserId,
    access: Access,
}

/// The caller and its access, or the 404 that hides the account.
fn admit(app: &AccountsApp, req: &Request, write: bool) -> Result<Admitted, ApiError> {
    let identity = Identity::from_request(req)?;
    let target = req
        .path_parameters_ref()
        .and_then(|p| p.first("user_id"))
        .and_then(|raw| UserId::parse(raw).ok());
    let access = target
        .as_ref()
        .and_then(|target| access(&identity, target, write, &app.admin_issuers));
    match (target, access) {
        (Some(target), Some(access)) => Ok(Admitted {
            identity,
            target,
            access,
        }),
        _ => Err(not_found()),
    }
}

fn view(status: StatusCode, profile: &Profile) -> Response<Body> {
    json(status, &SeedAccount::of(profile))
}

pub(crate) async fn get(app: &AccountsApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let Admitted { target, access, .. } = admit(app, req, false)?;
    let read = match access {
        Access::Own => app.profiles.get_for_holder(&target).await?,
        Access::Admin | Access::Server => app.profiles.get(&target).await?,
    };
    match read {
        Some(profile) => Ok(view(StatusCode::OK, &profile)),
        None => Err(not_found()),
    }
}

/// The fields of seed 001's PATCH, in the profile's names.
struct AccountPatch {
    profile: ProfilePatch,
    email: Option<Email>,
}

const READ_ONLY: &[&str] = &[
    "id",
    "photo",
    "has_initial_profile",
    "created_at",
    "updated_at",
];

fn parse(
    body: Map<String, Value>,
    today: chrono::NaiveDate,
    app: &AccountsApp,
) -> Result<AccountPatch, FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut profile_body = Map::new();
    let mut email = None;
    for (name, value) in body {
        match name.as_str() {
            "email" => match &value {
                Value::String(s) => {
                    email = Email::parse(s).map_err(|m| errors.add("email", m)).ok();
                    // The profile's parser judges `token` and `token_checksum` by whether
                    // an email is sent with them; the address itself is handled here.
                    if email.is_some() {
                        profile_body.insert(name, value);
                    }
                }
                _ => errors.add("email", "Enter a valid email address."),
            },
            "birthday" => {
                profile_body.insert("date_of_birth".into(), value);
            }
            "gender" => {
                let value = match value {
                    Value::String(s) => Value::String(seed_gender_to_profile(&s).to_owned()),
                    other => other,
                };
                profile_body.insert(name, value);
            }
            "first_name" | "last_name" | "country" | "address" | "phone" | "code" | "resend"
            | "token" | "token_checksum" => {
                profile_body.insert(name, value);
            }
            other if READ_ONLY.contains(&other) => errors.add(other, "This field is read-only."),
            other => errors.add(other, "This field is not allowed."),
        }
    }
    let profile = if profile_body.is_empty() {
        if email.is_none() && errors.is_empty() {
            errors.add("body", "name at least one field to change");
        }
        Some(ProfilePatch::default())
    } else {
        match ProfilePatch::parse(&profile_body, today, &app.locales) {
            Ok(mut p) => {
                p.email = None;
                Some(p)
            }
            Err(mut e) => {
                e.rename("date_of_birth", "birthday");
                errors.merge(e);
                None
            }
        }
    };
    errors.into_result()?;
    Ok(AccountPatch {
        profile: profile.expect("no errors means a patch"),
        email,
    })
}

pub(crate) async fn patch(app: &AccountsApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let Admitted {
        identity,
        target,
        access,
    } = admit(app, req, true)?;
    let now = app.clock.now();
    let AccountPatch {
        profile: mut patch,
        email,
    } = parse(json_object(req)?, now.date_naive(), app)?;
    let source = match access {
        Access::Own => domain::Source::Holder,
        Access::Admin => domain::Source::Admin,
        Access::Server => domain::Source::Api,
    };
    let actor = Actor {
        source,
        ..identity.actor(req, source)
    };
    patch.email = email;
    let update = ProfileUpdate {
        profiles: &app.profiles,
        accounts: &app.accounts,
        sms: &app.sms,
        email: &app.email,
        codes: &app.codes,
    };
    let request = profile_update::Request {
        user: &target,
        patch,
        // Without If-Match the only version a write expects is "exists".
        expected: ExpectedVersion::Exists,
        actor: &actor,
    };
    answer(update.run(request).await)
}

/// A profile write's outcome and refusals in seed 001's words: a missing or changed
/// account is the uniform 404, a taken email a field error, a partner's contact change a
/// 403 naming the field; the rest as on every route.
fn answer(result: Result<Outcome, Refusal>) -> Result<Response<Body>, ApiError> {
    const EMAIL_TAKEN: &str = "A user with this email already exists.";
    match result {
        Ok(Outcome::Applied(profile)) => Ok(view(StatusCode::OK, &profile)),
        Ok(Outcome::CodeSent(sent)) => Ok(code_sent(&sent)),
        Ok(Outcome::TokenSent { token, checksum }) => Ok(token_sent(&token, &checksum)),
        Err(
            Refusal::Email(
                email_change::Refusal::NoProfile | email_change::Refusal::VersionConflict,
            )
            | Refusal::Phone(phone_change::Refusal::VersionConflict)
            | Refusal::Contact(ContactError::NotFound)
            | Refusal::Patch(PatchError::VersionConflict | PatchError::NotFound),
        ) => Err(not_found()),
        Err(
            Refusal::Email(email_change::Refusal::EmailTaken)
            | Refusal::Contact(ContactError::EmailTaken),
        ) => Err(ApiError::field("email", EMAIL_TAKEN)),
        Err(Refusal::Contact(ContactError::NoCredential)) => Err(ApiError::field(
            "email",
            "This account signs in through an identity provider, which owns its email.",
        )),
        // A partner system's token may not move a user's contact data: the user proves a
        // new one, or an administrator sets it. Its credential lacks the authority, so 403.
        Err(Refusal::ContactNotAllowed { field: "email" }) => Err(ApiError::forbidden_field(
            "email",
            "An email changes only through a token sent to the new address.",
        )),
        Err(Refusal::ContactNotAllowed { field }) => Err(ApiError::forbidden_field(
            field,
            "A number changes only through a code sent to it.",
        )),
        Err(refusal) => Err(refusal.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn identity(principal: Principal, scopes: &[&str]) -> Identity {
        Identity {
            principal,
            scopes: scopes
                .iter()
                .map(|s| s.to_string())
                .collect::<BTreeSet<_>>(),
            issuer: None,
            session: None,
            auth_time: None,
            acr: None,
        }
    }

    /// What an API Gateway JWT authorizer hands on for another provider's token.
    fn from_jwt_authorizer(iss: &str, scope: &str) -> Identity {
        let context = serde_json::json!({
            "jwt": {"claims": {"sub": "bob", "iss": iss, "scope": scope}, "scopes": null}
        });
        Identity::from_authorizer(&serde_json::from_value(context).unwrap()).unwrap()
    }

    #[test]
    fn only_our_issuer_or_a_trusted_one_grants_users_admin() {
        let ada = UserId::parse("ada").unwrap();
        let idp = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_example";
        let other = from_jwt_authorizer(idp, "openid users:admin");
        assert_eq!(
            access(&other, &ada, false, &[]),
            None,
            "an outside provider's users:admin is not ours to honour"
        );
        assert_eq!(
            access(&other, &ada, true, &["https://elsewhere.example".into()]),
            None
        );
        assert_eq!(
            access(&other, &ada, true, &[idp.into()]),
            Some(Access::Admin),
            "an issuer the deployment names is trusted"
        );
        let own = from_jwt_authorizer(idp, "openid");
        assert_eq!(
            access(&own, &UserId::parse("bob").unwrap(), true, &[]),
            Some(Access::Own)
        );
    }

    #[test]
    fn who_may_reach_an_account() {
        let ada = UserId::parse("ada").unwrap();
        let bob = UserId::parse("bob").unwrap();
        let user = |id: &UserId, scopes| identity(Principal::User(id.clone()), scopes);
        let server = |scopes| {
            identity(
                Principal::ApiToken {
                    token_id: "t".into(),
                },
                scopes,
            )
        };
        assert_eq!(access(&user(&ada, &[]), &ada, true, &[]), Some(Access::Own));
        assert_eq!(access(&user(&bob, &[]), &ada, false, &[]), None);
        assert_eq!(
            access(
                &user(&bob, &["profiles:read", "users:read"]),
                &ada,
                false,
                &[]
            ),
            None,
            "a user token reaches others only as an administrator"
        );
        assert_eq!(
            access(&user(&bob, &[ADMIN_SCOPE]), &ada, true, &[]),
            Some(Access::Admin)
        );
        assert_eq!(
            access(&server(&[READ_SCOPE]), &ada, false, &[]),
            Some(Access::Server)
        );
        assert_eq!(access(&server(&[READ_SCOPE]), &ada, true, &[]), None);
        assert_eq!(
            access(&server(&[ADMIN_SCOPE]), &ada, false, &[]),
            None,
            "users:admin is a user-token grant"
        );
        assert_eq!(
            access(&server(&[WRITE_SCOPE]), &ada, true, &[]),
            Some(Access::Server)
        );
    }
}
