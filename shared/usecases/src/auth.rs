//! Logging in, refreshing and logging out. A login takes its place in the failure counts
//! (per address and source, per address, per source) while it reads the credential,
//! checks the password off the async executor (Argon2id takes tens of milliseconds), and
//! on success opens a session whose first refresh token is written with its place given
//! back, in one transaction.

use domain::login::LoginLimits;
use domain::password::{Check, Password};

use crate::hashing::{password_check, password_matches};
use domain::ports::{AccessTokens, KeyUnavailable, OtpKeys};
use domain::session::{
    Authentication, ClientId, Grant, RefreshTokenSecret, new_family_id, successor,
};
use domain::source::RequestSource;
use domain::{Clock, UserId};
use store::{
    AccountStore, Attempt, Destination, NewChallenge, NewSession, PasswordAccount, Rotation,
    SessionStore, StoreError,
};

pub struct Auth<'a, T, K> {
    pub accounts: &'a AccountStore,
    pub sessions: &'a SessionStore,
    pub tokens: &'a T,
    /// The key a refresh token's successor is derived with.
    pub keys: &'a K,
    /// How many wrong passwords a login takes, per address and source.
    pub limits: &'a LoginLimits,
    pub clock: &'a Clock,
}

/// What a right password comes to: the tokens, or, for an account with a second
/// factor, the second step (`mfa::MfaFlow::finish_login`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoggedIn {
    Tokens(Tokens),
    SecondFactor {
        /// The bearer of the second step (`umt_`…): only its SHA-256 is stored.
        mfa_token: String,
        /// The factors that may finish it: (id, type).
        factors: Vec<(String, &'static str)>,
    },
}

/// A login's second step: `umt_` and 32 random bytes.
pub struct MfaTokenKind;

impl domain::opaque::Kind for MfaTokenKind {
    const PREFIX: &'static str = "umt_";
}

pub type MfaToken = domain::opaque::OpaqueSecret<MfaTokenKind>;

/// What a login or refresh hands the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Unknown email or wrong password: the same answer for both.
    #[error("the email or password is wrong")]
    BadCredentials,
    /// The password is right but no email or phone of the account is verified yet.
    #[error("the account is not verified yet")]
    NotVerified,
    #[error("too many attempts")]
    Limited { retry_after_secs: i64 },
    /// The refresh token is unknown, expired, revoked or was reused.
    #[error("the refresh token is not valid")]
    RefreshRefused,
    #[error("a dependency is unavailable: {0}")]
    DependencyUnavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<KeyUnavailable> for Refusal {
    fn from(e: KeyUnavailable) -> Self {
        tracing::warn!(error = %e, "signing key unavailable");
        Self::DependencyUnavailable(e.to_string())
    }
}

/// A new session's first tokens, before the session is stored.
pub(crate) struct FirstRefresh<'a> {
    user: &'a UserId,
    scope: &'a str,
    client: &'a ClientId,
    family: String,
    token_hash: String,
    generation: i64,
    auth: &'a Authentication,
    now: i64,
}

impl FirstRefresh<'_> {
    pub(crate) fn session(&self) -> NewSession<'_> {
        NewSession {
            user: self.user,
            family: &self.family,
            token_hash: &self.token_hash,
            scope: self.scope,
            client: self.client,
            generation: self.generation,
            auth: self.auth,
            now: self.now,
        }
    }
}

/// Signs the access token and draws the first refresh token of a new session; the
/// caller stores the session (a login alone, a sign-up with its account). `generation`:
/// the account's sign-out generation as read (0 for a new account); `auth`: how the
/// holder proved who they are, now.
pub(crate) async fn issue<'a, T: AccessTokens>(
    signer: &T,
    user: &'a UserId,
    scope: &'a str,
    client: &'a ClientId,
    generation: i64,
    auth: &'a Authentication,
) -> Result<(Tokens, FirstRefresh<'a>), KeyUnavailable> {
    let now = auth.time;
    let family = new_family_id();
    let grant = Grant {
        user,
        scope,
        client,
        session: &family,
        auth,
    };
    let access = signer.issue(&grant, now).await?;
    let refresh = RefreshTokenSecret::generate();
    let first = FirstRefresh {
        user,
        scope,
        client,
        family,
        token_hash: refresh.hash(),
        generation,
        auth,
        now,
    };
    Ok((
        Tokens {
            access_token: access.token,
            refresh_token: refresh.expose().to_owned(),
            expires_in: access.expires_in,
        },
        first,
    ))
}

/// Opens the login's session, or its second step when it has none.
async fn opening(
    sessions: &SessionStore,
    session: Option<&NewSession<'_>>,
    challenge: &NewChallenge<'_>,
    account: &PasswordAccount,
    hash: &str,
    rehash: Option<&str>,
    reservation: &store::Reservation,
) -> Result<bool, StoreError> {
    match session {
        Some(session) => {
            sessions
                .open(session, account, hash, rehash, reservation)
                .await
        }
        None => {
            sessions
                .open_second_step(challenge, account, hash, rehash, reservation)
                .await
        }
    }
}

impl<T: AccessTokens, K: OtpKeys> Auth<'_, T, K> {
    /// A session for `client` (the app the tokens are for), by an email or by a number
    /// the account has proven. An email logs in only once proven: the right password of
    /// an unproven one is `NotVerified`, so an address typed at a sign-up by phone is no
    /// login of that account.
    pub async fn login(
        &self,
        login: Destination<'_>,
        password: &Password,
        client: &ClientId,
        source: &RequestSource,
    ) -> Result<LoggedIn, Refusal> {
        let now = self.clock.now().timestamp();
        let attempt = self
            .accounts
            .begin_login(login, source, self.limits, now)
            .await?;
        let (account, reservation) = match attempt {
            Attempt::Limited { retry_after_secs } => {
                return Err(Refusal::Limited { retry_after_secs });
            }
            Attempt::Unknown => {
                // As long as a wrong password takes, and the same answer.
                password_matches(password, None).await;
                return Err(Refusal::BadCredentials);
            }
            Attempt::Allowed(account, reservation) => (*account, reservation),
        };
        let (user, credential) = (&account.user, &account.credential);
        // The sign-out generation and the second factor are read while the password
        // hashes: no time added.
        let (check, sign_in) = tokio::join!(
            password_check(password, Some(credential.password_hash.clone())),
            self.sessions.sign_in(user)
        );
        let (generation, factor) = match sign_in {
            Ok(s) => (Ok(s.generation), s.totp_factor),
            Err(e) => (Err(e), None),
        };
        if check == Check::Wrong {
            return Err(Refusal::BadCredentials);
        }
        let proven = match login {
            Destination::Email(_) => credential.email_verified,
            // Found through a number its account proved.
            Destination::Phone(_) => true,
        };
        // A right password is no failure: its places in the counts are given back, so
        // someone repeating it cannot lock the owner out of the next hour's logins.
        let generation = match (proven, generation) {
            (true, Ok(generation)) => generation,
            (false, _) => {
                self.accounts.give_back(&reservation).await?;
                return Err(Refusal::NotVerified);
            }
            (true, Err(StoreError::Disabled)) => {
                self.accounts.give_back(&reservation).await?;
                return Err(StoreError::Disabled.into());
            }
            (true, Err(e)) => return Err(e.into()),
        };
        let scope = &credential.scope;
        let auth = Authentication::password(now);
        let (tokens, refresh) = match &factor {
            Some(_) => (None, None),
            None => {
                let (tokens, refresh) =
                    issue(self.tokens, user, scope, client, generation, &auth).await?;
                (Some(tokens), Some(refresh))
            }
        };
        // Refused when an erasure, an email change or a revoked grant came between the
        // read and now: answered as a wrong password, never a 5xx.
        let checked = &credential.password_hash;
        // A hash of other parameters, or made before passwords were normalized, is made
        // again now, once, and written by the session's own transaction.
        let rehash = match check {
            Check::RightButStale => Some(
                crate::hashing::hash(password)
                    .await
                    .map_err(|e| Refusal::DependencyUnavailable(e.to_string()))?,
            ),
            _ => None,
        };
        let sessions = &self.sessions;
        let mfa_token = MfaToken::generate();
        let mfa_hash = mfa_token.hash();
        let challenge = NewChallenge {
            token_hash: &mfa_hash,
            user,
            scope,
            client,
            generation,
            now,
        };
        let answer = match (&tokens, &factor) {
            (Some(tokens), _) => LoggedIn::Tokens(tokens.clone()),
            (None, Some(factor)) => LoggedIn::SecondFactor {
                mfa_token: mfa_token.expose().to_owned(),
                factors: vec![(factor.clone(), "totp")],
            },
            (None, None) => unreachable!("tokens are issued unless a factor is active"),
        };
        let session = refresh.as_ref().map(FirstRefresh::session);
        let open = |account, hash, rehash| {
            opening(
                sessions,
                session.as_ref(),
                &challenge,
                account,
                hash,
                rehash,
                &reservation,
            )
        };
        if open(&account, checked, rehash.as_deref()).await? {
            return Ok(answer);
        }
        // Another login with the same password may have made the hash again first: read
        // the credential once more and open on the hash it holds now, if it is the same
        // password's. Anything else that came between refuses the login.
        if rehash.is_some()
            && let Some(again) = self.accounts.password_account(login).await?
            && again.user == account.user
            && again.credential.scope == account.credential.scope
            && password_check(password, Some(again.credential.password_hash.clone())).await
                == Check::Right
        {
            let now_hash = &again.credential.password_hash;
            if open(&again, now_hash, None).await? {
                return Ok(answer);
            }
        }
        Err(Refusal::BadCredentials)
    }

    /// Spends `presented` for a new refresh token and a new access token.
    pub async fn refresh(&self, presented: &str) -> Result<Tokens, Refusal> {
        self.refresh_for(presented, None).await
    }

    /// `refresh`, for the client that names itself (`client`): a token of another
    /// client's session is refused and stays unspent.
    pub async fn refresh_for(
        &self,
        presented: &str,
        client: Option<&ClientId>,
    ) -> Result<Tokens, Refusal> {
        let presented = RefreshTokenSecret::parse(presented).ok_or(Refusal::RefreshRefused)?;
        let now = self.clock.now().timestamp();
        // Keyed by the presented token: two refreshes with it at once, or a retry of a
        // lost answer, are handed the same successor, and the family stays one line.
        let next = successor(self.keys.key().await?, &presented);
        match self
            .sessions
            .rotate_for(&presented.hash(), &next.hash(), now, client)
            .await?
        {
            Rotation::Refused => Err(Refusal::RefreshRefused),
            Rotation::Rotated {
                user,
                session,
                scope,
                client,
                auth,
            } => {
                let grant = Grant {
                    user: &user,
                    scope: &scope,
                    client: &client,
                    session: &session,
                    auth: &auth,
                };
                let access = self.tokens.issue(&grant, now).await?;
                Ok(Tokens {
                    access_token: access.token,
                    refresh_token: next.expose().to_owned(),
                    expires_in: access.expires_in,
                })
            }
        }
    }

    /// Ends the session of `presented`; an unknown token ends nothing and says so to no one.
    pub async fn logout(&self, presented: &str) -> Result<(), Refusal> {
        if let Some(presented) = RefreshTokenSecret::parse(presented) {
            self.sessions.revoke(&presented.hash()).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::ports::AccessToken;
    use std::sync::Mutex;

    /// What the signer was asked: user, scope, client, session and time.
    type Asked = (String, String, String, String, i64);

    /// The access-token port, recording what it was asked to sign.
    #[derive(Default)]
    struct Signer {
        asked: Mutex<Vec<Asked>>,
        down: bool,
    }

    impl AccessTokens for Signer {
        async fn issue(&self, grant: &Grant<'_>, now: i64) -> Result<AccessToken, KeyUnavailable> {
            if self.down {
                return Err(KeyUnavailable("the signing key is unreachable".into()));
            }
            let Grant {
                user,
                scope,
                client,
                session,
                ..
            } = grant;
            let asked = (
                user.to_string(),
                scope.to_string(),
                client.as_str().into(),
                session.to_string(),
                now,
            );
            self.asked.lock().unwrap().push(asked);
            Ok(AccessToken {
                token: format!("at-{user}"),
                expires_in: 900,
            })
        }
    }

    static AUTH: std::sync::LazyLock<Authentication> =
        std::sync::LazyLock::new(|| Authentication::password(1_000));

    #[tokio::test]
    async fn a_new_session_stores_only_the_hash_of_the_refresh_token_the_client_gets() {
        let signer = Signer::default();
        let user = UserId::parse("ada").unwrap();
        let client = ClientId::parse("mobile-app").unwrap();
        let (tokens, first) = issue(&signer, &user, "profile", &client, 3, &AUTH)
            .await
            .unwrap();
        assert_eq!(tokens.access_token, "at-ada");
        assert_eq!(tokens.expires_in, 900);
        let presented = RefreshTokenSecret::parse(&tokens.refresh_token).expect("urt_ token");
        let session = first.session();
        assert_eq!(session.token_hash, presented.hash());
        assert_ne!(session.token_hash, tokens.refresh_token);
        assert_eq!(
            (
                session.scope,
                session.client,
                session.generation,
                session.now
            ),
            ("profile", &client, 3, 1_000)
        );
        // The access token names the session it belongs to (`sid`).
        assert_eq!(
            signer.asked.lock().unwrap().as_slice(),
            [(
                "ada".into(),
                "profile".into(),
                "mobile-app".into(),
                session.family.to_owned(),
                1_000
            )]
        );
        let (again, second) = issue(&signer, &user, "profile", &client, 3, &AUTH)
            .await
            .unwrap();
        assert_ne!(again.refresh_token, tokens.refresh_token);
        assert_ne!(second.family, first.family, "every login is its own family");
    }

    #[tokio::test]
    async fn no_session_without_a_signed_access_token() {
        let signer = Signer {
            down: true,
            ..Signer::default()
        };
        let user = UserId::parse("ada").unwrap();
        let client = ClientId::default();
        let refused = issue(&signer, &user, "", &client, 0, &AUTH).await;
        assert!(refused.is_err());
    }
}
