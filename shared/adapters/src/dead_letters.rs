//! Dead letters to an SQS queue: the body as is, the reason and the other attributes as
//! message attributes, so an operator filters and redrives without parsing bodies.

use aws_sdk_sqs::types::MessageAttributeValue;
use domain::ports::{DeadLetter, DeadLetters, NotSetAside};

use crate::aws::LazyClient;

pub fn sqs_client(sdk: &aws_config::SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(sdk)
}

#[derive(Clone)]
pub struct SqsDeadLetters {
    client: LazyClient<aws_sdk_sqs::Client>,
    queue_url: String,
}

impl SqsDeadLetters {
    pub fn new(client: LazyClient<aws_sdk_sqs::Client>, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

fn text(value: &str) -> Result<MessageAttributeValue, NotSetAside> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| NotSetAside(e.to_string()))
}

impl DeadLetters for SqsDeadLetters {
    async fn set_aside(&self, letter: DeadLetter) -> Result<(), NotSetAside> {
        let mut send = self
            .client
            .get()
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(letter.body)
            .message_attributes("reason", text(&letter.reason)?);
        for (name, value) in &letter.attributes {
            send = send.message_attributes(*name, text(value)?);
        }
        send.send().await.map(|_| ()).map_err(|e| {
            NotSetAside(aws_smithy_types::error::display::DisplayErrorContext(&e).to_string())
        })
    }
}
