//! What support staff and partner systems do to accounts they manage, in seed 001's
//! style: find an account by its email or number (`GET /api/v1/accounts/users?email=` or
//! `?phone=`), sign it out everywhere (`DELETE /api/v1/accounts/users/{user_id}/sessions`),
//! and disable or enable it (`POST /api/v1/accounts/users/{user_id}/disable|enable`).
//! Who: a user token with `users:admin` (from a trusted issuer) or an API token with
//! `users:read` to find, `users:write` for the rest. Anyone else finds nothing here: a
//! stranger's search answers 403, and every other route the 404 a missing user gets, as
//! on the by-id routes.

use api::fields::Fields;
use api::http::{json, json_object};
use api::{ApiError, Identity, Principal};
use domain::{Actor, DisableReason, Email, FieldErrors, PhoneNumber, Source, UserId};
use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use store::{Destination, EndedBy, Toggled};

use crate::AccountsApp;
use crate::by_id::{ADMIN_SCOPE, READ_SCOPE, WRITE_SCOPE};
use crate::seed::SeedAccount;

#[derive(Serialize)]
struct Found<'a> {
    results: Vec<SeedAccount<'a>>,
}

/// A page of every account, and the cursor of the next (`null` on the last).
#[derive(Serialize)]
struct Listed<'a> {
    results: Vec<SeedAccount<'a>>,
    next: Option<String>,
}

/// Accounts a page when the caller names no limit.
const DEFAULT_PAGE: usize = 20;

/// The source an operator acts as, when `identity` is one: an administrator, or a
/// partner system holding `users:read` (`write` false) or `users:write`.
fn operator(identity: &Identity, write: bool, admin_issuers: &[String]) -> Option<Source> {
    match identity.principal {
        Principal::User(_) if identity.has_trusted_scope(ADMIN_SCOPE, admin_issuers) => {
            Some(Source::Admin)
        }
        Principal::ApiToken { .. }
            if identity
                .scopes
                .contains(if write { WRITE_SCOPE } else { READ_SCOPE }) =>
        {
            Some(Source::Api)
        }
        _ => None,
    }
}

/// What to find by: exactly one of `email` and `phone`, each as its account would hold it;
/// or neither, for a page of every account.
enum Search {
    Email(Email),
    Phone(PhoneNumber),
    Page {
        limit: usize,
        cursor: Option<String>,
    },
}

fn search(req: &Request) -> Result<Search, ApiError> {
    let query = req.query_string_parameters_ref();
    let given = |name: &str| query.and_then(|q| q.first(name)).map(str::to_owned);
    let mut errors = FieldErrors::default();
    let found = match (given("email"), given("phone")) {
        (Some(email), None) => match Email::parse(&email) {
            Ok(email) => Some(Search::Email(email)),
            Err(e) => {
                errors.add("email", e);
                None
            }
        },
        (None, Some(phone)) => match PhoneNumber::parse(&phone) {
            Ok(phone) => Some(Search::Phone(phone)),
            Err(e) => {
                errors.add("phone", e);
                None
            }
        },
        (Some(_), Some(_)) => {
            errors.add("phone", "give email or phone, not both");
            None
        }
        (None, None) => {
            let limit = match given("limit") {
                None => Some(DEFAULT_PAGE),
                Some(raw) => match raw.parse::<usize>() {
                    Ok(n) if (1..=store::MAX_PAGE).contains(&n) => Some(n),
                    _ => {
                        errors.add("limit", format!("1 to {}", store::MAX_PAGE));
                        None
                    }
                },
            };
            limit.map(|limit| Search::Page {
                limit,
                cursor: given("cursor"),
            })
        }
    };
    if found
        .as_ref()
        .is_some_and(|s| !matches!(s, Search::Page { .. }))
        && (given("limit").is_some() || given("cursor").is_some())
    {
        errors.add(
            "limit",
            "a search by email or phone answers one account, not pages",
        );
        return Err(ApiError::validation(errors));
    }
    match found {
        Some(search) => Ok(search),
        None => Err(ApiError::validation(errors)),
    }
}

/// `GET /api/v1/accounts/users?email=|phone=`: the account holding the address or the
/// number, as a list of one, or none. `?limit=&cursor=`: a page of every account,
/// newest first.
pub(crate) async fn find(app: &AccountsApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let identity = Identity::from_request(req)?;
    if operator(&identity, false, &app.admin_issuers).is_none() {
        return Err(ApiError::forbidden(
            "finding accounts takes users:admin, or an API token with users:read",
        ));
    }
    let holder = match search(req)? {
        Search::Email(email) => app.accounts.holder_of(Destination::Email(&email)).await?,
        Search::Phone(phone) => app.accounts.holder_of(Destination::Phone(&phone)).await?,
        Search::Page { limit, cursor } => {
            let page = app
                .profiles
                .page(limit, cursor.as_deref())
                .await?
                .map_err(|message| ApiError::field("cursor", message))?;
            let results = page.profiles.iter().map(SeedAccount::of).collect();
            let listed = Listed {
                results,
                next: page.next,
            };
            return Ok(json(StatusCode::OK, &listed));
        }
    };
    let profile = match holder {
        Some(user) => app.profiles.get(&user).await?,
        None => None,
    };
    let results = profile.iter().map(SeedAccount::of).collect();
    Ok(json(StatusCode::OK, &Found { results }))
}

fn not_found() -> ApiError {
    ApiError::not_found("User not found")
}

/// The account an operator acts on, and who acts; the 404 of a missing user for anyone
/// but an operator who may write.
fn target(app: &AccountsApp, req: &Request) -> Result<(UserId, Actor), ApiError> {
    let identity = Identity::from_request(req)?;
    let source = operator(&identity, true, &app.admin_issuers).ok_or_else(not_found)?;
    let user = req
        .path_parameters_ref()
        .and_then(|p| p.first("user_id"))
        .and_then(|raw| UserId::parse(raw).ok())
        .ok_or_else(not_found)?;
    Ok((user, identity.actor(req, source)))
}

/// `DELETE /api/v1/accounts/users/{user_id}/sessions`: every session of the account
/// ends, on its audit trail as the operator's act.
pub(crate) async fn sign_out(app: &AccountsApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let (user, actor) = target(app, req)?;
    if app.profiles.get(&user).await?.is_none() {
        return Err(not_found());
    }
    let ended = app
        .sessions
        .end_every(&user, EndedBy::Admin, &actor, app.clock.now())
        .await?;
    tracing::info!(user = %user, actor = %actor.actor, ended, "signed out by an operator");
    Ok(crate::sessions::no_content())
}

/// `POST /api/v1/accounts/users/{user_id}/disable` `{"reason"}`: the account can no longer
/// sign in, recover its password or change anything, and every session ends. The user,
/// with `disabled: true`.
pub(crate) async fn disable(app: &AccountsApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let (user, actor) = target(app, req)?;
    let body = json_object(req)?;
    let mut fields = Fields::of(&body, &["reason"]);
    let reason = fields.required("reason", DisableReason::parse);
    fields.finish()?;
    let reason = reason.expect("no errors means a reason");
    let toggled = app
        .accounts
        .disable(&user, &reason, &actor, app.clock.now())
        .await?;
    answer(toggled, &user, &actor, "disabled by an operator")
}

/// `POST /api/v1/accounts/users/{user_id}/enable`: the account signs in again; the sessions
/// the disabling ended stay ended. The user, with `disabled: false`.
pub(crate) async fn enable(app: &AccountsApp, req: &Request) -> Result<Response<Body>, ApiError> {
    let (user, actor) = target(app, req)?;
    let toggled = app.accounts.enable(&user, &actor, app.clock.now()).await?;
    answer(toggled, &user, &actor, "enabled by an operator")
}

fn answer(
    toggled: Toggled,
    user: &UserId,
    actor: &Actor,
    what: &str,
) -> Result<Response<Body>, ApiError> {
    let profile = match toggled {
        Toggled::Changed { profile, ended } => {
            tracing::info!(user = %user, actor = %actor.actor, ended, "{what}");
            profile
        }
        Toggled::Unchanged(profile) => profile,
        Toggled::NotFound => return Err(not_found()),
    };
    Ok(json(StatusCode::OK, &SeedAccount::of(&profile)))
}
