//! Failed logins, counted before the password is checked: one transaction takes a place in
//! three counts (the address from this source in the window, the address in the hour, the
//! source in the hour), each only while below its limit (`domain::login::LoginLimits`), so
//! concurrent guesses cannot pass a limit. Unknown addresses are counted like known ones.
//! A right password gives its place back in the transaction that opens the session, and
//! forgives the address's failures from that source.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use domain::UserId;
use domain::login::LoginLimits;
use domain::source::RequestSource;

use crate::StoreError;
use crate::accounts::AccountStore;
use crate::batch::query_partition;
use crate::codes::Destination;
use crate::expr::Expression;
use crate::item::n;
use crate::keys::{ItemKey, PK, SK, TTL_ATTRIBUTE};
use crate::password::PasswordAccount;
use crate::profile_item::VERSION;
use crate::txn::{Tagged, Verdict, condition_check, delete, update};

/// How an attempt to log in was counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Counted; check the password against this account's credential.
    Allowed(Box<PasswordAccount>, Reservation),
    /// A limit is reached; try again after it.
    Limited { retry_after_secs: i64 },
    /// Counted; no account has this email, or no account has proven this number.
    Unknown,
}

/// The places a login took in the counts: given back when its password was right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The address or number typed, in its canonical form.
    login: String,
    source: RequestSource,
    window: i64,
    hour: i64,
}

const COUNT: &str = "failures";
const HOUR_SECS: i64 = 3600;

#[derive(Clone, Copy)]
enum Count {
    AddressAndSource,
    Address,
    Source,
}

impl Reservation {
    fn keys(&self) -> [(Count, ItemKey); 3] {
        [
            (
                Count::AddressAndSource,
                ItemKey::login_failures(&self.login, &self.source, self.window),
            ),
            (
                Count::Address,
                ItemKey::login_failures_of_address(&self.login, self.hour),
            ),
            (
                Count::Source,
                ItemKey::login_failures_from(&self.source, self.hour),
            ),
        ]
    }

    /// The items that give the places back: the address's count from this source is
    /// forgiven, the hourly counts lose this attempt.
    pub(crate) fn given_back(&self, table: &str) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut items = Vec::new();
        for (count, key) in self.keys() {
            items.push(match count {
                Count::AddressAndSource => delete(table, &key, Expression::default())?,
                Count::Address | Count::Source => {
                    // Unconditional: a count that expired meanwhile must not cancel the
                    // login; it comes back as zero, with its hour's expiry.
                    let mut e = Expression::default();
                    let (name, one) = (e.name(COUNT), e.value(n(1)));
                    e.set_raw(
                        name.clone(),
                        format!("if_not_exists({name}, {one}) - {one}"),
                    );
                    let (ttl, ends) = (e.name(TTL_ATTRIBUTE), e.value(n(self.hour + HOUR_SECS)));
                    e.set_raw(ttl.clone(), format!("if_not_exists({ttl}, {ends})"));
                    update(table, &key, e)?
                }
            });
        }
        Ok(items)
    }
}

/// The failures a password reset forgives, deleted once it has committed: every count of
/// each address the account logs in with (its hour, and its windows from every source).
/// Guesses at the old password mean nothing once it is gone, and the holder, proven by
/// the code, is not kept out by a ceiling strangers filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forgiven {
    logins: Vec<String>,
}

impl Forgiven {
    pub fn new(logins: &[Destination<'_>]) -> Self {
        let mut canonical: Vec<String> = logins
            .iter()
            .map(|login| match login {
                Destination::Email(email) => email.normalized(),
                Destination::Phone(phone) => phone.e164().to_owned(),
            })
            .collect();
        canonical.sort();
        canonical.dedup();
        Self { logins: canonical }
    }
}

impl AccountStore {
    /// Deletes the counts a reset forgives, once it has committed: not in its
    /// transaction, which a flood of wrong logins on the same counts would keep
    /// cancelling. A count left behind (logged) ends with its window or hour.
    pub async fn forgive(&self, forgiven: &Forgiven) {
        for login in &forgiven.logins {
            if let Err(e) = self.forgive_login(login).await {
                tracing::warn!(error = %e, "login counts a reset forgives were left");
            }
        }
    }

    /// Every count of one address: its partition (an hour's and the windows of its
    /// sources, a few dozen at most), read and deleted item by item.
    async fn forgive_login(&self, login: &str) -> Result<(), StoreError> {
        let partition = ItemKey::login_failures_partition(login);
        for item in query_partition(&self.client, &self.table, &partition).await? {
            let key = [PK, SK]
                .into_iter()
                .filter_map(|name| Some((name.to_owned(), item.get(name)?.clone())))
                .collect();
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .send()
                .await?;
        }
        Ok(())
    }

    /// Gives this attempt's places back without opening a session: the password was
    /// right, but the account may not log in (unproven, disabled). Only wrong passwords
    /// count toward the limits.
    pub async fn give_back(&self, reservation: &Reservation) -> Result<(), StoreError> {
        let items = reservation.given_back(&self.table)?;
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await?;
        Ok(())
    }

    /// Takes this attempt's place in the counts and reads the account of `login` (an
    /// email, or a number its account has proven), side by side.
    pub async fn begin_login(
        &self,
        login: Destination<'_>,
        source: &RequestSource,
        limits: &LoginLimits,
        now: i64,
    ) -> Result<Attempt, StoreError> {
        let reservation = Reservation {
            login: match login {
                Destination::Email(email) => email.normalized(),
                Destination::Phone(phone) => phone.e164().to_owned(),
            },
            source: source.clone(),
            window: limits.window(now),
            hour: now - now.rem_euclid(HOUR_SECS),
        };
        let (taken, account) = tokio::join!(
            self.take_places(&reservation, limits, now),
            self.login_account(login)
        );
        if let Some(retry_after_secs) = taken? {
            return Ok(Attempt::Limited { retry_after_secs });
        }
        Ok(match account? {
            Some(account) => Attempt::Allowed(Box::new(account), reservation),
            None => Attempt::Unknown,
        })
    }

    /// The account an email logs in to (its credential, proven or not: the caller tells
    /// the two apart), or the account that proved a number.
    async fn login_account(
        &self,
        login: Destination<'_>,
    ) -> Result<Option<PasswordAccount>, StoreError> {
        match login {
            Destination::Email(email) => {
                let Some(credential) = self.credential(email).await? else {
                    return Ok(None);
                };
                let user = UserId::parse(&credential.user_id)
                    .map_err(|e| StoreError::Failed(format!("stored user id: {e}")))?;
                Ok(Some(PasswordAccount {
                    user,
                    email: Some(email.clone()),
                    phone: None,
                    phone_changed_at: None,
                    credential,
                }))
            }
            Destination::Phone(_) => self.password_account(login).await,
        }
    }

    /// `None` when every count had room and took the attempt; else the seconds until the
    /// count that is full opens again.
    async fn take_places(
        &self,
        reservation: &Reservation,
        limits: &LoginLimits,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let mut txn = Tagged::new();
        for (count, key) in reservation.keys() {
            let (max, ends) = match count {
                Count::AddressAndSource => (
                    limits.per_address_and_source,
                    reservation.window + limits.window_secs,
                ),
                Count::Address => (limits.per_address_per_hour, reservation.hour + HOUR_SECS),
                Count::Source => (limits.per_source_per_hour, reservation.hour + HOUR_SECS),
            };
            let mut e = Expression::default();
            let (name, zero, one, limit) =
                (e.name(COUNT), e.value(n(0)), e.value(n(1)), e.value(n(max)));
            e.set_raw(
                name.clone(),
                format!("if_not_exists({name}, {zero}) + {one}"),
            );
            e.set(TTL_ATTRIBUTE, n(ends));
            e.condition(format!("attribute_not_exists({name}) OR {name} < {limit}"));
            txn.push((count, ends), update(&self.table, &key, e)?);
        }
        for _ in 0..3 {
            match txn.send(&self.client).await? {
                Verdict::Done => return Ok(None),
                Verdict::Refused((_, ends)) => return Ok(Some((ends - now).max(1))),
                Verdict::Conflict => {}
            }
        }
        Err(StoreError::Unavailable("login attempts kept racing".into()))
    }
}

/// The credential as the login read it, checked in the transaction that opens the
/// session: still there where it was read (`key`), the same account, the same grants and
/// the password that was checked. A login racing an erasure, an email change, a revoked
/// grant or a new password opens no session, and nothing writes a credential back.
/// With `rehash`, the same conditions guard a write of the hash made again (a hash of
/// other parameters than ours, or of a password before normalizing): the login's one
/// transaction upgrades it, with no round trip added.
pub(crate) fn credential_as_read(
    table: &str,
    key: &ItemKey,
    user: &UserId,
    scope: &str,
    password_hash: &str,
    rehash: Option<&str>,
) -> Result<TransactWriteItem, StoreError> {
    let mut e = Expression::default();
    let (owner, granted, stored) = (e.name("user_id"), e.name("scope"), e.name("password_hash"));
    let (me, read, checked) = (
        e.value(AttributeValue::S(user.as_str().to_owned())),
        e.value(AttributeValue::S(scope.to_owned())),
        e.value(AttributeValue::S(password_hash.to_owned())),
    );
    let grants_as_read = if scope.is_empty() {
        format!("(attribute_not_exists({granted}) OR {granted} = {read})")
    } else {
        format!("{granted} = {read}")
    };
    let pk = e.name(PK);
    e.condition(format!(
        "attribute_exists({pk}) AND {owner} = {me} AND {grants_as_read} AND {stored} = {checked}"
    ));
    match rehash {
        None => condition_check(table, key, e),
        Some(new) => {
            e.set("password_hash", AttributeValue::S(new.to_owned()));
            e.count_write(VERSION);
            update(table, key, e)
        }
    }
}
