//! Login attempts on the credential: a login reserves an attempt before the password
//! is checked, in one UpdateItem that counts the attempt only while fewer than the limit
//! were made in the window, and returns the credential. Concurrent guesses cannot exceed
//! the limit, and the read is the same call.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use domain::{Email, UserId};

use crate::StoreError;
use crate::accounts::{AccountStore, Credential};
use crate::expr::Expression;
use crate::item::{Item, n};
use crate::keys::{ItemKey, PK};
use crate::txn::{update, update_item};

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

/// Attempts per window: 5 failures in 15 minutes.
pub const MAX_ATTEMPTS: u32 = 5;
pub const ATTEMPT_WINDOW_SECS: i64 = 15 * 60;

pub(crate) const ATTEMPTS: &str = "login_attempts";
pub(crate) const WINDOW: &str = "login_window_start";

impl AccountStore {
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
/// Conditioned on the credential being as the login read it (still there under this
/// address, the same account, the same grants): a login racing an erasure, an email
/// change or a revoked grant opens no session, and no write recreates a credential.
pub(crate) fn clear_login_attempts(
    table: &str,
    email: &Email,
    user: &UserId,
    scope: &str,
    password_hash: Option<&str>,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    let mut e = Expression::default();
    let (attempts, window) = (e.name(ATTEMPTS), e.name(WINDOW));
    e.remove(attempts);
    e.remove(window);
    let (owner, granted) = (e.name("user_id"), e.name("scope"));
    let (me, read) = (
        e.value(AttributeValue::S(user.as_str().to_owned())),
        e.value(AttributeValue::S(scope.to_owned())),
    );
    let grants_as_read = if scope.is_empty() {
        format!("(attribute_not_exists({granted}) OR {granted} = {read})")
    } else {
        format!("{granted} = {read}")
    };
    e.condition(format!("{owner} = {me} AND {grants_as_read}"));
    // A password set since the login read the credential (a reset, a change) ends the
    // login too: the old password must not open a session after it.
    if let Some(hash) = password_hash {
        let (stored, checked) = (
            e.name("password_hash"),
            e.value(AttributeValue::S(hash.to_owned())),
        );
        e.condition(format!("{stored} = {checked}"));
    }
    update(table, &ItemKey::credential(email), e)
}
