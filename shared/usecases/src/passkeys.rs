//! Passkeys through the `webauthn-rs` crate: registering one on a signed-in account
//! (a discoverable credential with user verification), and signing in with one without
//! a password or a user name. Each ceremony's state waits between its options and its
//! answer in the table (`store::MfaStore::begin_ceremony`), taken once. A passkey login
//! says `amr: ["hwk"|"swk","user"]`, `acr: aal2`: something held, and the
//! authenticator's own check of who holds it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use domain::ports::{AccessTokens, KeyUnavailable, OtpKeys};
use domain::session::{Authentication, ClientId};
use domain::{Actor, Clock, UserId};
use serde_json::Value;
use store::{AccountStore, Added, MfaStore, PasskeyLogin, SessionStore, StoreError, StoredPasskey};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Uuid, Webauthn,
};

use crate::auth::{Tokens, issue};

const REGISTER: &str = "passkey-register";
const SIGN_IN: &str = "passkey-sign-in";
/// Longer credential ids are refused: one names a key item, whose sort key DynamoDB
/// limits to 1024 bytes.
const MAX_CREDENTIAL_ID_BYTES: usize = 256;

pub struct Passkeys<'a, T, K> {
    pub mfa: &'a MfaStore,
    /// The account's grants (an operator's `users:admin`), as a password login carries them.
    pub accounts: &'a AccountStore,
    pub sessions: &'a SessionStore,
    pub tokens: &'a T,
    pub keys: &'a K,
    pub webauthn: &'a Webauthn,
    pub clock: &'a Clock,
}

#[derive(Debug, thiserror::Error)]
pub enum PasskeyRefusal {
    /// The ceremony is unknown, expired, answered already, or another account's.
    #[error("no such ceremony")]
    NoCeremony,
    /// The credential does not verify (wrong origin, challenge, signature, counter...).
    #[error("the passkey did not verify: {0}")]
    NotVerified(String),
    /// No account has this passkey (any more).
    #[error("unknown passkey")]
    Unknown,
    #[error("the passkey is registered already")]
    Exists,
    #[error("the account has the most passkeys it may")]
    TooMany,
    #[error("no such passkey")]
    NotFound,
    #[error("a dependency is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<KeyUnavailable> for PasskeyRefusal {
    fn from(e: KeyUnavailable) -> Self {
        tracing::warn!(error = %e, "key unavailable");
        Self::Unavailable(e.to_string())
    }
}

/// A ceremony to hand the browser: its id and the WebAuthn options (`{"publicKey"}`).
pub struct Options {
    pub challenge_id: String,
    pub options: Value,
}

/// A passkey as the account's list shows it.
pub struct Listed {
    pub id: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

fn crate_error(e: impl std::fmt::Display) -> PasskeyRefusal {
    PasskeyRefusal::NotVerified(e.to_string())
}

fn stored_state<S: serde::Serialize>(state: &S) -> Result<String, PasskeyRefusal> {
    serde_json::to_string(state)
        .map_err(|e| StoreError::Failed(format!("a ceremony's state: {e}")).into())
}

impl<T: AccessTokens, K: OtpKeys> Passkeys<'_, T, K> {
    /// Registration options for `user` (named `name` in the authenticator): a
    /// discoverable credential with user verification, none of the account's passkeys
    /// again.
    pub async fn registration_options(
        &self,
        user: &UserId,
        name: &str,
    ) -> Result<Options, PasskeyRefusal> {
        let key = self.keys.key().await?;
        let handle = Uuid::from_bytes(key.user_handle(user));
        let existing = self.mfa.passkeys(user).await?;
        let exclude = existing
            .iter()
            .filter_map(|p| B64.decode(&p.id).ok())
            .collect::<Vec<_>>();
        let (ccr, state): (_, PasskeyRegistration) = self
            .webauthn
            .start_passkey_registration(handle, name, name, Some(exclude))
            .map_err(crate_error)?;
        let mut options = serde_json::to_value(&ccr)
            .map_err(|e| StoreError::Failed(format!("registration options: {e}")))?;
        // A passkey signs in without a user name: the authenticator must keep it.
        if let Some(selection) = options.pointer_mut("/publicKey/authenticatorSelection") {
            selection["residentKey"] = Value::from("required");
            selection["requireResidentKey"] = Value::from(true);
        }
        let challenge_id = domain::opaque::random_id();
        let now = self.clock.now().timestamp();
        self.mfa
            .begin_ceremony(
                &challenge_id,
                REGISTER,
                Some(user),
                &stored_state(&state)?,
                now,
            )
            .await?;
        Ok(Options {
            challenge_id,
            options,
        })
    }

    /// Finishes a registration with the browser's credential (its `toJSON()` form).
    pub async fn register(
        &self,
        user: &UserId,
        challenge_id: &str,
        credential: &RegisterPublicKeyCredential,
        actor: &Actor,
    ) -> Result<Listed, PasskeyRefusal> {
        let now = self.clock.now().timestamp();
        let state = self
            .mfa
            .take_ceremony(challenge_id, REGISTER, Some(user), now)
            .await?
            .ok_or(PasskeyRefusal::NoCeremony)?;
        let state: PasskeyRegistration = serde_json::from_str(&state)
            .map_err(|e| StoreError::Failed(format!("a ceremony's state: {e}")))?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(credential, &state)
            .map_err(crate_error)?;
        let id_bytes: &[u8] = passkey.cred_id().as_ref();
        if id_bytes.len() > MAX_CREDENTIAL_ID_BYTES {
            return Err(PasskeyRefusal::NotVerified(
                "the credential id is longer than 256 bytes".into(),
            ));
        }
        let stored = StoredPasskey {
            id: B64.encode(id_bytes),
            credential: stored_state(&passkey)?,
            created_at: now,
            last_used_at: None,
        };
        match self.mfa.add_passkey(user, &stored, actor, now).await? {
            Added::Done => Ok(Listed {
                id: stored.id,
                created_at: now,
                last_used_at: None,
            }),
            Added::Exists => Err(PasskeyRefusal::Exists),
            Added::TooMany => Err(PasskeyRefusal::TooMany),
        }
    }

    pub async fn list(&self, user: &UserId) -> Result<Vec<Listed>, PasskeyRefusal> {
        Ok(self
            .mfa
            .passkeys(user)
            .await?
            .into_iter()
            .map(|p| Listed {
                id: p.id,
                created_at: p.created_at,
                last_used_at: p.last_used_at,
            })
            .collect())
    }

    pub async fn remove(
        &self,
        user: &UserId,
        id: &str,
        actor: &Actor,
    ) -> Result<(), PasskeyRefusal> {
        let now = self.clock.now().timestamp();
        match self.mfa.remove_passkey(user, id, actor, now).await? {
            true => Ok(()),
            false => Err(PasskeyRefusal::NotFound),
        }
    }

    /// Sign-in options: no `allowCredentials`, so the browser offers the passkeys it
    /// holds for this relying party.
    pub async fn sign_in_options(&self) -> Result<Options, PasskeyRefusal> {
        let (rcr, state): (_, DiscoverableAuthentication) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(crate_error)?;
        let mut options = serde_json::to_value(&rcr)
            .map_err(|e| StoreError::Failed(format!("sign-in options: {e}")))?;
        // A button's modal sign-in, not the autofill ("conditional") one.
        if let Some(map) = options.as_object_mut() {
            map.remove("mediation");
        }
        let challenge_id = domain::opaque::random_id();
        let now = self.clock.now().timestamp();
        self.mfa
            .begin_ceremony(&challenge_id, SIGN_IN, None, &stored_state(&state)?, now)
            .await?;
        Ok(Options {
            challenge_id,
            options,
        })
    }

    /// Signs in with a passkey: the session's tokens.
    pub async fn sign_in(
        &self,
        challenge_id: &str,
        credential: &PublicKeyCredential,
        client: &ClientId,
    ) -> Result<Tokens, PasskeyRefusal> {
        let now = self.clock.now().timestamp();
        let state = self
            .mfa
            .take_ceremony(challenge_id, SIGN_IN, None, now)
            .await?
            .ok_or(PasskeyRefusal::NoCeremony)?;
        let state: DiscoverableAuthentication = serde_json::from_str(&state)
            .map_err(|e| StoreError::Failed(format!("a ceremony's state: {e}")))?;
        let (handle, raw_id) = self
            .webauthn
            .identify_discoverable_authentication(credential)
            .map_err(crate_error)?;
        // No registered credential is longer; a longer id would only overflow a key.
        if raw_id.len() > MAX_CREDENTIAL_ID_BYTES {
            return Err(PasskeyRefusal::Unknown);
        }
        let id = B64.encode(raw_id);
        let Some(user) = self.mfa.passkey_owner(&id).await? else {
            return Err(PasskeyRefusal::Unknown);
        };
        let key = self.keys.key().await?;
        if handle.as_bytes() != &key.user_handle(&user) {
            return Err(PasskeyRefusal::Unknown);
        }
        let (stored, sign_in, account) = tokio::join!(
            self.mfa.passkey(&user, &id),
            self.sessions.sign_in(&user),
            self.accounts.password_account_of(&user)
        );
        let stored = stored?.ok_or(PasskeyRefusal::Unknown)?;
        let generation = sign_in?.generation;
        // The grants the account's credential carries; none for an account without one.
        let scope = account?.map(|a| a.credential.scope).unwrap_or_default();
        let mut passkey: Passkey = serde_json::from_str(&stored.credential)
            .map_err(|e| StoreError::Failed(format!("a stored passkey: {e}")))?;
        let result = self
            .webauthn
            .finish_discoverable_authentication_v2(credential, state, &passkey)
            .map_err(crate_error)?;
        passkey.update_credential(&result);
        let held = if result.backup_eligible() {
            "swk"
        } else {
            "hwk"
        };
        let auth = Authentication::stored(Some(now), Some(&format!("{held} user")));
        let (tokens, first) = issue(self.tokens, &user, &scope, client, generation, &auth).await?;
        match self
            .mfa
            .open_with_passkey(&first.session(), &stored, &stored_state(&passkey)?)
            .await?
        {
            PasskeyLogin::Opened => Ok(tokens),
            PasskeyLogin::PasskeyChanged => Err(PasskeyRefusal::Unknown),
            PasskeyLogin::Refused => Err(PasskeyRefusal::NotVerified(
                "the account cannot sign in now".into(),
            )),
        }
    }
}
