//! The server-to-server envelope of the partner API:
//! `{"result_code", "result_msg", "result_data"}`, batches of at most 20 users, and
//! per-user failures grouped by code.

use std::collections::{HashMap, HashSet};

use http::{StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::identity::Identity;
use domain::UserId;
use store::StoreError;

pub const MAX_USERS: usize = 20;
pub const MAX_PROPERTIES: usize = 50;

pub const OK: u16 = 2000;
pub const MALFORMED: u16 = 4000;
pub const FORBIDDEN: u16 = 4001;
pub const TOO_MANY_USERS: u16 = 4002;
pub const INVALID_PARAMETER: u16 = 4003;
pub const USER_NOT_FOUND: u16 = 4004;
pub const INVALID_PROPERTY: u16 = 4005;
/// Not in the reference API, which documents no unknown route.
pub const ROUTE_NOT_FOUND: u16 = 4040;
pub const INTERNAL: u16 = 5000;
pub const BUSY: u16 = 5003;

#[derive(Serialize)]
struct Envelope<T: Serialize> {
    result_code: u16,
    result_msg: Option<String>,
    result_data: Option<T>,
}

fn envelope<T: Serialize>(
    status: StatusCode,
    code: u16,
    msg: Option<String>,
    data: Option<T>,
) -> Response<Body> {
    let body = serde_json::to_vec(&Envelope {
        result_code: code,
        result_msg: msg,
        result_data: data,
    })
    .expect("envelopes serialize");
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("valid response parts")
}

/// A request-level refusal (`result_code` 4003): nothing was applied.
pub fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, INVALID_PARAMETER_CODE, msg)
}

pub fn too_many_users() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        TOO_MANY_USERS_CODE,
        "Too many user ids in request.",
    )
}

const INVALID_PARAMETER_CODE: &str = "invalid_parameter";
const TOO_MANY_USERS_CODE: &str = "too_many_users";

/// Any refusal in the envelope: its status, the partner code of its kind, its detail.
pub(crate) fn refused(error: ApiError) -> Response<Body> {
    let status = error.status();
    let (code, msg) = match error.code() {
        INVALID_PARAMETER_CODE => (INVALID_PARAMETER, error.detail()),
        TOO_MANY_USERS_CODE => (TOO_MANY_USERS, error.detail()),
        "route_not_found" => (ROUTE_NOT_FOUND, "No such route."),
        "malformed_body" | "payload_too_large" => (MALFORMED, "Malformed request body."),
        _ if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
            (FORBIDDEN, error.detail())
        }
        _ if status.is_client_error() => (MALFORMED, error.detail()),
        _ => (INTERNAL, error.detail()),
    };
    let mut response = envelope::<()>(status, code, Some(msg.to_owned()), None);
    if let Some(secs) = error.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, http::HeaderValue::from(secs));
    }
    response
}

pub fn ok<T: Serialize>(data: T) -> Response<Body> {
    envelope(StatusCode::OK, OK, None, Some(data))
}

/// The caller must be an API token holding `scope`.
pub fn authorize(req: &Request, scope: &str) -> Result<Identity, ApiError> {
    let identity = Identity::from_request(req)?;
    identity.require_server_scope(scope)?;
    Ok(identity)
}

/// A list of 1..=20 distinct, valid user ids.
pub fn user_ids(value: Option<&Value>, field: &str) -> Result<Vec<UserId>, ApiError> {
    let ids = batch(value, field, "a list of user ids")?
        .iter()
        .map(|v| {
            v.as_str()
                .and_then(|s| UserId::parse(s).ok())
                .ok_or_else(|| invalid(format!("{field} holds an invalid user id: {v}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    distinct(&ids)?;
    Ok(ids)
}

/// The list under `field` of a batch: 1..=20 entries.
fn batch<'a>(value: Option<&'a Value>, field: &str, what: &str) -> Result<&'a [Value], ApiError> {
    let list = value
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(format!("{field} must be {what}.")))?;
    if list.is_empty() {
        return Err(invalid(format!("{field} must not be empty.")));
    }
    if list.len() > MAX_USERS {
        return Err(too_many_users());
    }
    Ok(list)
}

pub fn distinct(ids: &[UserId]) -> Result<(), ApiError> {
    let mut seen = HashSet::new();
    match ids.iter().find(|id| !seen.insert(*id)) {
        Some(dup) => Err(invalid(format!("Duplicated user id: {dup}."))),
        None => Ok(()),
    }
}

/// A list of distinct property names.
pub fn names(value: Option<&Value>, field: &str) -> Result<Vec<String>, ApiError> {
    let list = value
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(format!("{field} must be a list of names.")))?;
    let names = list
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| invalid(format!("{field} holds a non-string: {v}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if names.is_empty() {
        return Err(invalid(format!("{field} must not be empty.")));
    }
    let mut seen = std::collections::BTreeSet::new();
    if let Some(twice) = names.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(invalid(format!("{field} names {twice} more than once.")));
    }
    Ok(names)
}

/// One user of a batch update and the properties sent for them.
pub type UserEntry = (UserId, Map<String, Value>);

/// `[{user_id, properties}]` under `field`: 1..=20 entries, distinct users.
pub fn user_entries(body: &Map<String, Value>, field: &str) -> Result<Vec<UserEntry>, ApiError> {
    let entries = batch(body.get(field), field, "a list")?
        .iter()
        .map(|entry| {
            let user = entry
                .get("user_id")
                .and_then(Value::as_str)
                .and_then(|s| UserId::parse(s).ok())
                .ok_or_else(|| invalid(format!("Every {field} entry needs a valid user_id.")))?;
            let properties = entry
                .get("properties")
                .and_then(Value::as_object)
                .cloned()
                .ok_or_else(|| invalid(format!("properties of {user} must be an object.")))?;
            Ok((user, properties))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let ids: Vec<UserId> = entries.iter().map(|(u, _)| u.clone()).collect();
    distinct(&ids)?;
    Ok(entries)
}

/// Why one user of a batch was not served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFailure {
    pub code: u16,
    pub msg: String,
}

impl UserFailure {
    pub fn not_found() -> Self {
        Self {
            code: USER_NOT_FOUND,
            msg: "User not found.".into(),
        }
    }

    pub fn invalid_property(msg: impl Into<String>) -> Self {
        Self {
            code: INVALID_PROPERTY,
            msg: msg.into(),
        }
    }
}

impl From<StoreError> for UserFailure {
    fn from(e: StoreError) -> Self {
        match e {
            // An erased user is no user to a partner, nor is a disabled one.
            StoreError::Erased | StoreError::Disabled => Self::not_found(),
            StoreError::Unavailable(reason) => {
                tracing::warn!(%reason, "partner batch: user deferred");
                Self {
                    code: BUSY,
                    msg: "The server was too busy to handle it. Please try again later.".into(),
                }
            }
            StoreError::Failed(reason) => {
                tracing::error!(%reason, "partner batch: user failed");
                Self {
                    code: INTERNAL,
                    msg: "Internal error.".into(),
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureDetail {
    pub code: u16,
    pub msg: String,
    pub user_ids: Vec<String>,
}

/// Failures grouped by code and message, in the order users were given.
pub fn group_failures<'a>(
    failures: impl IntoIterator<Item = (&'a UserId, UserFailure)>,
) -> Vec<FailureDetail> {
    let mut groups: Vec<FailureDetail> = Vec::new();
    for (user, failure) in failures {
        match groups
            .iter_mut()
            .find(|g| g.code == failure.code && g.msg == failure.msg)
        {
            Some(group) => group.user_ids.push(user.to_string()),
            None => groups.push(FailureDetail {
                code: failure.code,
                msg: failure.msg,
                user_ids: vec![user.to_string()],
            }),
        }
    }
    groups
}

/// Runs `work` for every user at once (at most 20): a batch takes about one call's
/// latency, not twenty. Results keep the order users were given in.
pub async fn for_each_user<T, F, Fut>(
    entries: Vec<(UserId, T)>,
    work: F,
) -> Vec<(UserId, Result<(), UserFailure>)>
where
    F: Fn(UserId, T) -> Fut,
    Fut: Future<Output = Result<(), UserFailure>>,
{
    use futures_util::StreamExt;
    futures_util::stream::iter(entries)
        .map(|(user, item)| {
            let done = work(user.clone(), item);
            async move { (user, done.await) }
        })
        .buffered(MAX_USERS)
        .collect()
        .await
}

/// A batch view over one read of every user's record: users whose record `view` turns
/// into an entry succeed, the rest fail with 4004; a failed read fails them all alike.
pub fn batch_view<R, T>(
    users: &[UserId],
    read: Result<HashMap<UserId, R>, StoreError>,
    view: impl Fn(&UserId, &R) -> Option<T>,
) -> (Vec<T>, Vec<FailureDetail>) {
    let records = match read {
        Ok(records) => records,
        Err(e) => {
            let failure = UserFailure::from(e);
            return (
                Vec::new(),
                group_failures(users.iter().map(|u| (u, failure.clone()))),
            );
        }
    };
    let mut successful = Vec::new();
    let mut missing = Vec::new();
    for user in users {
        match records.get(user).and_then(|record| view(user, record)) {
            Some(entry) => successful.push(entry),
            None => missing.push((user, UserFailure::not_found())),
        }
    }
    (successful, group_failures(missing))
}

/// `successful_user_ids` + `failure_details` (`null` when none, as the reference does).
#[derive(Debug, Serialize)]
pub struct UpdateResult {
    pub successful_user_ids: Vec<String>,
    pub failure_details: Option<Vec<FailureDetail>>,
}

impl UpdateResult {
    pub fn from_outcomes(outcomes: &[(UserId, Result<(), UserFailure>)]) -> Self {
        let successful_user_ids = outcomes
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(u, _)| u.to_string())
            .collect();
        let failures = group_failures(
            outcomes
                .iter()
                .filter_map(|(u, r)| r.clone().err().map(|f| (u, f))),
        );
        Self {
            successful_user_ids,
            failure_details: (!failures.is_empty()).then_some(failures),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    #[test]
    fn user_id_lists() {
        assert_eq!(
            user_ids(Some(&json!(["a", "b"])), "user_ids")
                .unwrap()
                .len(),
            2
        );
        let many: Vec<String> = (0..21).map(|i| format!("u{i}")).collect();
        assert_eq!(
            user_ids(Some(&json!(many)), "user_ids").unwrap_err().code(),
            TOO_MANY_USERS_CODE
        );
        for bad in [
            json!([]),
            json!("a"),
            json!(["a", "a"]),
            json!([1]),
            json!([""]),
        ] {
            assert_eq!(
                user_ids(Some(&bad), "user_ids").unwrap_err().code(),
                INVALID_PARAMETER_CODE,
                "{bad}"
            );
        }
        assert_eq!(
            user_ids(None, "user_ids").unwrap_err().code(),
            INVALID_PARAMETER_CODE
        );
    }

    #[test]
    fn failures_group_by_code_and_message() {
        let (a, b, c) = (id("a"), id("b"), id("c"));
        let groups = group_failures([
            (&a, UserFailure::not_found()),
            (&b, UserFailure::invalid_property("x")),
            (&c, UserFailure::not_found()),
        ]);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].user_ids, ["a", "c"]);
    }
}
