//! The items of a login session (`sessions`): the session, which names its family's one
//! live refresh token, and the token items. Registration opens a session in the
//! transaction that creates the account, so these are transaction items.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use domain::UserId;
use domain::session::{Authentication, ClientId, REFRESH_TOKEN_LIFETIME_SECS};

use crate::StoreError;
use crate::expr::Expression;
use crate::item::{Item, n};
use crate::keys::{ItemKey, PK, TTL_ATTRIBUTE};
use crate::txn::{put, update};

crate::table_store! {
    /// Login sessions and their refresh tokens: opening and refreshing them (`sessions`),
    /// listing and ending them (`session_epoch`).
    #[derive(Clone, Debug)]
    SessionStore
}

/// The account's sign-out generation a session and its tokens were opened under
/// (`session_epoch`).
pub(crate) const GENERATION: &str = "generation";

/// A session to open, or a token to add to one.
pub struct NewSession<'a> {
    pub user: &'a UserId,
    /// The token family: one per login.
    pub family: &'a str,
    /// SHA-256 of the refresh token, hex.
    pub token_hash: &'a str,
    /// Space-separated scopes every access token of the session carries.
    pub scope: &'a str,
    /// The app the session was opened for; every access token of it names it.
    pub client: &'a ClientId,
    /// The account's sign-out generation the session is opened under (`session_epoch`).
    pub generation: i64,
    /// How and when the session began; every token of it carries it on.
    pub auth: &'a Authentication,
    pub now: i64,
}

/// Where a token item keeps its session's `Authentication`.
pub(crate) const AUTH_TIME: &str = "auth_time";
pub(crate) const AMR: &str = "amr";

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// A refresh token's item; it must not exist yet. `parent`: the token it was rotated
/// from, which its own rotation deletes.
pub(crate) fn token_put(
    table: &str,
    session: &NewSession<'_>,
    parent: Option<&str>,
) -> Result<TransactWriteItem, StoreError> {
    let mut item = Item::from([
        ("user_id".to_owned(), s(session.user.as_str())),
        ("family".to_owned(), s(session.family)),
        ("scope".to_owned(), s(session.scope)),
        ("client_id".to_owned(), s(session.client.as_str())),
        ("issued_at".to_owned(), n(session.now)),
        (GENERATION.to_owned(), n(session.generation)),
        (AUTH_TIME.to_owned(), n(session.auth.time)),
        (AMR.to_owned(), s(&session.auth.methods_stored())),
        (
            TTL_ATTRIBUTE.to_owned(),
            n(session.now + REFRESH_TOKEN_LIFETIME_SECS),
        ),
    ]);
    if let Some(parent) = parent {
        item.insert("parent".to_owned(), s(parent));
    }
    item.extend(ItemKey::refresh_token(session.token_hash).to_item());
    let mut e = Expression::default();
    let pk = e.name(PK);
    e.condition(format!("attribute_not_exists({pk})"));
    put(table, item, e)
}

/// The session item and its first token.
pub(crate) fn open_items(
    table: &str,
    session: &NewSession<'_>,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let mut e = Expression::default();
    e.set("current", s(session.token_hash));
    e.set("created_at", n(session.now));
    e.set("client_id", s(session.client.as_str()));
    e.set(GENERATION, n(session.generation));
    e.set(AUTH_TIME, n(session.auth.time));
    e.set(AMR, s(&session.auth.methods_stored()));
    e.set(TTL_ATTRIBUTE, n(session.now + REFRESH_TOKEN_LIFETIME_SECS));
    Ok(vec![
        update(table, &ItemKey::session(session.user, session.family), e)?,
        token_put(table, session, None)?,
    ])
}
