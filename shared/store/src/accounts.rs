//! Accounts: the credential item (`EMAIL#<email>` / `CREDENTIAL`: user id, password hash,
//! whether the email is verified, the login-attempt window) and the profile it comes
//! with. The credential's key is the email's uniqueness marker, so registration is one
//! transaction that can succeed for only one account per address.
//!
//! A login reserves an attempt before the password is checked: one UpdateItem that
//! counts the attempt only while fewer than the limit were made in the window, and
//! returns the credential. Concurrent guesses cannot exceed the limit, and the read is
//! the same call.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use domain::otp::{Challenge, Purpose, SendLog};
use domain::{Email, PhoneNumber, Profile, ProfilePatch, UserId, timestamp};
use serde::Deserialize;

use crate::StoreError;
use crate::batch::batch_get;
use crate::codes::{self, CodeSlot, CodeState};
use crate::expr::Expression;
use crate::item::{Item, n};
use crate::keys::{ItemKey, PK};
use crate::profile_item::{Guard, update_expression};
use crate::txn::{Outcome, put, transact, update, update_item};

#[derive(Clone, Debug)]
pub struct AccountStore {
    client: Client,
    table: String,
}

/// What a login needs to know.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Credential {
    pub user_id: String,
    pub password_hash: String,
    #[serde(default)]
    pub email_verified: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("another account has this email")]
    EmailTaken,
    #[error("the user id is taken")]
    UserExists,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How an attempt to log in was counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Counted; check the password against this credential.
    Allowed(Credential),
    /// The limit was reached in the current window; try again after it.
    Limited { retry_after_secs: i64 },
    /// No account has this email.
    Unknown,
}

/// Attempts per window (SPEC: 5 failures in 15 minutes).
pub const MAX_ATTEMPTS: u32 = 5;
pub const ATTEMPT_WINDOW_SECS: i64 = 15 * 60;

const ATTEMPTS: &str = "login_attempts";
const WINDOW: &str = "login_window_start";

impl AccountStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Creates the account: its profile (with `email`) and its credential, in one
    /// transaction conditioned on neither existing.
    pub async fn register(
        &self,
        user: &UserId,
        email: &Email,
        password_hash: &str,
        profile: &ProfilePatch,
        unverified_phone: Option<&PhoneNumber>,
        now: DateTime<Utc>,
    ) -> Result<Profile, RegisterError> {
        let mut p = update_expression(user, profile, now, Guard::New);
        p.set("email", AttributeValue::S(email.as_str().to_owned()));
        // A number given at sign-up is kept unverified and claims nothing: it becomes the
        // account's only through the SMS flow, so nobody can squat a number by typing it.
        if let Some(phone) = unverified_phone {
            p.set("phone", AttributeValue::S(phone.e164().to_owned()));
            p.set("phone_verified", AttributeValue::Bool(false));
        }
        let mut credential = Item::from([
            (
                "user_id".to_owned(),
                AttributeValue::S(user.as_str().to_owned()),
            ),
            (
                "password_hash".to_owned(),
                AttributeValue::S(password_hash.to_owned()),
            ),
            ("email_verified".to_owned(), AttributeValue::Bool(false)),
            ("created_at".to_owned(), AttributeValue::S(timestamp(now))),
        ]);
        credential.extend(ItemKey::credential(email).to_item());
        let mut c = Expression::default();
        let pk = c.name(PK);
        c.condition(format!("attribute_not_exists({pk})"));
        let profile_key = ItemKey::profile(user);
        let items = vec![
            update(&self.table, &profile_key, p)?,
            put(&self.table, credential, c)?,
        ];
        let mut attempts = 0;
        loop {
            match transact(&self.client, items.clone()).await? {
                Outcome::Done => break,
                Outcome::FirstFailed(_) => return Err(RegisterError::UserExists),
                Outcome::Failed(_) => return Err(RegisterError::EmailTaken),
                // Another transaction on these items was in flight: try again; its outcome
                // decides ours (a winner's claim fails our condition next time).
                Outcome::Conflict if attempts < 3 => attempts += 1,
                Outcome::Conflict => {
                    return Err(
                        StoreError::Unavailable("registration kept conflicting".into()).into(),
                    );
                }
            }
        }
        // The transaction wrote exactly this: no read needed to answer with it.
        let mut created = Profile::empty(user, now)
            .patched(profile, now)
            .map_err(|e| StoreError::Failed(e.to_string()))?;
        created.email = Some(email.as_str().to_owned());
        created.phone = unverified_phone.map(|p| p.e164().to_owned());
        Ok(created)
    }

    /// Reserves one login attempt for `email` and returns its credential: one call when
    /// no window is open (the usual login), two inside one.
    pub async fn begin_login(&self, email: &Email, now: i64) -> Result<Attempt, StoreError> {
        let key = ItemKey::credential(email);
        for _ in 0..3 {
            // No window, or an old one: open a window with this attempt.
            let mut e = Expression::default();
            let (attempts, window, pk) = (e.name(ATTEMPTS), e.name(WINDOW), e.name(PK));
            let (one, start, cutoff) = (
                e.value(n(1)),
                e.value(n(now)),
                e.value(n(now - ATTEMPT_WINDOW_SECS)),
            );
            e.set_raw(attempts, one);
            e.set_raw(window.clone(), start);
            e.condition(format!(
                "attribute_exists({pk}) AND (attribute_not_exists({window}) OR {window} <= {cutoff})"
            ));
            match self
                .counted(update_item(&self.client, &self.table, &key, e))
                .await?
            {
                Counted::Yes(credential) => return Ok(Attempt::Allowed(credential)),
                Counted::No(None) => return Ok(Attempt::Unknown),
                Counted::No(Some(_)) => {}
            }
            // A window is open: count the attempt if it has room.
            let mut e = Expression::default();
            let (attempts, window, pk) = (e.name(ATTEMPTS), e.name(WINDOW), e.name(PK));
            let (one, max, cutoff) = (
                e.value(n(1)),
                e.value(n(MAX_ATTEMPTS)),
                e.value(n(now - ATTEMPT_WINDOW_SECS)),
            );
            e.set_raw(attempts.clone(), format!("{attempts} + {one}"));
            e.condition(format!(
                "attribute_exists({pk}) AND {window} > {cutoff} AND {attempts} < {max}"
            ));
            match self
                .counted(update_item(&self.client, &self.table, &key, e))
                .await?
            {
                Counted::Yes(credential) => return Ok(Attempt::Allowed(credential)),
                Counted::No(None) => return Ok(Attempt::Unknown),
                Counted::No(Some(old)) if window_open(&old, now) => {
                    let started = number(&old, WINDOW).unwrap_or(now);
                    return Ok(Attempt::Limited {
                        retry_after_secs: (started + ATTEMPT_WINDOW_SECS - now).max(1),
                    });
                }
                // The window closed between the two calls: open a new one.
                Counted::No(Some(_)) => {}
            }
        }
        Err(StoreError::Unavailable("login attempts kept racing".into()))
    }

    async fn counted(
        &self,
        update: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
    ) -> Result<Counted, StoreError> {
        let result = update
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        match result {
            Ok(out) => Ok(Counted::Yes(serde_dynamo::from_item(
                out.attributes.unwrap_or_default(),
            )?)),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Ok(Counted::No(failed.item.clone()))
                }
                _ => Err(err.into()),
            },
        }
    }
}

enum Counted {
    Yes(Credential),
    /// The condition failed; the stored item, if any.
    No(Option<Item>),
}

fn number(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

fn window_open(item: &Item, now: i64) -> bool {
    number(item, WINDOW).is_some_and(|start| start > now - ATTEMPT_WINDOW_SECS)
}

/// The credential's update that clears its login window: a successful login writes it
/// in the transaction that opens the session, so the next failures start afresh.
pub(crate) fn clear_login_attempts(
    table: &str,
    email: &Email,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    let mut e = Expression::default();
    let (attempts, window) = (e.name(ATTEMPTS), e.name(WINDOW));
    e.remove(attempts);
    e.remove(window);
    update(table, &ItemKey::credential(email), e)
}

/// What the store holds about proving an account's email: one BatchGetItem.
#[derive(Debug, Clone, Default)]
pub struct EmailVerificationState {
    pub credential: Option<Credential>,
    pub challenge: Option<Challenge>,
    pub sends: Option<SendLog>,
}

impl EmailVerificationState {
    fn code_state(&self) -> CodeState<'_> {
        CodeState {
            challenge: self.challenge.as_ref(),
            sends: self.sends.as_ref(),
        }
    }
}

fn email_slot(email: &Email) -> CodeSlot {
    CodeSlot {
        challenge: ItemKey::email_challenge(email, Purpose::VerifyEmail),
        sends: ItemKey::email_sends(email),
    }
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
        let slot = email_slot(email);
        let credential_key = ItemKey::credential(email);
        let mut items = batch_get(
            &self.client,
            &self.table,
            vec![
                credential_key.clone(),
                slot.challenge.clone(),
                slot.sends.clone(),
            ],
        )
        .await?;
        let mut take = |key: &ItemKey| items.remove(key);
        Ok(EmailVerificationState {
            credential: take(&credential_key)
                .map(serde_dynamo::from_item)
                .transpose()?,
            challenge: take(&slot.challenge)
                .map(serde_dynamo::from_item)
                .transpose()?,
            sends: take(&slot.sends).map(serde_dynamo::from_item).transpose()?,
        })
    }

    /// Stores a new email code if nobody sent one since `before` was read.
    pub async fn reserve_email_code(
        &self,
        email: &Email,
        before: &EmailVerificationState,
        challenge: &Challenge,
        log: &SendLog,
        now: i64,
    ) -> Result<bool, StoreError> {
        codes::reserve(
            &self.client,
            &self.table,
            &email_slot(email),
            &before.code_state(),
            challenge,
            log,
            now,
        )
        .await
    }

    /// Undoes `reserve_email_code` after the email could not be sent.
    pub async fn release_email_code(
        &self,
        email: &Email,
        before: &EmailVerificationState,
        reserved: &Challenge,
        reserved_log: &SendLog,
    ) -> Result<(), StoreError> {
        codes::release(
            &self.client,
            &self.table,
            &email_slot(email),
            &before.code_state(),
            reserved,
            reserved_log,
        )
        .await
    }

    pub async fn record_wrong_email_code(
        &self,
        email: &Email,
        digest: &str,
    ) -> Result<Option<u32>, StoreError> {
        codes::record_wrong(
            &self.client,
            &self.table,
            &email_slot(email).challenge,
            digest,
        )
        .await
    }

    /// The email is proven: the credential says so and the code is spent, together.
    pub async fn commit_email_verification(
        &self,
        email: &Email,
        digest: &str,
        max_attempts: u32,
        now: i64,
    ) -> Result<(), VerifyError> {
        let mut credential = Expression::default();
        let pk = credential.name(PK);
        credential.condition(format!("attribute_exists({pk})"));
        credential.set("email_verified", AttributeValue::Bool(true));
        credential.set("email_verified_at", n(now));
        let mut code = Expression::default();
        let (digest_name, attempts, target) = (
            code.name("digest"),
            code.name("attempts"),
            code.name("target"),
        );
        let digest_value = code.value(AttributeValue::S(digest.to_owned()));
        let max = code.value(n(max_attempts));
        code.remove(digest_name.clone());
        code.remove(target);
        code.set("used_at", n(now));
        code.condition(format!(
            "{digest_name} = {digest_value} AND {attempts} < {max}"
        ));
        let items = vec![
            update(&self.table, &ItemKey::credential(email), credential)?,
            update(&self.table, &email_slot(email).challenge, code)?,
        ];
        match transact(&self.client, items).await? {
            Outcome::Done => Ok(()),
            _ => Err(VerifyError::CodeGone),
        }
    }
}
