//! What the holder's proof of an erasure is judged against: the credential (for a
//! password) and the erasure code as it would go to the verified phone or email.

use domain::{Email, PhoneNumber, UserId};

use crate::StoreError;
use crate::accounts::Credential;
use crate::batch::batch_get;
use crate::codes::{CodeKind, CodeSlot, Destination, OneTimeCode};
use crate::keys::ItemKey;

use crate::privacy::PrivacyStore;

/// What the proof of an erasure is judged against, as read.
#[derive(Debug, Clone)]
pub struct ProofState {
    /// The account's credential (its password, whether its email is verified).
    pub credential: Option<Credential>,
    /// The erasure code as it would go to the phone, and to the email.
    by_phone: Option<OneTimeCode>,
    by_email: Option<OneTimeCode>,
}

impl ProofState {
    /// The erasure code as read for `to`, if `to` was one of the destinations read.
    pub fn code(&self, to: Destination<'_>) -> Option<&OneTimeCode> {
        match to {
            Destination::Phone(_) => self.by_phone.as_ref(),
            Destination::Email(_) => self.by_email.as_ref(),
        }
    }
}

impl PrivacyStore {
    /// The credential of `email` and the erasure code's items (the challenge, the send
    /// logs of the phone and the email it may go to): one consistent BatchGetItem. The
    /// credential counts only if it is `user`'s.
    pub async fn load_proof(
        &self,
        user: &UserId,
        email: Option<&Email>,
        phone: Option<&PhoneNumber>,
    ) -> Result<ProofState, StoreError> {
        let kind = |to| CodeKind::EraseAccount { user, to };
        let by_phone = phone.map(|p| kind(Destination::Phone(p)).slot());
        let by_email = email.map(|e| kind(Destination::Email(e)).slot());
        let credential_key = email.map(ItemKey::credential);
        let mut keys: Vec<ItemKey> = credential_key.iter().cloned().collect();
        for key in by_phone.iter().chain(&by_email).flat_map(CodeSlot::keys) {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        let found = batch_get(&self.client, &self.table, keys).await?;
        let credential: Option<Credential> = credential_key
            .and_then(|k| found.get(&k).cloned())
            .map(serde_dynamo::from_item)
            .transpose()?;
        // Both slots share the user's challenge: each takes from its own copy.
        let code = |slot: Option<CodeSlot>| {
            slot.map(|slot| OneTimeCode::take(&self.client, &self.table, slot, &mut found.clone()))
                .transpose()
        };
        Ok(ProofState {
            credential: credential.filter(|c| c.user_id == user.as_str()),
            by_phone: code(by_phone)?,
            by_email: code(by_email)?,
        })
    }
}
