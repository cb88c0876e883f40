//! Login sessions and their refresh tokens (`domain::session`). A session item
//! (`USER#<id>` / `SESSION#<family>`) names the family's one live token (`current`) and
//! whether the family is revoked; a token item (`REFRESH#<sha256>` / `TOKEN`) names its
//! user and family, and once rotated, when and into which token. Every change is one
//! transaction conditioned on the session's `current`, so two refreshes racing with one
//! token cannot both win. Both items carry the TTL attribute.
//!
//! What a presented token may do (spent, retried, or reused and the family revoked) is
//! `domain::session::Standing`'s decision; this module writes it. A family keeps the live
//! token (`current`), the one it was rotated from (`previous`), and the children a retry
//! within the grace replaced (`superseded`, rare). A rotation deletes the token before `previous`,
//! so an erasure finds every token of a user from their sessions.

use aws_sdk_dynamodb::types::AttributeValue;
use domain::UserId;
use domain::session::{Authentication, ClientId, REFRESH_TOKEN_LIFETIME_SECS, Standing};
use serde::Deserialize;

use crate::StoreError;
use crate::expr::Expression;
use crate::item::{get_consistent, n};
use crate::keys::{ItemKey, PK, TTL_ATTRIBUTE};
use crate::login_attempts::{Reservation, credential_as_read};
use crate::password::PasswordAccount;
use crate::profile_item::ERASURE;
use crate::second_step::{NewChallenge, challenge_put};
use crate::session_epoch::generation_is;
use crate::session_item::{NewSession, open_items, token_put};
use crate::txn::{
    Outcome, condition_check, delete, transact, unless_condition_failed, update, update_item,
};
use aws_sdk_dynamodb::types::TransactWriteItem;

pub use crate::session_item::SessionStore;

/// What a refresh with a presented token came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The presented token is spent; `next` is the family's live token now.
    Rotated {
        user: UserId,
        /// The session (token family): the access token's `sid`.
        session: String,
        scope: String,
        client: ClientId,
        auth: Authentication,
    },
    /// Unknown, expired, revoked, or reused after the grace (the family is now revoked).
    Refused,
}

#[derive(Deserialize)]
struct StoredToken {
    user_id: String,
    family: String,
    /// The scopes the login granted; every token of the family carries them on.
    #[serde(default)]
    scope: String,
    /// The app the session was opened for; tokens stored before sessions named one
    /// belong to first-party apps.
    #[serde(default)]
    client_id: Option<String>,
    expires_at: i64,
    #[serde(default)]
    rotated_at: Option<i64>,
    #[serde(default)]
    rotated_to: Option<String>,
    /// The token this one was rotated from.
    #[serde(default)]
    parent: Option<String>,
    /// The account's sign-out generation the session was opened under.
    #[serde(default)]
    generation: i64,
    /// When and how the session began (`Authentication::stored`).
    #[serde(default)]
    auth_time: Option<i64>,
    #[serde(default)]
    amr: Option<String>,
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

impl SessionStore {
    /// A new session after a successful login, with its first refresh token; the login's
    /// place in the failure counts is given back in the same transaction, on the condition that
    /// the credential is as read (its account, grants and password: `password_hash` is the
    /// one the password was checked against) and the account is not being erased; with
    /// `rehash`, the credential takes that hash of the same password in the same write.
    /// `false`:
    /// it is not (an erasure, an email change, a revoked grant or a new password came
    /// first), and nothing is open.
    pub async fn open(
        &self,
        session: &NewSession<'_>,
        account: &PasswordAccount,
        password_hash: &str,
        rehash: Option<&str>,
        reservation: &Reservation,
    ) -> Result<bool, StoreError> {
        let items = open_items(&self.table, session)?;
        self.after_password(
            items,
            session.user,
            session.scope,
            session.generation,
            account,
            password_hash,
            rehash,
            reservation,
        )
        .await
    }

    /// `open`, for an account with a second factor: instead of a session, the login's
    /// second step (`mfa`), on the same conditions and with the same places given back.
    pub async fn open_second_step(
        &self,
        challenge: &NewChallenge<'_>,
        account: &PasswordAccount,
        password_hash: &str,
        rehash: Option<&str>,
        reservation: &Reservation,
    ) -> Result<bool, StoreError> {
        let items = vec![challenge_put(&self.table, challenge)?];
        self.after_password(
            items,
            challenge.user,
            challenge.scope,
            challenge.generation,
            account,
            password_hash,
            rehash,
            reservation,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn after_password(
        &self,
        mut items: Vec<TransactWriteItem>,
        user: &UserId,
        scope: &str,
        generation: i64,
        account: &PasswordAccount,
        password_hash: &str,
        rehash: Option<&str>,
        reservation: &Reservation,
    ) -> Result<bool, StoreError> {
        items.push(credential_as_read(
            &self.table,
            &account.credential_key(),
            user,
            scope,
            password_hash,
            rehash,
        )?);
        items.extend(reservation.given_back(&self.table)?);
        let mut alive = Expression::default();
        let erasure = alive.name(ERASURE);
        alive.condition(format!("attribute_not_exists({erasure})"));
        items.push(condition_check(
            &self.table,
            &ItemKey::profile(user),
            alive,
        )?);
        // Not signed out everywhere since the login read the generation.
        items.push(generation_is(&self.table, user, generation)?);
        match transact(&self.client, items).await? {
            Outcome::Done => Ok(true),
            Outcome::FirstFailed(_) | Outcome::Failed(..) => Ok(false),
            Outcome::Conflict => Err(StoreError::Unavailable(
                "the session could not be opened".into(),
            )),
        }
    }

    /// Spends `presented` for `next`: one read and one transaction.
    pub async fn rotate(
        &self,
        presented: &str,
        next: &str,
        now: i64,
    ) -> Result<Rotation, StoreError> {
        self.rotate_for(presented, next, now, None).await
    }

    /// `rotate`, refusing (and spending nothing) when the session was opened for another
    /// client than the one `asked` (RFC 6749 §6: a refresh token serves the client it was issued
    /// to).
    pub async fn rotate_for(
        &self,
        presented: &str,
        next: &str,
        now: i64,
        asked: Option<&ClientId>,
    ) -> Result<Rotation, StoreError> {
        // What the session named when a rotation last failed: judged against the token as
        // read again, since a concurrent refresh may have rotated it meanwhile.
        let mut named_instead: Option<Option<String>> = None;
        for _ in 0..3 {
            let Some(token) = self.token(presented).await? else {
                return Ok(Rotation::Refused);
            };
            let standing = Standing::of(
                token.expires_at,
                token.rotated_at,
                token.rotated_to.as_deref(),
                now,
            );
            if standing == Standing::Expired {
                return Ok(Rotation::Refused);
            }
            let user = UserId::parse(&token.user_id)
                .map_err(|e| StoreError::Failed(format!("stored user id: {e}")))?;
            let client = match token.client_id.as_deref() {
                Some(raw) => ClientId::parse(raw)
                    .map_err(|e| StoreError::Failed(format!("stored client id: {e}")))?,
                None => ClientId::default(),
            };
            let auth = Authentication::stored(token.auth_time, token.amr.as_deref());
            if asked.is_some_and(|asked| *asked != client) {
                return Ok(Rotation::Refused);
            }
            let superseded = named_instead
                .as_ref()
                .is_some_and(|current| standing.lost_to(current.as_deref(), presented));
            let Some(expected) = standing.expected(presented).filter(|_| !superseded) else {
                self.revoke_family(&user, &token.family).await?;
                tracing::warn!(family = %token.family, "refresh token reused; session revoked");
                return Ok(Rotation::Refused);
            };
            if let Standing::Retry { child } = standing
                && child == next
            {
                // The successor the first presentation got (successors are keyed by the
                // token they follow): nothing to write, it is handed out again while the
                // session still names it.
                let live = self.names(&user, &token.family, child).await?;
                return Ok(if live {
                    Rotation::Rotated {
                        session: token.family,
                        user,
                        scope: token.scope,
                        client,
                        auth,
                    }
                } else {
                    Rotation::Refused
                });
            }
            let mut session = Expression::default();
            let (current, revoked) = (session.name("current"), session.name("revoked"));
            let (expected_v, yes) = (
                session.value(s(expected)),
                session.value(AttributeValue::Bool(true)),
            );
            session.condition(format!(
                "{current} = {expected_v} AND (attribute_not_exists({revoked}) OR {revoked} <> {yes})"
            ));
            session.set("current", s(next));
            session.set("previous", s(presented));
            if let Standing::Retry { .. } = standing {
                // A retry within the grace: the child it replaces stays, so its use
                // later still shows a fork, and the session names it for an erasure.
                let superseded = session.name("superseded");
                let (empty, child) = (
                    session.value(AttributeValue::L(Vec::new())),
                    session.value(AttributeValue::L(vec![s(expected)])),
                );
                session.set_raw(
                    superseded.clone(),
                    format!("list_append(if_not_exists({superseded}, {empty}), {child})"),
                );
            }
            session.set(TTL_ATTRIBUTE, n(now + REFRESH_TOKEN_LIFETIME_SECS));
            session.set("last_used_at", n(now));
            let mut spent = Expression::default();
            // The grace runs from the first rotation: retries do not slide it along.
            let rotated_at = spent.name("rotated_at");
            let first = spent.value(n(now));
            spent.set_raw(
                rotated_at.clone(),
                format!("if_not_exists({rotated_at}, {first})"),
            );
            spent.set("rotated_to", s(next));
            let mut items = vec![
                update(
                    &self.table,
                    &ItemKey::session(&user, &token.family),
                    session,
                )?,
                update(&self.table, &ItemKey::refresh_token(presented), spent)?,
                token_put(
                    &self.table,
                    &NewSession {
                        user: &user,
                        family: &token.family,
                        token_hash: next,
                        scope: &token.scope,
                        client: &client,
                        generation: token.generation,
                        auth: &auth,
                        now,
                    },
                    Some(presented),
                )?,
            ];
            // Spent for good: the presented token's parent (its reuse can no longer be
            // told from a stale client's).
            if let Some(parent) = &token.parent {
                items.push(delete(
                    &self.table,
                    &ItemKey::refresh_token(parent),
                    Expression::default(),
                )?);
            }
            // The session is still of the account's generation: no sign-out everywhere,
            // reset or password change ended it.
            let signed_out = items.len();
            items.push(generation_is(&self.table, &user, token.generation)?);
            match transact(&self.client, items).await? {
                Outcome::Failed(at, _) if at == signed_out => return Ok(Rotation::Refused),
                Outcome::Done => {
                    return Ok(Rotation::Rotated {
                        session: token.family,
                        user,
                        scope: token.scope,
                        client,
                        auth,
                    });
                }
                Outcome::FirstFailed(Some(old)) => {
                    let revoked = matches!(old.get("revoked"), Some(AttributeValue::Bool(true)));
                    let current = match old.get("current") {
                        Some(AttributeValue::S(c)) => Some(c.as_str()),
                        _ => None,
                    };
                    if revoked {
                        return Ok(Rotation::Refused);
                    }
                    // The session moved on: a concurrent refresh with the same token (read
                    // again, it is rotated: a retry) or a superseded copy (still not).
                    named_instead = Some(current.map(str::to_owned));
                }
                Outcome::FirstFailed(None) => return Ok(Rotation::Refused),
                Outcome::Failed(..) | Outcome::Conflict => {}
            }
        }
        Err(StoreError::Unavailable("refreshes kept racing".into()))
    }

    /// Whether the family's session is live and names `token` as its current one.
    async fn names(&self, user: &UserId, family: &str, token: &str) -> Result<bool, StoreError> {
        let session = get_consistent(&self.client, &self.table, &ItemKey::session(user, family))
            .await?
            .unwrap_or_default();
        let revoked = matches!(session.get("revoked"), Some(AttributeValue::Bool(true)));
        let current = matches!(session.get("current"), Some(AttributeValue::S(c)) if c == token);
        let of = |item: &crate::Item| match item.get(crate::session_item::GENERATION) {
            Some(AttributeValue::N(g)) => g.parse().unwrap_or(0),
            _ => 0,
        };
        // A disabled account's generation moved on when it was disabled: whatever the
        // session names, it is refused like any ended session.
        let generation = match self.generation(user).await {
            Err(StoreError::Disabled) => return Ok(false),
            read => read?,
        };
        Ok(current && !revoked && of(&session) == generation)
    }

    /// Logout: the family of `presented` is revoked. `false` if no such token.
    pub async fn revoke(&self, presented: &str) -> Result<bool, StoreError> {
        let Some(token) = self.token(presented).await? else {
            return Ok(false);
        };
        let user = UserId::parse(&token.user_id)
            .map_err(|e| StoreError::Failed(format!("stored user id: {e}")))?;
        self.revoke_family(&user, &token.family).await?;
        Ok(true)
    }

    /// Marks the session revoked; a session that expired meanwhile stays gone.
    async fn revoke_family(&self, user: &UserId, family: &str) -> Result<(), StoreError> {
        let mut e = Expression::default();
        e.set("revoked", AttributeValue::Bool(true));
        let pk = e.name(PK);
        e.condition(format!("attribute_exists({pk})"));
        let result = update_item(
            &self.client,
            &self.table,
            &ItemKey::session(user, family),
            e,
        )
        .send()
        .await;
        unless_condition_failed(result)
    }

    async fn token(&self, hash: &str) -> Result<Option<StoredToken>, StoreError> {
        let out = get_consistent(&self.client, &self.table, &ItemKey::refresh_token(hash)).await?;
        Ok(out.map(serde_dynamo::from_item).transpose()?)
    }
}
