//! Proving an account's address: the credential and the code read together, then the
//! credential marked verified in the transaction that spends the code.

use aws_sdk_dynamodb::types::AttributeValue;
use domain::Email;

use crate::StoreError;
use crate::accounts::{AccountStore, Credential};
use crate::codes::SpentCode;
use crate::codes::{CodeKind, OneTimeCode};
use crate::expr::Expression;
use crate::item::n;
use crate::keys::{ItemKey, PK};
use crate::profile_item::VERSION;
use crate::txn::{Outcome, transact, update};

/// What the store holds about proving an account's email: one BatchGetItem.
#[derive(Debug, Clone)]
pub struct EmailVerificationState {
    pub credential: Option<Credential>,
    pub code: OneTimeCode,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The code was used, replaced or burned since it was read.
    #[error("the code is gone")]
    CodeGone,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AccountStore {
    pub async fn load_email_verification(
        &self,
        email: &Email,
    ) -> Result<EmailVerificationState, StoreError> {
        let credential_key = ItemKey::credential(email);
        let (mut found, code) = OneTimeCode::read_with(
            &self.client,
            &self.table,
            CodeKind::VerifyEmail(email),
            &[&credential_key],
        )
        .await?;
        Ok(EmailVerificationState {
            credential: found
                .remove(&credential_key)
                .map(serde_dynamo::from_item)
                .transpose()?,
            code,
        })
    }

    /// The email is proven: the credential says so and the code is spent, together.
    pub async fn commit_email_verification(
        &self,
        email: &Email,
        code: &SpentCode<'_>,
        now: i64,
    ) -> Result<(), VerifyError> {
        let mut credential = Expression::default();
        let pk = credential.name(PK);
        credential.condition(format!("attribute_exists({pk})"));
        credential.set("email_verified", AttributeValue::Bool(true));
        credential.set("email_verified_at", n(now));
        credential.count_write(VERSION);
        let items = vec![
            update(&self.table, &ItemKey::credential(email), credential)?,
            code.item(now)?,
        ];
        match transact(&self.client, items).await? {
            Outcome::Done => Ok(()),
            _ => Err(VerifyError::CodeGone),
        }
    }
}
