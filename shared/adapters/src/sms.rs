//! SMS through Amazon SNS: the only module that knows SNS exists.

use aws_sdk_sns::types::MessageAttributeValue;

use domain::PhoneNumber;

use crate::aws::LazyClient;
use domain::otp::OtpCode;
use domain::ports::{SmsNotSent, SmsSender};

pub const DEFAULT_TEMPLATE: &str =
    "Your verification code is {code}. It expires in {minutes} minutes.";

#[derive(Debug, Clone)]
pub struct SmsConfig {
    /// `AWS.SNS.SMS.SenderID`, where the destination country supports one.
    pub sender_id: Option<String>,
    /// The message; `{code}` and `{minutes}` are filled in.
    pub template: String,
    /// `AWS.SNS.SMS.MaxPrice`: the most one message may cost, in USD (`0.50`); SNS does
    /// not send a message that would cost more. `None`: no cap.
    pub max_price_usd: Option<String>,
}

impl SmsConfig {
    /// Checks what SNS accepts: a template with `{code}`, a sender id of 1-11 letters or
    /// digits with at least one letter.
    pub fn new(
        sender_id: Option<String>,
        template: Option<String>,
        max_price_usd: Option<String>,
    ) -> Result<Self, String> {
        let template = template.unwrap_or_else(|| DEFAULT_TEMPLATE.to_owned());
        if !template.contains("{code}") {
            return Err("SMS_MESSAGE_TEMPLATE must contain {code}".into());
        }
        if let Some(id) = &sender_id {
            let ok = (1..=11).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_alphanumeric())
                && id.bytes().any(|b| b.is_ascii_alphabetic());
            if !ok {
                return Err(
                    "SMS_SENDER_ID must be 1-11 letters or digits with at least one letter".into(),
                );
            }
        }
        if let Some(price) = &max_price_usd {
            let ok = price
                .parse::<f64>()
                .is_ok_and(|p| p.is_finite() && p > 0.0 && p <= 100.0)
                && price.bytes().all(|b| b.is_ascii_digit() || b == b'.');
            if !ok {
                return Err("SMS_MAX_PRICE_USD must be a price in USD such as 0.50".into());
            }
        }
        Ok(Self {
            sender_id,
            template,
            max_price_usd,
        })
    }
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            sender_id: None,
            template: DEFAULT_TEMPLATE.to_owned(),
            max_price_usd: None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct SnsSms {
    client: LazyClient<aws_sdk_sns::Client>,
    config: SmsConfig,
}

impl SnsSms {
    pub fn new(client: LazyClient<aws_sdk_sns::Client>, config: SmsConfig) -> Self {
        Self { client, config }
    }
}

impl SmsSender for SnsSms {
    /// Publishes a transactional SMS. Neither the message nor the number is logged.
    async fn send_code(
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
            .get()
            .publish()
            .phone_number(to.e164())
            .message(message)
            .message_attributes("AWS.SNS.SMS.SMSType", string("Transactional"));
        if let Some(id) = &self.config.sender_id {
            publish = publish.message_attributes("AWS.SNS.SMS.SenderID", string(id));
        }
        if let Some(price) = &self.config.max_price_usd {
            publish = publish.message_attributes("AWS.SNS.SMS.MaxPrice", string(price));
        }
        publish.send().await.map(|_| ()).map_err(|e| {
            let reason = crate::aws::failure_reason("SNS", &e);
            tracing::warn!(to = %to, %reason, "SMS publish failed");
            SmsNotSent(reason)
        })
    }
}
