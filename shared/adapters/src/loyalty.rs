//! The loyalty platform through Open Loyalty's member API
//! (https://help.openloyalty.io/api-reference/member): `POST /api/{storeCode}/member` to
//! create, `GET /api/{storeCode}/member?loyaltyCardNumber=` to find the member of a card,
//! `PUT /api/{storeCode}/member/{customerId}` to update, and
//! `GET /api/{storeCode}/member/{customerId}/status` for points and tier, and
//! `POST /api/{storeCode}/member/{customerId}/anonymize` for erasure. Requests carry
//! an admin API key in `X-AUTH-TOKEN`, read from Secrets Manager on first use.
//!
//! The HTTP client (reqwest, rustls with the aws-lc-rs provider the SDK uses, the
//! Mozilla roots) is built on the first request; every request has a connect and a total
//! timeout, and no redirect is followed (the key would go along). Nothing here retries:
//! the callers decide (a request answers with what it has; the sync consumer retries
//! later). No API key, card number or personal data is logged.

use std::sync::OnceLock;
use std::time::Duration;

use domain::loyalty::{CardNumber, LoyaltyCardService, LoyaltyFailure, MemberDetails, Standing};
use serde_json::{Value, json};

use crate::secrets::LazySecret;

/// Where the platform is and how long a call may take.
#[derive(Debug, Clone)]
pub struct OpenLoyaltyConfig {
    /// e.g. `https://loyalty.example.com` (no trailing slash).
    pub base_url: String,
    pub store_code: String,
    pub connect_timeout: Duration,
    pub timeout: Duration,
}

pub struct OpenLoyalty {
    config: OpenLoyaltyConfig,
    api_key: LazySecret<String>,
    client: OnceLock<reqwest::Client>,
}

/// The API key as the secret holds it: the whole value, trimmed.
pub fn parse_api_key(raw: &[u8]) -> Result<String, String> {
    let key = std::str::from_utf8(raw)
        .map_err(|_| "the loyalty API key is not text".to_owned())?
        .trim();
    if key.is_empty() {
        return Err("the loyalty API key is empty".into());
    }
    Ok(key.to_owned())
}

impl OpenLoyalty {
    pub fn new(config: OpenLoyaltyConfig, api_key: LazySecret<String>) -> Self {
        Self {
            config,
            api_key,
            client: OnceLock::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/api/{}/member{path}",
            self.config.base_url.trim_end_matches('/'),
            self.config.store_code
        )
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: String,
        body: Option<Value>,
    ) -> Result<Value, LoyaltyFailure> {
        let key = self
            .api_key
            .get()
            .await
            .map_err(|e| LoyaltyFailure::Unavailable(e.to_string()))?;
        let client = match self.client.get() {
            Some(client) => client,
            None => {
                let built = crate::http::client(self.config.connect_timeout, self.config.timeout)
                    .map_err(LoyaltyFailure::Unavailable)?;
                self.client.get_or_init(|| built)
            }
        };
        let mut request = client
            .request(method, url)
            .header("X-AUTH-TOKEN", key.as_str())
            .header("Accept", "application/json");
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.map_err(|e| {
            LoyaltyFailure::Unavailable(if e.is_timeout() {
                "timed out".to_owned()
            } else if e.is_connect() {
                "no connection".to_owned()
            } else {
                "the request failed".to_owned()
            })
        })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|_| LoyaltyFailure::Unavailable("the answer did not arrive".into()))?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            Ok(body)
        } else if status.is_client_error()
            && status != reqwest::StatusCode::TOO_MANY_REQUESTS
            && status != reqwest::StatusCode::REQUEST_TIMEOUT
        {
            Err(LoyaltyFailure::Refused(refusal(status.as_u16(), &body)))
        } else {
            Err(LoyaltyFailure::Unavailable(format!(
                "HTTP {}",
                status.as_u16()
            )))
        }
    }

    /// The member holding `card`, if the platform has one.
    async fn find(&self, card: &CardNumber) -> Result<Option<String>, LoyaltyFailure> {
        let found = self
            .send(
                reqwest::Method::GET,
                self.url(&format!("?loyaltyCardNumber={}", card.as_str())),
                None,
            )
            .await?;
        Ok(found["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["loyaltyCardNumber"].as_str() == Some(card.as_str()))
            .and_then(|m| m["customerId"].as_str())
            .map(str::to_owned))
    }
}

/// What the platform's validation says, by field, without values: `HTTP 400: firstName:
/// This value should not be blank.`
fn refusal(status: u16, body: &Value) -> String {
    let fields: Vec<String> = body["errors"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(field, messages)| {
            let first = messages
                .as_array()
                .and_then(|m| m.first())
                .and_then(Value::as_str)
                .unwrap_or("refused");
            format!("{field}: {first}")
        })
        .collect();
    if fields.is_empty() {
        format!(
            "HTTP {status}: {}",
            body["message"].as_str().unwrap_or("refused")
        )
    } else {
        format!("HTTP {status}: {}", fields.join("; "))
    }
}

/// The member as Open Loyalty's `customer` object.
fn customer(card: &CardNumber, member: &MemberDetails) -> Value {
    json!({
        "firstName": member.first_name,
        "lastName": member.last_name,
        "email": member.email,
        "phone": member.phone,
        "birthDate": member.birth_date,
        "gender": member.gender,
        "loyaltyCardNumber": card.as_str(),
        "agreement1": member.agreements[0],
        "agreement2": member.agreements[1],
        "agreement3": member.agreements[2],
        "labels": [{"key": "externalId", "value": member.external_id}],
    })
}

impl LoyaltyCardService for OpenLoyalty {
    async fn create_member(
        &self,
        card: &CardNumber,
        member: &MemberDetails,
    ) -> Result<String, LoyaltyFailure> {
        // Asked before: the platform holds the card's member already.
        if let Some(id) = self.find(card).await? {
            return Ok(id);
        }
        let created = self
            .send(
                reqwest::Method::POST,
                self.url(""),
                Some(json!({ "customer": customer(card, member) })),
            )
            .await;
        match created {
            Ok(body) => body["customerId"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| LoyaltyFailure::Unavailable("no customerId in the answer".into())),
            // Created by a call that raced this one: the card is held now.
            Err(LoyaltyFailure::Refused(reason)) if reason.contains("loyaltyCardNumber") => self
                .find(card)
                .await?
                .ok_or(LoyaltyFailure::Refused(reason)),
            Err(e) => Err(e),
        }
    }

    async fn update_member(
        &self,
        member_id: &str,
        card: &CardNumber,
        member: &MemberDetails,
    ) -> Result<(), LoyaltyFailure> {
        self.send(
            reqwest::Method::PUT,
            self.url(&format!("/{member_id}")),
            Some(json!({ "customer": customer(card, member) })),
        )
        .await
        .map(|_| ())
    }

    async fn standing(&self, member_id: &str) -> Result<Standing, LoyaltyFailure> {
        let status = self
            .send(
                reqwest::Method::GET,
                self.url(&format!("/{member_id}/status")),
                None,
            )
            .await?;
        Ok(Standing {
            points: status["activePoints"]
                .as_f64()
                .or_else(|| status["points"].as_f64()),
            tier: status["levelName"].as_str().map(str::to_owned),
        })
    }

    async fn anonymize_member(&self, member_id: &str) -> Result<(), LoyaltyFailure> {
        self.send(
            reqwest::Method::POST,
            self.url(&format!("/{member_id}/anonymize")),
            None,
        )
        .await
        .map(|_| ())
    }
}
