//! What a holder's proof is judged against: the credential (for a password, and whether
//! its email is proven) and a flow's code as it would go to the account's proven phone
//! or email. An erasure, an email change's confirmation and a first factor's read it alike.

use aws_sdk_dynamodb::Client;
use domain::{Email, PhoneNumber, UserId};

use crate::StoreError;
use crate::accounts::{AccountStore, Credential};
use crate::batch::batch_get;
use crate::codes::{CodeKind, CodeSlot, Destination, OneTimeCode};
use crate::keys::ItemKey;
use crate::privacy::PrivacyStore;

/// What the proof of a holder is judged against, as read.
#[derive(Debug, Clone)]
pub struct ProofState {
    /// The account's credential (its password, whether its email is verified).
    pub credential: Option<Credential>,
    /// The flow's code as it would go to the phone, and to the email.
    by_phone: Option<OneTimeCode>,
    by_email: Option<OneTimeCode>,
}

impl ProofState {
    /// The code as read for `to`, if `to` was one of the destinations read.
    pub fn code(&self, to: Destination<'_>) -> Option<&OneTimeCode> {
        match to {
            Destination::Phone(_) => self.by_phone.as_ref(),
            Destination::Email(_) => self.by_email.as_ref(),
        }
    }

    /// Whether the email read is the account's and proven.
    pub fn email_proven(&self) -> bool {
        self.credential.as_ref().is_some_and(|c| c.email_verified)
    }
}

/// The credential of `email` and the code's items (the challenge, the send logs of the
/// phone and the email it may go to): one consistent BatchGetItem. The credential counts
/// only if it is `user`'s.
async fn load<'a>(
    client: &Client,
    table: &str,
    user: &'a UserId,
    email: Option<&'a Email>,
    phone: Option<&'a PhoneNumber>,
    kind: impl Fn(Destination<'a>) -> CodeKind<'a>,
) -> Result<ProofState, StoreError> {
    let by_phone = phone.map(|p| kind(Destination::Phone(p)).slot());
    let by_email = email.map(|e| kind(Destination::Email(e)).slot());
    let credential_key = email.map(ItemKey::credential);
    let mut keys: Vec<ItemKey> = credential_key.iter().cloned().collect();
    for key in by_phone.iter().chain(&by_email).flat_map(CodeSlot::keys) {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let found = batch_get(client, table, keys).await?;
    let credential: Option<Credential> = credential_key
        .and_then(|k| found.get(&k).cloned())
        .map(serde_dynamo::from_item)
        .transpose()?;
    // Both slots share the user's challenge: each takes from its own copy.
    let code = |slot: Option<CodeSlot>| {
        slot.map(|slot| OneTimeCode::take(client, table, slot, &mut found.clone()))
            .transpose()
    };
    Ok(ProofState {
        credential: credential.filter(|c| c.user_id == user.as_str()),
        by_phone: code(by_phone)?,
        by_email: code(by_email)?,
    })
}

impl PrivacyStore {
    /// What the holder's proof of an erasure is judged against.
    pub async fn load_proof(
        &self,
        user: &UserId,
        email: Option<&Email>,
        phone: Option<&PhoneNumber>,
    ) -> Result<ProofState, StoreError> {
        let kind = |to| CodeKind::EraseAccount { user, to };
        load(&self.client, &self.table, user, email, phone, kind).await
    }
}

impl AccountStore {
    /// What the holder's confirmation of an email change (the `token_checksum`) is
    /// judged against: the code to the current email or the proven number.
    pub async fn load_change_confirmation(
        &self,
        user: &UserId,
        email: Option<&Email>,
        phone: Option<&PhoneNumber>,
    ) -> Result<ProofState, StoreError> {
        let kind = |to| CodeKind::ConfirmEmailChange { user, to };
        load(&self.client, &self.table, user, email, phone, kind).await
    }

    /// What the holder's confirmation of a first second factor is judged against: the
    /// code to the proven email or number.
    pub async fn load_factor_confirmation(
        &self,
        user: &UserId,
        email: Option<&Email>,
        phone: Option<&PhoneNumber>,
    ) -> Result<ProofState, StoreError> {
        let kind = |to| CodeKind::AddFactor { user, to };
        load(&self.client, &self.table, user, email, phone, kind).await
    }
}
