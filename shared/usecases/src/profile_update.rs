//! One profile write, whoever asks and through whichever API: the holder's PATCH
//! (`/users/profile`, seed 002's update, seed 000's loyalty PATCH, seed 001's PATCH of
//! their own id), an administrator's or a partner's PATCH by id. It decides in one place
//! what a new email, a new number and the plain fields each take:
//! - the holder proves a new address by the codes to it and to the current address or
//!   number (`email_change`) and a new
//!   number by the texted code (`phone_change`);
//! - an administrator vouches for both: they are set at once (`ContactChange`);
//! - a partner system changes neither (its token lacks the authority);
//! - everything else is the plain write (`ProfileStore::patch`).
//!
//! Each route renders the outcome and the refusal in its own style.

use domain::otp::CodeSent;
use domain::ports::{EmailSender, OtpKeys, SmsSender};
use domain::{Actor, Email, ExpectedVersion, PhoneNumber, Profile, ProfilePatch, Source, UserId};
use store::{AccountStore, ContactChange, ContactError, Destination, PatchError, ProfileStore};

use crate::codes::CodeSettings;
use crate::email_change::{self, EmailChange};
use crate::phone_change::{self, PhoneChange};

pub struct ProfileUpdate<'a, S, E, K> {
    pub profiles: &'a ProfileStore,
    pub accounts: &'a AccountStore,
    pub sms: &'a S,
    pub email: &'a E,
    pub codes: &'a CodeSettings<K>,
}

/// A PATCH of `user`'s profile by `actor`, whose source says what it may change.
pub struct Request<'a> {
    pub user: &'a UserId,
    pub patch: ProfilePatch,
    pub expected: ExpectedVersion,
    pub actor: &'a Actor,
}

#[derive(Debug)]
pub enum Outcome {
    /// The write is done: the profile after it.
    Applied(Box<Profile>),
    /// A code went to a new number; nothing applied.
    CodeSent(CodeSent),
    /// A token went to a new address and its checksum to the current one; nothing
    /// applied.
    TokenSent { token: CodeSent, checksum: CodeSent },
}

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(transparent)]
    Email(#[from] email_change::Refusal),
    #[error(transparent)]
    Phone(#[from] phone_change::Refusal),
    /// An administrator's change of the contact data.
    #[error(transparent)]
    Contact(#[from] ContactError),
    #[error(transparent)]
    Patch(#[from] PatchError),
    /// Only the holder, proving it, or an administrator changes an email or a number.
    #[error("a partner system may not change the {field}")]
    ContactNotAllowed { field: &'static str },
}

/// How a PATCH's new email or number is taken, by who acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Authority {
    /// The holder proves each by the code sent to it (or nothing of the contact changes).
    Proven,
    /// An administrator vouches for both: set at once.
    Vouched,
}

fn authority(source: Source, patch: &ProfilePatch) -> Result<Authority, Refusal> {
    let changes_contact = patch.email.is_some() || patch.phone.is_some();
    match source {
        Source::Admin if changes_contact => Ok(Authority::Vouched),
        Source::Api if patch.email.is_some() => Err(Refusal::ContactNotAllowed { field: "email" }),
        Source::Api if patch.phone.is_some() => Err(Refusal::ContactNotAllowed { field: "phone" }),
        _ => Ok(Authority::Proven),
    }
}

impl<S: SmsSender, E: EmailSender, K: OtpKeys> ProfileUpdate<'_, S, E, K> {
    pub async fn run(&self, request: Request<'_>) -> Result<Outcome, Refusal> {
        let Request {
            user,
            mut patch,
            expected,
            actor,
        } = request;
        if authority(actor.source, &patch)? == Authority::Vouched {
            return self.vouched(user, patch, actor).await;
        }
        if let Some(new_email) = patch.email.clone() {
            let request = email_change::Request {
                user,
                patch: &patch,
                new_email: &new_email,
                expected,
                actor,
            };
            match self.email_change().run(&request).await? {
                email_change::Outcome::Applied(profile) => return Ok(Outcome::Applied(profile)),
                email_change::Outcome::TokenSent { token, checksum } => {
                    return Ok(Outcome::TokenSent { token, checksum });
                }
                // The address is the account's already; the rest of the PATCH goes on.
                email_change::Outcome::Unchanged => {}
            }
            patch.email = None;
            patch.token = None;
            patch.token_checksum = None;
            if !patch.changes_profile_fields() && patch.phone.is_none() {
                let profile = self.profiles.get(user).await.map_err(PatchError::from)?;
                let profile = profile.ok_or(PatchError::NotFound)?;
                return Ok(Outcome::Applied(Box::new(profile)));
            }
        }
        if let Some(phone) = &patch.phone {
            let request = phone_change::Request {
                user,
                patch: &patch,
                phone,
                expected,
                actor,
            };
            return Ok(match self.phone_change().run(&request).await? {
                phone_change::Outcome::Applied(profile) => {
                    // A code proved the number: the account's proven address hears of it.
                    if patch.code.is_some() && !patch.resend {
                        self.tell_of_new_number(user, &profile, phone).await;
                    }
                    Outcome::Applied(profile)
                }
                phone_change::Outcome::CodeSent(sent) => Outcome::CodeSent(sent),
            });
        }
        let profile = self
            .profiles
            .patch(user, &patch, expected, actor, &self.codes.clock)
            .await?;
        Ok(Outcome::Applied(Box::new(profile)))
    }

    /// An administrator's change of the email or the number, with the rest of the PATCH:
    /// set at once, on the record.
    async fn vouched(
        &self,
        user: &UserId,
        mut patch: ProfilePatch,
        actor: &Actor,
    ) -> Result<Outcome, Refusal> {
        let (email, phone) = (patch.email.take(), patch.phone.take());
        let change = ContactChange {
            user,
            patch: &patch,
            email: email.as_ref(),
            phone: phone.as_ref(),
            actor,
            codes: &[],
            read: None,
        };
        let profile = self
            .accounts
            .set_contact(&change, self.codes.clock.now())
            .await?;
        tracing::info!(
            user = %user,
            actor = %actor.actor,
            request_id = %actor.request_id,
            "contact data set by an administrator"
        );
        Ok(Outcome::Applied(Box::new(profile)))
    }

    /// The account's proven email learns that a new number was proven: a thief with a
    /// session can prove their own (the day it waits before it recovers anything is the
    /// holder's time to act). The change stands if this fails.
    async fn tell_of_new_number(&self, user: &UserId, profile: &Profile, phone: &PhoneNumber) {
        let Some(email) = profile.email.as_deref().and_then(|e| Email::parse(e).ok()) else {
            return;
        };
        // One read: whether the profile's address is this account's, and proven.
        let account = match self
            .accounts
            .password_account(Destination::Email(&email))
            .await
        {
            Ok(account) => account,
            Err(e) => {
                tracing::warn!(error = %e, "the new number's notice was not sent");
                return;
            }
        };
        let Some(address) = account
            .as_ref()
            .filter(|a| &a.user == user)
            .and_then(|a| a.proven_email())
        else {
            return;
        };
        let text = format!(
            "The phone number of your account was changed to {}. If you did not do this, \
             reset your password by email at once and contact support.",
            phone.masked()
        );
        if let Err(e) = self
            .email
            .send(address, "Your phone number was changed", &text)
            .await
        {
            tracing::warn!(error = %e, "the new number's notice was not sent");
        }
    }

    fn email_change(&self) -> EmailChange<'_, S, E, K> {
        EmailChange {
            accounts: self.accounts,
            sms: self.sms,
            email: self.email,
            codes: self.codes,
        }
    }

    fn phone_change(&self) -> PhoneChange<'_, S, K> {
        PhoneChange {
            profiles: self.profiles,
            sms: self.sms,
            codes: self.codes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{Email, PhoneNumber};

    fn patch(email: bool, phone: bool) -> ProfilePatch {
        ProfilePatch {
            email: email.then(|| Email::parse("ada@example.com").unwrap()),
            phone: phone.then(|| PhoneNumber::parse("+905321234567").unwrap()),
            ..ProfilePatch::default()
        }
    }

    #[test]
    fn who_acts_decides_how_contact_data_changes() {
        for (email, phone) in [(true, false), (false, true), (true, true)] {
            let p = patch(email, phone);
            assert_eq!(authority(Source::Admin, &p).unwrap(), Authority::Vouched);
            assert_eq!(authority(Source::Holder, &p).unwrap(), Authority::Proven);
            let refused = authority(Source::Api, &p).unwrap_err();
            let field = if email { "email" } else { "phone" };
            assert!(
                matches!(refused, Refusal::ContactNotAllowed { field: f } if f == field),
                "{refused:?}"
            );
        }
        let plain = patch(false, false);
        for source in [Source::Admin, Source::Holder, Source::Api] {
            assert_eq!(authority(source, &plain).unwrap(), Authority::Proven);
        }
    }
}
