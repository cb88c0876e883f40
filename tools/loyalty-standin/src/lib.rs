//! A stand-in for the part of Open Loyalty's member API the loyalty adapter uses, for
//! `make dev` and the tests (https://help.openloyalty.io/api-reference/member):
//!
//! - `POST /api/{storeCode}/member` `{"customer": {...}}` → `{"customerId", "email"}`;
//!   a `loyaltyCardNumber` already held → 400 naming it, as the platform's validation does
//! - `GET /api/{storeCode}/member?loyaltyCardNumber=N` → `{"items": [...], "total"}`
//! - `GET` / `PUT /api/{storeCode}/member/{customerId}`
//! - `GET /api/{storeCode}/member/{customerId}/status` → points and tier
//! - `POST /api/{storeCode}/member/{customerId}/anonymize` → personal data blanked
//!
//! every one behind the `X-AUTH-TOKEN` header (an API key, as the platform's admin API
//! keys are used). Beside them, always answering whatever fault is set:
//!
//! - `GET /_standin/members` → every member held (`customerId`, `loyaltyCardNumber`,
//!   `firstName`, `lastName`, `phone`, `birthDate`, `externalId`: our user id, from the
//!   member's `externalId` label), and the agreements and email
//! - `POST /_standin/fault?mode=down|slow|error|reject[&member=<our user id>]`: `down`
//!   answers 503, `slow` answers after 10 s, `error` 500, `reject` 400 naming a field;
//!   `DELETE /_standin/fault` heals.
//!
//! The same server answers Pwned Passwords' range API, `GET /range/{prefix}` (`pwned`),
//! for the breached-password check; `GET /_standin/ranges` lists the paths it was asked.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};

pub mod pwned;

/// How long `slow` waits before answering.
pub const SLOW: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultMode {
    Down,
    Slow,
    Error,
    Reject,
}

#[derive(Debug, Clone)]
struct Fault {
    mode: FaultMode,
    /// Our user id (the member's `externalId`); `None`: every request.
    member: Option<String>,
}

#[derive(Default)]
struct State {
    /// By `customerId`, in creation order of their ids.
    members: BTreeMap<String, Map<String, Value>>,
    fault: Option<Fault>,
    next_id: u64,
    /// The range API's requests, as paths.
    ranges: Vec<String>,
}

/// The platform's configuration: its store code and the API key it accepts.
#[derive(Clone)]
pub struct StandIn {
    pub store_code: String,
    pub api_key: String,
    state: Arc<Mutex<State>>,
}

impl StandIn {
    pub fn new(store_code: &str, api_key: &str) -> Self {
        Self {
            store_code: store_code.to_owned(),
            api_key: api_key.to_owned(),
            state: Arc::default(),
        }
    }

    /// Serves on `listener` until the process ends.
    pub async fn serve(self, listener: tokio::net::TcpListener) {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let standin = self.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let standin = standin.clone();
                    async move { Ok::<_, Infallible>(standin.answer(req).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    /// Binds `addr` and serves from a thread and runtime of its own, so a caller that
    /// blocks (a test reading `/_standin/members`) cannot stall it: the bound address.
    pub fn spawn(self, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let bound = listener.local_addr()?;
        std::thread::Builder::new()
            .name("loyalty-standin".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the stand-in");
                runtime.block_on(async move {
                    if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                        self.serve(listener).await;
                    }
                });
            })?;
        Ok(bound)
    }

    async fn answer(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let path = parts.uri.path().to_owned();
        let query = parts.uri.query().unwrap_or_default().to_owned();
        if let Some(control) = path.strip_prefix("/_standin/") {
            return self.control(&parts.method, control, &query);
        }
        if let Some(prefix) = path.strip_prefix("/range/") {
            self.state.lock().unwrap().ranges.push(path.clone());
            let padding = parts
                .headers
                .get("add-padding")
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
            return match pwned::range(prefix, padding) {
                Some(text) => Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "text/plain")
                    .body(Full::new(Bytes::from(text)))
                    .expect("valid response parts"),
                None => problem(
                    StatusCode::BAD_REQUEST,
                    "The hash prefix was not in a valid format",
                ),
            };
        }
        let Some(rest) = path
            .strip_prefix("/api/")
            .and_then(|p| p.strip_prefix(self.store_code.as_str()))
            .and_then(|p| p.strip_prefix("/member"))
        else {
            return problem(StatusCode::NOT_FOUND, "No route found");
        };
        let authorized = parts
            .headers
            .get("x-auth-token")
            .is_some_and(|v| v.as_bytes() == self.api_key.as_bytes());
        if !authorized {
            return problem(StatusCode::UNAUTHORIZED, "Invalid credentials.");
        }
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let target = self.target_of(rest, &body);
        if let Some(answer) = self.injected(target.as_deref()).await {
            return answer;
        }
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        match (&parts.method, segments.as_slice()) {
            (&Method::POST, []) => self.create(&body),
            (&Method::GET, []) => self.find(&query),
            (&Method::GET, [id]) => self.member(id, |m| Value::Object(m.clone())),
            (&Method::PUT, [id]) => self.update(id, &body),
            (&Method::POST, [id, "anonymize"]) => self.anonymize(id),
            (&Method::GET, [id, "status"]) => self.member(id, |m| {
                json!({
                    "customerId": m["customerId"], "firstName": m["firstName"],
                    "lastName": m["lastName"], "loyaltyCardNumber": m["loyaltyCardNumber"],
                    "activePoints": m.get("activePoints").cloned().unwrap_or(json!(0)),
                    "levelName": "Bronze",
                })
            }),
            _ => problem(StatusCode::NOT_FOUND, "No route found"),
        }
    }

    /// Our user id of the member a request is about, for a fault narrowed to one.
    fn target_of(&self, rest: &str, body: &Value) -> Option<String> {
        if let Some(label) = external_id(&body["customer"]) {
            return Some(label);
        }
        let id = rest.trim_start_matches('/').split('/').next()?;
        let state = self.state.lock().unwrap();
        state
            .members
            .get(id)
            .and_then(|m| external_id(&Value::Object(m.clone())))
    }

    async fn injected(&self, target: Option<&str>) -> Option<Response<Full<Bytes>>> {
        let fault = self.state.lock().unwrap().fault.clone()?;
        if fault.member.is_some() && fault.member.as_deref() != target {
            return None;
        }
        Some(match fault.mode {
            FaultMode::Down => problem(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
            FaultMode::Error => problem(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
            FaultMode::Reject => validation("firstName", "This value is not valid."),
            FaultMode::Slow => {
                tokio::time::sleep(SLOW).await;
                return None;
            }
        })
    }

    fn control(&self, method: &Method, what: &str, query: &str) -> Response<Full<Bytes>> {
        let mut state = self.state.lock().unwrap();
        match (method, what) {
            (&Method::GET, "members") => {
                let members: Vec<Value> = state
                    .members
                    .values()
                    .map(|m| {
                        let m = Value::Object(m.clone());
                        json!({
                            "customerId": m["customerId"], "loyaltyCardNumber": m["loyaltyCardNumber"],
                            "firstName": m["firstName"], "lastName": m["lastName"], "phone": m["phone"],
                            "birthDate": m["birthDate"], "email": m["email"], "gender": m["gender"],
                            "agreement1": m["agreement1"], "agreement2": m["agreement2"],
                            "agreement3": m["agreement3"], "externalId": external_id(&m),
                            "anonymized": m.get("anonymized").cloned().unwrap_or(json!(false)),
                        })
                    })
                    .collect();
                respond(StatusCode::OK, &Value::Array(members))
            }
            (&Method::GET, "ranges") => respond(StatusCode::OK, &json!(state.ranges)),
            (&Method::POST, "fault") => {
                let params = pairs(query);
                let mode = match params.get("mode").map(String::as_str) {
                    Some("down") => FaultMode::Down,
                    Some("slow") => FaultMode::Slow,
                    Some("error") => FaultMode::Error,
                    Some("reject") => FaultMode::Reject,
                    _ => {
                        return problem(
                            StatusCode::BAD_REQUEST,
                            "mode: down, slow, error or reject",
                        );
                    }
                };
                state.fault = Some(Fault {
                    mode,
                    member: params.get("member").cloned(),
                });
                empty(StatusCode::NO_CONTENT)
            }
            (&Method::DELETE, "fault") => {
                state.fault = None;
                empty(StatusCode::NO_CONTENT)
            }
            _ => problem(StatusCode::NOT_FOUND, "No route found"),
        }
    }

    fn create(&self, body: &Value) -> Response<Full<Bytes>> {
        let Some(customer) = body["customer"].as_object() else {
            return validation("customer", "This value should not be blank.");
        };
        for required in ["firstName", "lastName"] {
            if !customer.get(required).is_some_and(Value::is_string) {
                return validation(required, "This value should not be blank.");
            }
        }
        let mut state = self.state.lock().unwrap();
        let card = customer.get("loyaltyCardNumber").cloned();
        if card.is_some()
            && state
                .members
                .values()
                .any(|m| m.get("loyaltyCardNumber") == card.as_ref())
        {
            return validation("loyaltyCardNumber", "This value is already used.");
        }
        state.next_id += 1;
        let id = format!(
            "{:08x}-0000-4000-8000-{:012x}",
            rand::random::<u32>(),
            state.next_id
        );
        let mut member = customer.clone();
        member.insert("customerId".into(), json!(id));
        member.insert("active".into(), json!(true));
        member.insert("activePoints".into(), json!(0));
        let email = member.get("email").cloned().unwrap_or(Value::Null);
        state.members.insert(id.clone(), member);
        respond(StatusCode::OK, &json!({"customerId": id, "email": email}))
    }

    fn find(&self, query: &str) -> Response<Full<Bytes>> {
        let params = pairs(query);
        let state = self.state.lock().unwrap();
        let items: Vec<Value> = state
            .members
            .values()
            .filter(|m| {
                params.get("loyaltyCardNumber").is_none_or(|n| {
                    m.get("loyaltyCardNumber").and_then(Value::as_str) == Some(n.as_str())
                })
            })
            .map(|m| Value::Object(m.clone()))
            .collect();
        let total = items.len();
        respond(
            StatusCode::OK,
            &json!({"items": items, "total": {"all": total}}),
        )
    }

    fn member(
        &self,
        id: &str,
        view: impl Fn(&Map<String, Value>) -> Value,
    ) -> Response<Full<Bytes>> {
        let state = self.state.lock().unwrap();
        match state.members.get(id) {
            Some(m) => respond(StatusCode::OK, &view(m)),
            None => problem(StatusCode::NOT_FOUND, "Member not found"),
        }
    }

    /// Personal data blanked, as the platform's anonymization does; the card stays.
    fn anonymize(&self, id: &str) -> Response<Full<Bytes>> {
        let mut state = self.state.lock().unwrap();
        let Some(member) = state.members.get_mut(id) else {
            return problem(StatusCode::NOT_FOUND, "Member not found");
        };
        for field in [
            "firstName",
            "lastName",
            "email",
            "phone",
            "birthDate",
            "gender",
            "labels",
        ] {
            member.insert(field.into(), Value::Null);
        }
        member.insert("anonymized".into(), json!(true));
        empty(StatusCode::NO_CONTENT)
    }

    fn update(&self, id: &str, body: &Value) -> Response<Full<Bytes>> {
        let Some(customer) = body["customer"].as_object() else {
            return validation("customer", "This value should not be blank.");
        };
        let mut state = self.state.lock().unwrap();
        let Some(member) = state.members.get_mut(id) else {
            return problem(StatusCode::NOT_FOUND, "Member not found");
        };
        for (k, v) in customer {
            member.insert(k.clone(), v.clone());
        }
        empty(StatusCode::NO_CONTENT)
    }
}

fn external_id(customer: &Value) -> Option<String> {
    customer["labels"]
        .as_array()?
        .iter()
        .find(|l| l["key"] == "externalId")
        .and_then(|l| l["value"].as_str())
        .map(str::to_owned)
}

fn pairs(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn respond(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    response
}

fn empty(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

fn problem(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    respond(
        status,
        &json!({"code": status.as_u16(), "message": message}),
    )
}

/// The platform's validation failure: the field and what is wrong with it.
fn validation(field: &str, message: &str) -> Response<Full<Bytes>> {
    respond(
        StatusCode::BAD_REQUEST,
        &json!({"code": 400, "message": "Validation Failed", "errors": {field: [message]}}),
    )
}
