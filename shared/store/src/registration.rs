//! Sign-ups: a new account's profile and credential in one transaction, with a number
//! proven by its code (seed 000) or an email to prove later (seed 001). An address
//! another account claimed and never proved is taken over in the same transaction
//! (`claim`).

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use domain::{Actor, Consents, Email, PhoneNumber, Profile, ProfilePatch, UserId, timestamp};

use crate::StoreError;
use crate::accounts::AccountStore;
use crate::claim::{Claim, EarlierClaim};
use crate::codes::SpentCode;
use crate::codes::{CodeKind, OneTimeCode};
use crate::consent_item::{audit_puts, set_consents};
use crate::expr::Expression;
use crate::item::Item;
use crate::keys::{ItemKey, PK};
use crate::markers::{claim_phone, holder};
use crate::profile_item::{Guard, VERSION, update_expression};
use crate::session_item::{NewSession, open_items};
use crate::txn::{Tagged, Verdict, put, update};

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
    /// The account whose unproven claim is taken over changed since it was read.
    #[error("the earlier claimant changed meanwhile")]
    EarlierChanged,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the store holds about a sign-up with an email and a number (seed 000): one
/// BatchGetItem.
#[derive(Debug, Clone)]
pub struct PhoneRegistrationState {
    /// Another account proved the email.
    pub email_taken: bool,
    /// The account that holds the number's uniqueness marker.
    pub phone_owner: Option<String>,
    pub code: OneTimeCode,
}

/// What each item of a new account's transaction is.
#[derive(Debug, Clone, Copy)]
enum Part {
    Profile,
    Credential,
    /// The earlier claimant's side of a takeover.
    Earlier,
    Number,
    Code,
    Session,
    Audit,
    Card,
}

impl AccountStore {
    /// Seed 001's sign-up: the profile (with `email`) and the credential, unverified, in
    /// one transaction conditioned on neither existing.
    pub async fn register(
        &self,
        account: &AccountRecord<'_>,
        unverified_phone: Option<&PhoneNumber>,
    ) -> Result<Profile, RegisterError> {
        // A number given at sign-up is kept unverified and claims nothing: it becomes the
        // account's only through the SMS flow, so nobody can squat a number by typing it.
        self.claiming(account, |claim| {
            let draft = self.new_account(account, unverified_phone, false, claim)?;
            let [profile, credential] = draft.items;
            let mut items = Tagged::new();
            items.push(Part::Profile, profile);
            items.push(Part::Credential, credential);
            items.extend(Part::Audit, draft.audits);
            Ok((items, draft.profile))
        })
        .await
    }

    /// Runs the transaction `build` makes, first as if the address were free; when
    /// another account claims it unproven, again taking the claim over (the profile
    /// side read again while it changes under us).
    async fn claiming(
        &self,
        account: &AccountRecord<'_>,
        build: impl Fn(Option<&EarlierClaim>) -> Result<(Tagged<Part>, Profile), StoreError>,
    ) -> Result<Profile, RegisterError> {
        let (items, profile) = build(None)?;
        match self.create(&items).await {
            Err(RegisterError::EmailTaken) => {}
            other => return other.map(|()| profile),
        }
        for _ in 0..3 {
            let claim = match self
                .claim_on(account.email, account.now.timestamp(), false)
                .await?
            {
                // Released since: the plain sign-up once more.
                Claim::Free => None,
                Claim::Proven | Claim::BeingProven | Claim::Stranding | Claim::Disabled => {
                    return Err(RegisterError::EmailTaken);
                }
                Claim::Unproven(claim) => Some(claim),
            };
            let (mut items, profile) = build(claim.as_ref())?;
            if let Some(claim) = &claim {
                let earlier =
                    claim.items(&self.table, account.email, account.actor, account.now)?;
                items.extend(Part::Earlier, earlier);
            }
            match self.create(&items).await {
                // The earlier account changed since read: read it again.
                Err(RegisterError::EarlierChanged) => {}
                other => return other.map(|()| profile),
            }
        }
        Err(StoreError::Unavailable("the address's earlier claim kept changing".into()).into())
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
        self.claiming(account, |claim| {
            let draft = self.new_account(account, Some(phone), true, claim)?;
            let [profile, credential] = draft.items;
            let mut items = Tagged::new();
            items.push(Part::Profile, profile);
            items.push(Part::Credential, credential);
            let created_at = &draft.profile.created_at;
            items.push(
                Part::Number,
                claim_phone(&self.table, phone, account.user, created_at)?,
            );
            items.push(Part::Code, code.item(account.now.timestamp())?);
            items.extend(Part::Session, open_items(&self.table, session)?);
            items.extend(Part::Audit, draft.audits);
            if let Some(card) = card {
                let put = crate::loyalty::card_put(&self.table, account.user, card)?;
                items.push(Part::Card, put);
            }
            Ok((items, draft.profile))
        })
        .await
    }

    /// The profile and credential items of a new account, its consent audit entries, and
    /// the profile they make.
    fn new_account(
        &self,
        account: &AccountRecord<'_>,
        phone: Option<&PhoneNumber>,
        phone_verified: bool,
        claim: Option<&EarlierClaim>,
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
        match claim {
            Some(claim) => claim.condition(&mut c),
            None => {
                let pk = c.name(PK);
                c.condition(format!("attribute_not_exists({pk})"));
            }
        }
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

    /// Runs a new account's transaction; a refusal says which item refused it.
    async fn create(&self, items: &Tagged<Part>) -> Result<(), RegisterError> {
        for _ in 0..4 {
            match items.send(&self.client).await? {
                Verdict::Done => return Ok(()),
                // The generated user id collided.
                Verdict::Refused(Part::Profile) => return Err(RegisterError::UserExists),
                Verdict::Refused(Part::Credential) => return Err(RegisterError::EmailTaken),
                Verdict::Refused(Part::Number) => return Err(RegisterError::PhoneTaken),
                Verdict::Refused(Part::Code) => return Err(RegisterError::CodeGone),
                Verdict::Refused(Part::Earlier) => return Err(RegisterError::EarlierChanged),
                Verdict::Refused(other) => {
                    return Err(StoreError::Failed(format!(
                        "a new account's {other:?} item was refused"
                    ))
                    .into());
                }
                // Another transaction on these items was in flight: try again; its outcome
                // decides ours (a winner's claim fails our condition next time).
                Verdict::Conflict => {}
            }
        }
        Err(StoreError::Unavailable("registration kept conflicting".into()).into())
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
            // An unproven claim is taken over by the sign-up: only a proven one refuses it.
            email_taken: found.remove(&credential_key).is_some_and(|credential| {
                matches!(
                    credential.get("email_verified"),
                    Some(AttributeValue::Bool(true))
                )
            }),
            phone_owner: holder(found.remove(&owner_key)),
            code,
        })
    }
}
