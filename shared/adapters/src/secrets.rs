//! Secrets from AWS Secrets Manager, fetched on first use and kept for the container's
//! life: no network call during init, one per container after.

use aws_sdk_secretsmanager::error::DisplayErrorContext;
use tokio::sync::OnceCell;

use domain::otp::OtpKey;

use crate::aws::LazyClient;
use domain::ports::{KeyUnavailable, OtpKeys};

#[derive(Debug)]
pub struct OtpKeySource {
    client: LazyClient<aws_sdk_secretsmanager::Client>,
    secret_id: String,
    key: OnceCell<OtpKey>,
}

impl OtpKeySource {
    pub fn new(
        client: LazyClient<aws_sdk_secretsmanager::Client>,
        secret_id: impl Into<String>,
    ) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
            key: OnceCell::new(),
        }
    }
}

impl OtpKeys for OtpKeySource {
    async fn key(&self) -> Result<&OtpKey, KeyUnavailable> {
        self.key
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
                OtpKey::new(&secret).map_err(KeyUnavailable)
            })
            .await
    }
}
