//! Notification consents: twelve channels, each subscribed, unsubscribed or
//! never set. One store, three views: `/users/consents`, the profile's `*_allowed`
//! booleans, and the partner API's `*_flag` properties.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::FieldErrors;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    Call,
    Info,
    Mkt,
    MktPush,
    MktSms,
    MktKakao,
    Night,
    NightPush,
    NightSms,
    NightKakao,
}

impl Channel {
    pub const ALL: [Channel; 12] = [
        Self::Email,
        Self::Sms,
        Self::Call,
        Self::Info,
        Self::Mkt,
        Self::MktPush,
        Self::MktSms,
        Self::MktKakao,
        Self::Night,
        Self::NightPush,
        Self::NightSms,
        Self::NightKakao,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Call => "call",
            Self::Info => "info",
            Self::Mkt => "mkt",
            Self::MktPush => "mkt_push",
            Self::MktSms => "mkt_sms",
            Self::MktKakao => "mkt_kakao",
            Self::Night => "night",
            Self::NightPush => "night_push",
            Self::NightSms => "night_sms",
            Self::NightKakao => "night_kakao",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == raw)
    }

    /// The profile boolean that views this channel, for the three that have one.
    pub fn profile_flag(self) -> Option<&'static str> {
        match self {
            Self::Email => Some("email_allowed"),
            Self::Sms => Some("sms_allowed"),
            Self::Call => Some("call_allowed"),
            _ => None,
        }
    }

    pub fn from_profile_flag(flag: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.profile_flag() == Some(flag))
    }

    /// The partner API's property name, `mkt_sms_flag`.
    pub fn api_flag(self) -> String {
        format!("{}_flag", self.as_str())
    }

    pub fn from_api_flag(name: &str) -> Option<Self> {
        name.strip_suffix("_flag").and_then(Self::parse)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsentStatus {
    Subscribed,
    Unsubscribed,
}

impl ConsentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subscribed => "subscribed",
            Self::Unsubscribed => "unsubscribed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "subscribed" => Some(Self::Subscribed),
            "unsubscribed" => Some(Self::Unsubscribed),
            _ => None,
        }
    }

    /// The partner API's spelling: `Subscribed` / `Unsubscribed`.
    pub fn parse_api(raw: &str) -> Option<Self> {
        match raw {
            "Subscribed" => Some(Self::Subscribed),
            "Unsubscribed" => Some(Self::Unsubscribed),
            _ => None,
        }
    }

    pub fn api_str(status: Option<Self>) -> &'static str {
        match status {
            Some(Self::Subscribed) => "Subscribed",
            Some(Self::Unsubscribed) => "Unsubscribed",
            None => "Undefined",
        }
    }

    pub fn from_allowed(allowed: bool) -> Self {
        if allowed {
            Self::Subscribed
        } else {
            Self::Unsubscribed
        }
    }
}

/// A channel's current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelState {
    pub status: ConsentStatus,
    pub updated_at: String,
}

/// Every channel that was ever set; absent = undefined.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consents(pub BTreeMap<Channel, ChannelState>);

impl Consents {
    pub fn status(&self, channel: Channel) -> Option<ConsentStatus> {
        self.0.get(&channel).map(|s| s.status)
    }

    pub fn allows(&self, channel: Channel) -> bool {
        self.status(channel) == Some(ConsentStatus::Subscribed)
    }

    /// The changes that `requested` makes to this state; unchanged channels drop out.
    pub fn diff(&self, requested: &[(Channel, ConsentStatus)]) -> Vec<ConsentChange> {
        requested
            .iter()
            .filter(|(channel, to)| self.status(*channel) != Some(*to))
            .map(|&(channel, to)| ConsentChange {
                channel,
                from: self.status(channel),
                to,
            })
            .collect()
    }
}

/// One channel moving from one state to another; also the audit entry's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsentChange {
    pub channel: Channel,
    pub from: Option<ConsentStatus>,
    pub to: ConsentStatus,
}

/// Who acts on an account, as the audit trail and the change events name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The account's holder (`self`).
    Holder,
    /// An administrator (`admin`).
    Admin,
    /// A partner system with an API token (`api`).
    Api,
    /// The service, by its own rule (`system`): an address nobody proved, taken over by
    /// the sign-up of someone else who will.
    System,
    /// An import of users from another system (`import`), as it found them there.
    Import,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Holder => "self",
            Self::Admin => "admin",
            Self::Api => "api",
            Self::System => "system",
            Self::Import => "import",
        }
    }
}

/// Who changed an account (a consent, a field, an identifier), for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub source: Source,
    /// The user id, or the API token id.
    pub actor: String,
    pub request_id: String,
}

impl Actor {
    /// Whether the account's holder acts; anyone else's change goes on the record.
    pub fn is_holder(&self) -> bool {
        self.source == Source::Holder
    }
}

/// `{"mkt_sms": "subscribed", ...}` from PATCH /users/consents.
pub fn parse_consent_patch(
    body: &Map<String, Value>,
) -> Result<Vec<(Channel, ConsentStatus)>, FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut out = Vec::new();
    if body.is_empty() {
        errors.add("body", "name at least one channel");
    }
    for (name, value) in body {
        let Some(channel) = Channel::parse(name) else {
            errors.add(name.as_str(), "is not a consent channel");
            continue;
        };
        match value.as_str().and_then(ConsentStatus::parse) {
            Some(status) => out.push((channel, status)),
            None => errors.add(name.as_str(), "must be \"subscribed\" or \"unsubscribed\""),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn channel_names_round_trip() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
            assert_eq!(Channel::from_api_flag(&c.api_flag()), Some(c));
        }
        assert_eq!(
            Channel::from_profile_flag("sms_allowed"),
            Some(Channel::Sms)
        );
        assert_eq!(Channel::parse("push"), None);
        assert_eq!(Channel::from_api_flag("user_name"), None);
    }

    #[test]
    fn patch_parsing_names_bad_channels_and_values() {
        let ok = parse_consent_patch(
            json!({"mkt_sms": "subscribed", "night_sms": "unsubscribed"})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
        let err = parse_consent_patch(
            json!({"push": "subscribed", "mkt": "yes", "sms": true, "call": null})
                .as_object()
                .unwrap(),
        )
        .unwrap_err();
        assert_eq!(
            err.fields().collect::<Vec<_>>(),
            ["call", "mkt", "push", "sms"]
        );
        assert!(parse_consent_patch(json!({}).as_object().unwrap()).is_err());
    }

    #[test]
    fn diff_drops_unchanged_channels() {
        let mut c = Consents::default();
        c.0.insert(
            Channel::Sms,
            ChannelState {
                status: ConsentStatus::Subscribed,
                updated_at: "t".into(),
            },
        );
        let changes = c.diff(&[
            (Channel::Sms, ConsentStatus::Subscribed),
            (Channel::Mkt, ConsentStatus::Unsubscribed),
            (Channel::Sms, ConsentStatus::Subscribed),
        ]);
        assert_eq!(
            changes,
            [ConsentChange {
                channel: Channel::Mkt,
                from: None,
                to: ConsentStatus::Unsubscribed
            }]
        );
    }
}
