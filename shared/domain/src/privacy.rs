//! Data-subject rights (GDPR art. 15, 17 and 20, KVKK art. 11): who may erase
//! an account, how an erasure is proved, and how often a user may take an export.

use sha2::{Digest, Sha256};

use crate::UserId;

/// How long the link to an export stays valid.
pub const EXPORT_URL_LIFETIME_SECS: u64 = 15 * 60;

/// Who asked for an erasure: the tombstone keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErasedBy {
    /// The account's holder, with a fresh proof.
    User,
    /// A partner system, by its API token's id (`POST /api/v1/users/delete`).
    ApiToken(String),
    /// Support staff with `profilectl`, by the name they gave.
    Operator(String),
    /// Nobody: the account held nothing but an address it never proved, and another
    /// sign-up took the address over.
    UnprovenClaimTakenOver,
}

impl ErasedBy {
    /// `self`, `api_token:<id>`, `operator:<name>` or `unproven_claim_taken_over`.
    pub fn label(&self) -> String {
        match self {
            Self::User => "self".to_owned(),
            Self::ApiToken(id) => format!("api_token:{id}"),
            Self::Operator(name) => format!("operator:{name}"),
            Self::UnprovenClaimTakenOver => "unproven_claim_taken_over".to_owned(),
        }
    }
}

/// Where objects went before folders were keyed (`OtpKey::object_folder`): an unkeyed
/// hash of the user id. Erasures and exports still look there, so nothing stored then
/// is missed.
pub fn unkeyed_owner_folder(user: &UserId) -> String {
    let digest = Sha256::new()
        .chain_update(b"object-owner:")
        .chain_update(user.as_str().as_bytes())
        .finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The prefixes an export lists and an erasure empties: the keyed folder of today's
/// objects and the unkeyed one of earlier objects, images and exports in each.
pub fn owner_prefixes(key: &crate::otp::OtpKey, user: &UserId) -> Vec<String> {
    let mut out = Vec::new();
    for folder in [key.object_folder(user), unkeyed_owner_folder(user)] {
        out.push(format!("avatars/{folder}/"));
        out.push(format!("exports/{folder}/"));
    }
    out
}

/// At most `max` exports per user in any rolling `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportQuota {
    pub max: usize,
    pub window_secs: i64,
}

impl Default for ExportQuota {
    fn default() -> Self {
        Self {
            max: 3,
            window_secs: 24 * 3600,
        }
    }
}

impl ExportQuota {
    /// The export times to store if one more is taken at `now`, or the seconds until
    /// the oldest within the window leaves it.
    pub fn take(&self, taken: &[i64], now: i64) -> Result<Vec<i64>, u64> {
        let mut recent: Vec<i64> = taken
            .iter()
            .copied()
            .filter(|&at| at > now - self.window_secs && at <= now)
            .collect();
        recent.sort_unstable();
        if recent.len() >= self.max {
            let frees_at = recent[recent.len() - self.max] + self.window_secs;
            return Err((frees_at - now).max(1) as u64);
        }
        recent.push(now);
        Ok(recent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_exports_a_day_then_the_oldest_must_leave_the_window() {
        let quota = ExportQuota::default();
        let day = 24 * 3600;
        let taken = quota.take(&[], 1_000).unwrap();
        let taken = quota.take(&taken, 2_000).unwrap();
        let taken = quota.take(&taken, 3_000).unwrap();
        assert_eq!(taken, vec![1_000, 2_000, 3_000]);
        assert_eq!(quota.take(&taken, 4_000), Err((1_000 + day - 4_000) as u64));
        // Once the first has left the window, one more fits, and the stale one is dropped.
        assert_eq!(
            quota.take(&taken, 1_000 + day).unwrap(),
            vec![2_000, 3_000, 1_000 + day]
        );
    }

    #[test]
    fn the_owner_folder_is_stable_keyed_and_does_not_show_the_id() {
        let key = crate::otp::OtpKey::new(&[7; 32]).unwrap();
        let user = UserId::parse("user-1").unwrap();
        let folder = key.object_folder(&user);
        assert_eq!(folder, key.object_folder(&user));
        assert_eq!(folder.len(), 32);
        assert!(!folder.contains("user"));
        assert_ne!(folder, key.object_folder(&UserId::parse("user-2").unwrap()));
        assert_ne!(folder, unkeyed_owner_folder(&user));
        let other = crate::otp::OtpKey::new(&[8; 32]).unwrap();
        assert_ne!(
            folder,
            other.object_folder(&user),
            "the key decides the name"
        );
        let prefixes = owner_prefixes(&key, &user);
        assert!(prefixes.contains(&format!("avatars/{folder}/")));
        assert!(prefixes.contains(&format!("exports/{}/", unkeyed_owner_folder(&user))));
    }

    #[test]
    fn the_tombstone_names_who_erased() {
        assert_eq!(ErasedBy::User.label(), "self");
        assert_eq!(ErasedBy::ApiToken("t1".into()).label(), "api_token:t1");
        assert_eq!(ErasedBy::Operator("ana".into()).label(), "operator:ana");
    }
}
