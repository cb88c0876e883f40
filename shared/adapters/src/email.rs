//! Email through Amazon SES (API v2 `SendEmail`): the only module that knows SES exists.
//! The sender is one verified identity the template names; the function may send from
//! it alone.

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use domain::Email;
use domain::ports::{EmailNotSent, EmailSender};

use crate::aws::LazyClient;

#[derive(Clone, Debug)]
pub struct SesEmail {
    client: LazyClient<aws_sdk_sesv2::Client>,
    from: String,
}

impl SesEmail {
    pub fn new(client: LazyClient<aws_sdk_sesv2::Client>, from: impl Into<String>) -> Self {
        Self {
            client,
            from: from.into(),
        }
    }
}

fn utf8(data: &str) -> Result<Content, EmailNotSent> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| EmailNotSent(e.to_string()))
}

impl EmailSender for SesEmail {
    async fn send(&self, to: &Email, subject: &str, text: &str) -> Result<(), EmailNotSent> {
        let message = Message::builder()
            .subject(utf8(subject)?)
            .body(Body::builder().text(utf8(text)?).build())
            .build();
        self.client
            .get()
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(to.as_str()).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                let reason = crate::aws::failure_reason("SES", &e);
                tracing::warn!(%reason, "email send failed");
                EmailNotSent(reason)
            })
    }
}
