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
use aws_sdk_dynamodb::types::TransactWriteItem;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use domain::{Actor, Consents, Email, PhoneNumber, Profile, ProfilePatch, UserId, timestamp};
use serde::Deserialize;

use crate::StoreError;
use crate::codes::{CodeKind, OneTimeCode};
use crate::consent_item::{audit_puts, set_consents};
use crate::expr::Expression;
use crate::item::{Item, n};
use crate::keys::{ItemKey, PK};
use crate::markers::{claim_phone, holder};
use crate::profile_item::{Guard, VERSION, update_expression, writable_profile};
use crate::session_item::{NewSession, open_items};
use crate::txn::{Outcome, none_if_condition_failed, put, transact, update, update_item};

/// On a credential moved to a new address by an email change: when. Its insert there is
/// no new account, and it keeps its `version`, the credential aggregate's count.
pub(crate) const MOVED_AT: &str = "moved_at";

#[derive(Clone, Debug)]
pub struct AccountStore {
    pub(crate) client: Client,
    pub(crate) table: String,
}

/// What a login needs to know.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Credential {
    pub user_id: String,
    pub password_hash: String,
    #[serde(default)]
    pub email_verified: bool,
    /// The account proved a number at sign-up (seed 000).
    #[serde(default)]
    pub phone_verified: bool,
    /// Scopes an operator granted the account (`users:admin`); its logins carry them.
    #[serde(default)]
    pub scope: String,
}

impl Credential {
    /// Login needs a proven email or phone.
    pub fn verified(&self) -> bool {
        self.email_verified || self.phone_verified
    }
}

/// A new account as the store writes it.
#[derive(Clone, Copy)]
pub struct AccountRecord<'a> {
    pub user: &'a UserId,
    pub email: &'a Email,
    pub password_hash: &'a str,
    pub profile: &'a ProfilePatch,
    /// Who the consent audit entries name.
    pub actor: &'a Actor,
    pub now: DateTime<Utc>,
}

/// A code judged right, to be spent by the write it authorises: that write fails if
/// the code was used, replaced or burned since it was judged.
pub struct SpentCode<'a> {
    pub code: &'a OneTimeCode,
    pub digest: &'a str,
    pub max_attempts: u32,
}

impl SpentCode<'_> {
    pub(crate) fn item(&self, now: i64) -> Result<TransactWriteItem, StoreError> {
        self.code.spend(self.digest, self.max_attempts, now)
    }
}

struct NewAccountDraft {
    /// The profile, then the credential.
    items: [TransactWriteItem; 2],
    audits: Vec<TransactWriteItem>,
    profile: Profile,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("another account has this email")]
    EmailTaken,
    #[error("another account holds the number")]
    PhoneTaken,
    #[error("the code was used, replaced or burned meanwhile")]
    CodeGone,
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

/// Attempts per window: 5 failures in 15 minutes.
pub const MAX_ATTEMPTS: u32 = 5;
pub const ATTEMPT_WINDOW_SECS: i64 = 15 * 60;

const ATTEMPTS: &str = "login_attempts";
const WINDOW: &str = "login_window_start";

impl AccountStore {
    /// Counts a sign-up from `source` in the hour starting at `hour` if fewer than
    /// `limit` came from it; false when its budget is spent.
    pub async fn take_signup(
        &self,
        source: &domain::source::RequestSource,
        hour: i64,
        limit: u32,
    ) -> Result<bool, StoreError> {
        let key = crate::keys::ItemKey::signups(source, hour);
        crate::counter::take_one(&self.client, &self.table, &key, limit, hour + 3600).await
    }

    /// The hourly cap on texts, in this store's table.
    pub fn sms_quota(&self) -> crate::SmsQuota {
        crate::SmsQuota::new(self.client.clone(), &self.table)
    }

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Seed 001's sign-up: the profile (with `email`) and the credential, unverified, in
    /// one transaction conditioned on neither existing.
    pub async fn register(
        &self,
        account: &AccountRecord<'_>,
        unverified_phone: Option<&PhoneNumber>,
    ) -> Result<Profile, RegisterError> {
        // A number given at sign-up is kept unverified and claims nothing: it becomes the
        // account's only through the SMS flow, so nobody can squat a number by typing it.
        let draft = self.new_account(account, unverified_phone, false)?;
        let [profile, credential] = draft.items;
        let mut items = vec![profile, credential];
        items.extend(draft.audits);
        self.create(items, |_| RegisterError::EmailTaken).await?;
        Ok(draft.profile)
    }

    /// Seed 000's sign-up with a number the code proved: the profile (phone verified),
    /// the credential, the number's marker, the code spent and the first login session,
    /// all in one transaction, so a failure leaves no account and an unspent code.
    /// With `card`, the user's loyalty card is written `pending` in the same transaction.
    pub async fn register_with_phone(
        &self,
        account: &AccountRecord<'_>,
        phone: &PhoneNumber,
        code: &SpentCode<'_>,
        session: &NewSession<'_>,
        card: Option<&domain::loyalty::LoyaltyCard>,
    ) -> Result<Profile, RegisterError> {
        let draft = self.new_account(account, Some(phone), true)?;
        let [profile, credential] = draft.items;
        let mut items = vec![
            profile,
            credential,
            claim_phone(&self.table, phone, account.user, &draft.profile.created_at)?,
            code.item(account.now.timestamp())?,
        ];
        items.extend(open_items(&self.table, session)?);
        items.extend(draft.audits);
        if let Some(card) = card {
            items.push(crate::loyalty::card_put(&self.table, account.user, card)?);
        }
        self.create(items, |position| match position {
            1 => RegisterError::EmailTaken,
            2 => RegisterError::PhoneTaken,
            _ => RegisterError::CodeGone,
        })
        .await?;
        Ok(draft.profile)
    }

    /// The profile and credential items of a new account, its consent audit entries, and
    /// the profile they make.
    fn new_account(
        &self,
        account: &AccountRecord<'_>,
        phone: Option<&PhoneNumber>,
        phone_verified: bool,
    ) -> Result<NewAccountDraft, StoreError> {
        let AccountRecord {
            user,
            email,
            password_hash,
            profile: patch,
            actor,
            now,
        } = *account;
        let consent_changes = Consents::default().diff(&patch.consents);
        let mut p = update_expression(user, patch, now, Guard::New);
        p.set("email", AttributeValue::S(email.as_str().to_owned()));
        if let Some(phone) = phone {
            p.set("phone", AttributeValue::S(phone.e164().to_owned()));
            p.set("phone_verified", AttributeValue::Bool(phone_verified));
        }
        set_consents(&mut p, &consent_changes, actor, now);
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
            (
                "phone_verified".to_owned(),
                AttributeValue::Bool(phone_verified),
            ),
            ("created_at".to_owned(), AttributeValue::S(timestamp(now))),
            (VERSION.to_owned(), AttributeValue::N("1".into())),
        ]);
        credential.extend(ItemKey::credential(email).to_item());
        let mut c = Expression::default();
        let pk = c.name(PK);
        c.condition(format!("attribute_not_exists({pk})"));
        // The transaction writes exactly this: no read needed to answer with it.
        let mut created = Profile::empty(user, now)
            .patched(patch, now)
            .map_err(|e| StoreError::Failed(e.to_string()))?;
        created.email = Some(email.as_str().to_owned());
        created.phone = phone.map(|p| p.e164().to_owned());
        created.phone_verified = phone.is_some() && phone_verified;
        Ok(NewAccountDraft {
            items: [
                update(&self.table, &ItemKey::profile(user), p)?,
                put(&self.table, credential, c)?,
            ],
            audits: audit_puts(&self.table, user, &consent_changes, actor, now)?,
            profile: created,
        })
    }

    /// Runs a new account's transaction: item 0 is the profile, whose failure means the
    /// generated id collided; `failed_at` names the refusal for any other item.
    async fn create(
        &self,
        items: Vec<TransactWriteItem>,
        failed_at: impl Fn(usize) -> RegisterError,
    ) -> Result<(), RegisterError> {
        for _ in 0..4 {
            match transact(&self.client, items.clone()).await? {
                Outcome::Done => return Ok(()),
                Outcome::FirstFailed(_) => return Err(RegisterError::UserExists),
                Outcome::Failed(position) => return Err(failed_at(position)),
                // Another transaction on these items was in flight: try again; its outcome
                // decides ours (a winner's claim fails our condition next time).
                Outcome::Conflict => {}
            }
        }
        Err(StoreError::Unavailable("registration kept conflicting".into()).into())
    }

    /// Sets the scopes an operator grants the account of `email` (`users:admin`); its
    /// next logins carry them. Returns the account's user id, `None` if no account.
    pub async fn set_grants(
        &self,
        email: &Email,
        scope: &str,
    ) -> Result<Option<UserId>, StoreError> {
        let mut e = Expression::default();
        let pk = e.name(PK);
        e.condition(format!("attribute_exists({pk})"));
        e.set("scope", AttributeValue::S(scope.to_owned()));
        let result = update_item(&self.client, &self.table, &ItemKey::credential(email), e)
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let Some(out) = none_if_condition_failed(result)? else {
            return Ok(None);
        };
        let credential: Credential = serde_dynamo::from_item(out.attributes.unwrap_or_default())?;
        UserId::parse(&credential.user_id)
            .map(Some)
            .map_err(|e| StoreError::Failed(format!("stored user id: {e}")))
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
#[derive(Debug, Clone)]
pub struct EmailVerificationState {
    pub credential: Option<Credential>,
    pub code: OneTimeCode,
}

/// What the store holds about a sign-up with an email and a number (seed 000): one
/// BatchGetItem.
#[derive(Debug, Clone)]
pub struct PhoneRegistrationState {
    pub email_taken: bool,
    /// The account that holds the number's uniqueness marker.
    pub phone_owner: Option<String>,
    pub code: OneTimeCode,
}

/// What the store holds about a user's request to move their email: one BatchGetItem.
#[derive(Debug, Clone)]
pub struct EmailChangeState {
    pub profile: Option<Profile>,
    /// The account the new address belongs to, if any.
    pub new_owner: Option<String>,
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

    pub async fn load_phone_registration(
        &self,
        email: &Email,
        phone: &PhoneNumber,
    ) -> Result<PhoneRegistrationState, StoreError> {
        let (credential_key, owner_key) = (ItemKey::credential(email), ItemKey::phone_owner(phone));
        let (mut found, code) = OneTimeCode::read_with(
            &self.client,
            &self.table,
            CodeKind::RegisterPhone(phone),
            &[&credential_key, &owner_key],
        )
        .await?;
        Ok(PhoneRegistrationState {
            email_taken: found.remove(&credential_key).is_some(),
            phone_owner: holder(found.remove(&owner_key)),
            code,
        })
    }

    pub async fn load_email_change(
        &self,
        user: &UserId,
        new_email: &Email,
    ) -> Result<EmailChangeState, StoreError> {
        let (profile_key, credential_key) =
            (ItemKey::profile(user), ItemKey::credential(new_email));
        let kind = CodeKind::ChangeEmail { user, new_email };
        let (mut found, code) = OneTimeCode::read_with(
            &self.client,
            &self.table,
            kind,
            &[&profile_key, &credential_key],
        )
        .await?;
        Ok(EmailChangeState {
            profile: found
                .remove(&profile_key)
                .map(writable_profile)
                .transpose()?
                .flatten(),
            new_owner: holder(found.remove(&credential_key)),
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
