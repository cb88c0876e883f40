//! Password hashing and checking on the blocking pool: Argon2id takes tens of
//! milliseconds of CPU, and the executor keeps serving while it runs. Logins, sign-ups,
//! resets, changes and an erasure's password proof all hash through here.

use domain::password::{self, Check, Password};

use crate::codes::CodeFailure;

/// Whether `password` matches `stored` (`None`: a dummy hash, as long as a real one).
pub(crate) async fn password_matches(password: &Password, stored: Option<String>) -> bool {
    password_check(password, stored).await != Check::Wrong
}

/// `password::check`: whether it matches, and whether the stored hash is stale.
pub(crate) async fn password_check(password: &Password, stored: Option<String>) -> Check {
    let password = password.clone();
    tokio::task::spawn_blocking(move || password::check(&password, stored.as_deref()))
        .await
        .unwrap_or(Check::Wrong)
}

/// The Argon2id hash of `password`, as stored.
pub(crate) async fn hash(password: &Password) -> Result<String, CodeFailure> {
    let password = password.clone();
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|e| CodeFailure::Unavailable(e.to_string()))
}
