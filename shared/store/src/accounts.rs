//! Accounts: the credential item (`EMAIL#<email>` / `CREDENTIAL`: user id, password hash,
//! whether the email is verified) and the profile it comes with. The credential's key is
//! the email's uniqueness marker, so a sign-up (`registration`) can succeed for only one
//! account per address. Logins read it (failures are counted apart, `login_attempts`),
//! a new password is set on it (`password`), proving its address spends a code
//! (`email_verification`), and an email change moves it (`contact_change`).

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use domain::{Email, UserId};
use serde::Deserialize;

use crate::StoreError;
use crate::expr::Expression;
use crate::keys::{ItemKey, PK};
use crate::txn::{none_if_condition_failed, update_item};

/// On a credential moved to a new address by an email change: when. Its insert there is
/// no new account, and it keeps its `version`, the credential aggregate's count.
pub(crate) const MOVED_AT: &str = "moved_at";

crate::table_store! {
    #[derive(Clone, Debug)]
    AccountStore
}

/// What a login needs to know. `Debug` leaves the hash out.
#[derive(Clone, PartialEq, Eq, Deserialize)]
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

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("user_id", &self.user_id)
            .field("password_hash", &"redacted")
            .field("email_verified", &self.email_verified)
            .field("phone_verified", &self.phone_verified)
            .field("scope", &self.scope)
            .finish()
    }
}

impl AccountStore {
    /// The account that holds `claim`: an email's credential once proven (an unproven
    /// one may be a squatter's, not the address's owner), or a proven number's marker.
    /// One GetItem.
    pub async fn holder_of(
        &self,
        claim: crate::Destination<'_>,
    ) -> Result<Option<UserId>, StoreError> {
        let key = match claim {
            crate::Destination::Email(email) => ItemKey::credential(email),
            crate::Destination::Phone(phone) => ItemKey::phone_owner(phone),
        };
        let marker = crate::item::get_consistent(&self.client, &self.table, &key).await?;
        let proven = |item: &crate::item::Item| match claim {
            crate::Destination::Email(_) => {
                matches!(item.get("email_verified"), Some(AttributeValue::Bool(true)))
            }
            crate::Destination::Phone(_) => true,
        };
        Ok(crate::markers::holder(marker.filter(proven)).and_then(|u| UserId::parse(&u).ok()))
    }

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

    /// Sets the scopes an operator grants the account of the proven `email`
    /// (`users:admin`); its next logins carry them. Returns the account's user id, `None`
    /// if no account has proven the address.
    pub async fn set_grants(
        &self,
        email: &Email,
        scope: &str,
    ) -> Result<Option<UserId>, StoreError> {
        // Granted only to a proven address (an unproven one may pass to another sign-up),
        // taken back from any. The version counts the change, so a takeover racing it is
        // refused.
        let mut e = Expression::default();
        let pk = e.name(PK);
        e.condition(format!("attribute_exists({pk})"));
        if !scope.is_empty() {
            let proven = e.name("email_verified");
            let yes = e.value(AttributeValue::Bool(true));
            e.condition(format!("{proven} = {yes}"));
        }
        e.set("scope", AttributeValue::S(scope.to_owned()));
        e.count_write(crate::profile_item::VERSION);
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
}
