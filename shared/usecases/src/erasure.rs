//! Erasing an account (GDPR art. 17): the holder proves it is them with their
//! password or a code sent to their verified phone (else email); a partner or an
//! operator erases without one. The account is marked first, so every route answers as
//! for a missing user from then on; then everything of it goes, in steps a retry can
//! repeat (`store::PrivacyStore`); a retry of an erasure under way needs no new proof.

use domain::login::LoginLimits;
use domain::otp::{CodeRefusal, CodeSent, OtpCode, Purpose};
use domain::password::Password;
use domain::ports::{EmailSender, OtpKeys, SmsSender, UserObjects};
use domain::privacy::{ErasedBy, owner_prefixes};
use domain::source::RequestSource;
use domain::{Clock, Email, PhoneNumber, Profile, UserId, timestamp};
use store::{
    AccountStore, Attempt, Erasure as Marked, ErasureRequest, ErasureStanding, OneTimeCode,
    PrivacyStore, ProfileStore, ProofState, StoreError,
};

use crate::codes::{self, CodeFailure, CodeFor, CodeSettings, Letter};

/// What erases an account: the stores, the bucket, and the key of the tombstone's
/// hashes. A partner or an operator erases with it directly (`by_authority`).
pub struct Eraser<'a, K, O> {
    pub privacy: &'a PrivacyStore,
    pub objects: &'a O,
    pub keys: &'a K,
    pub clock: &'a Clock,
}

/// The holder's own erasure: the eraser, and what judges their proof (the password,
/// or a code by the OTP module).
pub struct HolderErasure<'a, S, E, K, O> {
    pub eraser: Eraser<'a, K, O>,
    pub profiles: &'a ProfileStore,
    pub accounts: &'a AccountStore,
    pub sms: &'a S,
    pub email: &'a E,
    /// The codes that prove the request: the same key and clock as the eraser's.
    pub codes: &'a CodeSettings<K>,
    /// A wrong password counts as a failed login.
    pub login_limits: &'a LoginLimits,
}

/// What the holder sent to prove the request is theirs.
#[derive(Debug, Clone)]
pub enum Proof {
    None,
    Password(Password),
    Code(OtpCode),
}

#[derive(Debug)]
pub enum Outcome {
    /// No proof came: a code went to the verified phone or email.
    CodeSent(CodeSent),
    /// Nothing of the account is left but its tombstone.
    Erased,
}

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("no such user")]
    NotFound,
    #[error("the account is erased already")]
    AlreadyErased,
    #[error("the password is wrong")]
    WrongPassword,
    #[error("too many wrong passwords")]
    PasswordLimited { retry_after_secs: i64 },
    /// No verified phone or email to send a code to, and no password.
    #[error("the account has no way to prove its holder")]
    NoProofPossible,
    /// The code was refused, or a dependency or the store failed.
    #[error(transparent)]
    Failed(CodeFailure),
}

codes::refusal_from_failure!(Refusal);

/// Where a code for the holder goes, as an address.
enum Destination {
    Phone(PhoneNumber),
    Email(Email),
}

impl Destination {
    fn as_store(&self) -> store::Destination<'_> {
        match self {
            Self::Phone(p) => store::Destination::Phone(p),
            Self::Email(e) => store::Destination::Email(e),
        }
    }

    fn target(&self) -> String {
        codes::target_of(self.as_store())
    }
}

impl<K: OtpKeys, O: UserObjects> Eraser<'_, K, O> {
    /// A partner's (`users:delete`) or an operator's erasure: no proof, the actor is
    /// recorded. An account already being erased is finished. An id with items but no
    /// profile is erased too: its mark creates the profile item the tombstone becomes.
    pub async fn by_authority(
        &self,
        user: &UserId,
        by: &ErasedBy,
        request_id: &str,
    ) -> Result<Outcome, Refusal> {
        // Twice at most: a profile written while an id without one was being marked
        // sends the erasure back to the account.
        for _ in 0..2 {
            let account = self.privacy.account(user).await?;
            let standing = match account.standing {
                ErasureStanding::Missing if !self.privacy.holds_items(user).await? => {
                    return Err(Refusal::NotFound);
                }
                ErasureStanding::Missing => self.mark(user, None, by, request_id).await?,
                ErasureStanding::Live => {
                    let profile = account.profile.ok_or(Refusal::NotFound)?;
                    self.mark(user, Some(&profile), by, request_id).await?
                }
                other => other,
            };
            match standing {
                ErasureStanding::Erasing(marked) => {
                    self.complete(&marked).await?;
                    return Ok(Outcome::Erased);
                }
                ErasureStanding::Erased => return Err(Refusal::AlreadyErased),
                ErasureStanding::Missing => return Err(Refusal::NotFound),
                ErasureStanding::Live => {}
            }
        }
        Err(StoreError::Unavailable("the account kept changing during its erasure".into()).into())
    }

    pub(crate) async fn erase(
        &self,
        user: &UserId,
        profile: &Profile,
        by: &ErasedBy,
        request_id: &str,
    ) -> Result<Outcome, Refusal> {
        match self.mark(user, Some(profile), by, request_id).await? {
            ErasureStanding::Erasing(marked) => {
                self.complete(&marked).await?;
                Ok(Outcome::Erased)
            }
            ErasureStanding::Erased => Err(Refusal::AlreadyErased),
            ErasureStanding::Missing | ErasureStanding::Live => Err(Refusal::NotFound),
        }
    }

    /// Marks the account of `profile` `erasing`, with keyed hashes of its email and
    /// phone; without a profile, the items of an id that has none (`Live` back: a
    /// profile was written meanwhile).
    async fn mark(
        &self,
        user: &UserId,
        profile: Option<&Profile>,
        by: &ErasedBy,
        request_id: &str,
    ) -> Result<ErasureStanding, Refusal> {
        let (mut email_hash, mut phone_hash) = (None, None);
        if let Some(profile) = profile {
            let key = self.keys.key().await.map_err(codes::unavailable)?;
            email_hash = profile
                .email
                .as_deref()
                .and_then(|e| Email::parse(e).ok())
                .map(|e| key.identifier_hash("email", &e.normalized()));
            phone_hash = profile
                .phone
                .as_deref()
                .and_then(|p| PhoneNumber::parse(p).ok())
                .map(|p| key.identifier_hash("phone", p.e164()));
        }
        let at = timestamp(self.clock.now());
        let by = by.label();
        let request = ErasureRequest {
            by: &by,
            request_id,
            at: &at,
            email_hash,
            phone_hash,
        };
        Ok(match profile {
            Some(_) => self.privacy.mark(user, &request).await?,
            None => self.privacy.mark_orphan(user, &request).await?,
        })
    }

    /// Every step of an erasure, each safe to repeat: the items outside the
    /// partition, the sessions, the objects, the partition in batches, the tombstone.
    async fn complete(&self, marked: &Marked) -> Result<(), Refusal> {
        let user = &marked.user;
        self.privacy.keep_member(user).await?;
        self.privacy.erase_outside(marked).await?;
        self.privacy.erase_sessions(user).await?;
        let key = self
            .keys
            .key()
            .await
            .map_err(|e| Refusal::Failed(CodeFailure::Unavailable(e.0)))?;
        let mut objects = marked.avatar_keys.clone();
        for prefix in owner_prefixes(key, user) {
            let listed = self
                .objects
                .list(&prefix)
                .await
                .map_err(|e| Refusal::Failed(CodeFailure::Unavailable(e.to_string())))?;
            objects.extend(listed.into_iter().map(|o| o.key));
        }
        self.objects
            .delete_all(&objects)
            .await
            .map_err(|e| Refusal::Failed(CodeFailure::Unavailable(e.to_string())))?;
        let mut deleted = 0;
        loop {
            let batch = self.privacy.erase_batch(user).await?;
            if batch == 0 {
                break;
            }
            deleted += batch;
        }
        self.privacy.finish(user).await?;
        tracing::info!(user = %user, items = deleted, objects = objects.len(), "account erased");
        Ok(())
    }
}

impl<S: SmsSender, E: EmailSender, K: OtpKeys, O: UserObjects> HolderErasure<'_, S, E, K, O> {
    /// `DELETE /users/me`: the holder's own erasure.
    pub async fn by_holder(
        &self,
        user: &UserId,
        proof: Proof,
        request_id: &str,
        source: &RequestSource,
    ) -> Result<Outcome, Refusal> {
        let account = self.eraser.privacy.account(user).await?;
        // Not while an operator has it disabled: the holder's token may be a thief's, and
        // an erasure would take the account's audit with it. Operators and partners
        // erase it (`by_authority`).
        if account
            .profile
            .as_ref()
            .is_some_and(|p| p.disabled_at.is_some())
        {
            return Err(StoreError::Disabled.into());
        }
        match account.standing {
            // Items without a profile (segments joined with an identity provider's
            // token) have no password or verified contact to prove their holder by:
            // a partner or an operator erases them.
            ErasureStanding::Missing => {
                return Err(if self.eraser.privacy.holds_items(user).await? {
                    Refusal::NoProofPossible
                } else {
                    Refusal::NotFound
                });
            }
            ErasureStanding::Erased => return Err(Refusal::AlreadyErased),
            ErasureStanding::Erasing(marked) => {
                self.eraser.complete(&marked).await?;
                return Ok(Outcome::Erased);
            }
            ErasureStanding::Live => {}
        }
        let Some(profile) = account.profile else {
            return Err(Refusal::NotFound);
        };
        let email = profile.email.as_deref().and_then(|e| Email::parse(e).ok());
        let profile_phone = profile.proven_phone();
        // A number proven by a change within the day proves nothing yet: a stolen
        // session could have just proven its thief's.
        let phone = profile.settled_phone(self.eraser.clock.now());
        let state = self
            .eraser
            .privacy
            .load_proof(user, email.as_ref(), phone.as_ref())
            .await?;
        // The verified phone, else the verified email.
        let email_verified = state.email_proven();
        let destination = phone.map(Destination::Phone).or_else(|| {
            email
                .clone()
                .filter(|_| email_verified)
                .map(Destination::Email)
        });
        match proof {
            Proof::Password(password) => {
                // Its login: the email its credential is under, else (an account whose
                // unproven address another sign-up took) its proven number.
                let login = match (email.as_ref(), &state.credential) {
                    (Some(email), Some(_)) => Some(store::Destination::Email(email)),
                    _ => profile_phone.as_ref().map(store::Destination::Phone),
                };
                self.check_password(user, login, &password, source).await?
            }
            Proof::Code(code) => {
                let destination = destination.ok_or(Refusal::NoProofPossible)?;
                let items = proof_code(&state, &destination)?;
                let now = self.eraser.clock.now().timestamp();
                let digest = self
                    .codes
                    .check(items, code_for(user, &destination.target()), &code, now)
                    .await?;
                // Spent before the mark, on the condition every flow's write spends its
                // code on: right codes count only among the first tries.
                if !items
                    .spend_alone(&digest, self.codes.policy.max_attempts, now)
                    .await?
                {
                    return Err(CodeRefusal::Expired.into());
                }
            }
            Proof::None => {
                let destination = destination.ok_or(Refusal::NoProofPossible)?;
                return self.send_code(user, &destination, &state).await;
            }
        }
        self.eraser
            .erase(user, &profile, &ErasedBy::User, request_id)
            .await
    }

    async fn check_password(
        &self,
        user: &UserId,
        login: Option<store::Destination<'_>>,
        password: &Password,
        source: &RequestSource,
    ) -> Result<(), Refusal> {
        let Some(login) = login else {
            // As long as a wrong password takes, and the same answer.
            crate::hashing::password_matches(password, None).await;
            return Err(Refusal::WrongPassword);
        };
        let now = self.eraser.clock.now().timestamp();
        // Counted as a login attempt: a stolen access token does not buy unlimited guesses.
        let attempt = self
            .accounts
            .begin_login(login, source, self.login_limits, now)
            .await?;
        let credential = match attempt {
            Attempt::Limited { retry_after_secs } => {
                return Err(Refusal::PasswordLimited { retry_after_secs });
            }
            Attempt::Unknown => return Err(Refusal::WrongPassword),
            Attempt::Allowed(found, _) => found.credential,
        };
        if credential.user_id != user.as_str()
            || !crate::hashing::password_matches(password, Some(credential.password_hash)).await
        {
            return Err(Refusal::WrongPassword);
        }
        Ok(())
    }

    async fn send_code(
        &self,
        user: &UserId,
        destination: &Destination,
        state: &ProofState,
    ) -> Result<Outcome, Refusal> {
        let items = proof_code(state, destination)?;
        let now = self.eraser.clock.now().timestamp();
        let target = destination.target();
        let code = code_for(user, &target);
        let via = codes::ToHolder {
            sms: self.sms,
            quota: &self.profiles.sms_quota(),
            texts_as: domain::sms::Recipient::Holder,
            email: self.email,
            letter: ERASE_ACCOUNT,
        };
        let sent = self
            .codes
            .send_to_holder(via, destination.as_store(), items, code, now)
            .await?;
        Ok(Outcome::CodeSent(sent))
    }
}

/// An erasure's code proves the request for the user, to where it went (`target`:
/// the destination's canonical form).
fn code_for<'a>(user: &'a UserId, target: &'a str) -> CodeFor<'a> {
    CodeFor {
        purpose: Purpose::EraseAccount,
        subject: user.as_str(),
        target,
    }
}

/// The erasure code as read for where it goes.
fn proof_code<'a>(
    state: &'a ProofState,
    destination: &Destination,
) -> Result<&'a OneTimeCode, Refusal> {
    state
        .code(destination.as_store())
        .ok_or(Refusal::NoProofPossible)
}

/// The email that carries an erasure's code.
const ERASE_ACCOUNT: Letter = Letter {
    subject: "Confirm the erasure of your account",
    text: |code, minutes| {
        format!(
            "Your code to erase your account is {code}. It expires in {minutes} minutes. \
             If you did not ask to erase your account, change your password."
        )
    },
};
