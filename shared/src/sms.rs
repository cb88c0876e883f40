//! SMS through Amazon SNS: the only module that knows SNS exists.

use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sns::types::MessageAttributeValue;

use crate::config::{ConfigError, optional};
use crate::domain::PhoneNumber;
use crate::otp::OtpCode;

pub const DEFAULT_TEMPLATE: &str =
    "Your verification code is {code}. It expires in {minutes} minutes.";

#[derive(Debug, Clone)]
pub struct SmsConfig {
    /// `AWS.SNS.SMS.SenderID`, where the destination country supports one.
    pub sender_id: Option<String>,
    /// The message; `{code}` and `{minutes}` are filled in.
    pub template: String,
}

impl SmsConfig {
    /// `SMS_SENDER_ID` (optional), `SMS_MESSAGE_TEMPLATE` (must contain `{code}`).
    pub fn from_env() -> Result<Self, ConfigError> {
        let template =
            optional("SMS_MESSAGE_TEMPLATE").unwrap_or_else(|| DEFAULT_TEMPLATE.to_owned());
        if !template.contains("{code}") {
            return Err(ConfigError::Invalid {
                name: "SMS_MESSAGE_TEMPLATE",
                reason: "must contain {code}".into(),
            });
        }
        let sender_id = optional("SMS_SENDER_ID");
        if let Some(id) = &sender_id {
            // SNS: 1-11 alphanumeric characters, at least one letter.
            let ok = (1..=11).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_alphanumeric())
                && id.bytes().any(|b| b.is_ascii_alphabetic());
            if !ok {
                return Err(ConfigError::Invalid {
                    name: "SMS_SENDER_ID",
                    reason: "must be 1-11 letters or digits with at least one letter".into(),
                });
            }
        }
        Ok(Self {
            sender_id,
            template,
        })
    }
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            sender_id: None,
            template: DEFAULT_TEMPLATE.to_owned(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the SMS was not sent: {0}")]
pub struct SmsNotSent(String);

#[derive(Clone, Debug)]
pub struct SnsSms {
    client: aws_sdk_sns::Client,
    config: SmsConfig,
}

impl SnsSms {
    pub fn new(client: aws_sdk_sns::Client, config: SmsConfig) -> Self {
        Self { client, config }
    }

    /// Publishes a transactional SMS. Neither the message nor the number is logged.
    pub async fn send_code(
        &self,
        to: &PhoneNumber,
        code: &OtpCode,
        lifetime_secs: i64,
    ) -> Result<(), SmsNotSent> {
        let minutes = ((lifetime_secs + 59) / 60).to_string();
        let message = self
            .config
            .template
            .replace("{code}", code.expose())
            .replace("{minutes}", &minutes);
        let string = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .expect("data_type is set")
        };
        let mut publish = self
            .client
            .publish()
            .phone_number(to.e164())
            .message(message)
            .message_attributes("AWS.SNS.SMS.SMSType", string("Transactional"));
        if let Some(id) = &self.config.sender_id {
            publish = publish.message_attributes("AWS.SNS.SMS.SenderID", string(id));
        }
        publish.send().await.map(|_| ()).map_err(|e| {
            let reason = DisplayErrorContext(&e).to_string();
            tracing::warn!(to = %to, %reason, "SMS publish failed");
            SmsNotSent(reason)
        })
    }
}
