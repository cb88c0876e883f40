//! Secrets from AWS Secrets Manager, fetched on first use and kept for the container's
//! life: no network call during init, one per container after.

use aws_sdk_secretsmanager::error::DisplayErrorContext;
use domain::otp::OtpKey;
use domain::ports::{KeyUnavailable, OtpKeys};
use tokio::sync::OnceCell;

use crate::aws::LazyClient;

/// A secret read and parsed on first use.
pub struct LazySecret<T> {
    client: LazyClient<aws_sdk_secretsmanager::Client>,
    secret_id: String,
    parse: fn(&[u8]) -> Result<T, String>,
    value: OnceCell<T>,
}

impl<T> std::fmt::Debug for LazySecret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LazySecret({}, redacted)", self.secret_id)
    }
}

impl<T> LazySecret<T> {
    pub fn new(
        client: LazyClient<aws_sdk_secretsmanager::Client>,
        secret_id: impl Into<String>,
        parse: fn(&[u8]) -> Result<T, String>,
    ) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
            parse,
            value: OnceCell::new(),
        }
    }

    pub async fn get(&self) -> Result<&T, KeyUnavailable> {
        self.value
            .get_or_try_init(|| async {
                let out = self
                    .client
                    .get()
                    .get_secret_value()
                    .secret_id(&self.secret_id)
                    .send()
                    .await
                    .map_err(|e| KeyUnavailable(DisplayErrorContext(&e).to_string()))?;
                let secret = out
                    .secret_string()
                    .map(|s| s.as_bytes().to_vec())
                    .or_else(|| out.secret_binary().map(|b| b.as_ref().to_vec()))
                    .ok_or_else(|| KeyUnavailable("the secret has no value".into()))?;
                (self.parse)(&secret).map_err(KeyUnavailable)
            })
            .await
    }
}

/// The HMAC key one-time codes are digested with.
pub type OtpKeySource = LazySecret<OtpKey>;

pub fn otp_key_source(
    client: LazyClient<aws_sdk_secretsmanager::Client>,
    secret_id: impl Into<String>,
) -> OtpKeySource {
    LazySecret::new(client, secret_id, OtpKey::new)
}

impl OtpKeys for LazySecret<OtpKey> {
    async fn key(&self) -> Result<&OtpKey, KeyUnavailable> {
        self.get().await
    }
}
