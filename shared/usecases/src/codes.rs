//! The steps every flow that sends one-time codes shares: sending reserves the
//! send slot first (a conditional write), then delivers, and releases the slot if the
//! delivery failed, so no cooldown is charged for a message that never left; checking
//! judges the code in constant time and counts a wrong one against the live code only.
//! A flow's code is a `store::OneTimeCode` (where it lives is its `store::CodeKind`);
//! it goes out by SMS (`send_by_sms`) or by email (`send_by_email`) with the flow's text.

use std::future::Future;

use domain::clock::hour_start;
use domain::otp::{CodeRefusal, CodeSent, OtpCode, OtpPolicy, Purpose, Verdict};
use domain::ports::{EmailSender, OtpKeys, SmsSender};
use domain::sms::Recipient;
use domain::source::RequestSource;
use domain::{Clock, Email, PhoneNumber};
use store::{OneTimeCode, SmsQuota, StoreError, Try};

/// The term the SMS cap's log line carries and the template's metric filter matches.
pub const SMS_CAP_ALARM: &str = "sms_hourly_cap_reached";

/// What every flow that sends codes is given: the key its digests are made with, the
/// policy's limits and the clock. A function holds one and lends it to each flow.
pub struct CodeSettings<K> {
    pub keys: K,
    pub policy: OtpPolicy,
    pub clock: Clock,
}

/// What a code proves, for whom, sent where: the inputs of its digest.
#[derive(Clone, Copy)]
pub(crate) struct CodeFor<'a> {
    pub purpose: Purpose,
    pub subject: &'a str,
    pub target: &'a str,
}

/// How every flow that sends codes fails alike: the code is refused, or a dependency or
/// the store failed. A flow's `Refusal` holds it as `Failed`, beside its own refusals.
#[derive(Debug, thiserror::Error)]
pub enum CodeFailure {
    #[error(transparent)]
    Refused(#[from] CodeRefusal),
    /// The key store or the gateway failed; nothing is charged, the client may retry.
    #[error("a dependency is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `From` a `CodeFailure`, a `CodeRefusal` and a `StoreError` for a flow's `Refusal`
/// with its `Failed(CodeFailure)` variant.
macro_rules! refusal_from_failure {
    ($refusal:ty) => {
        impl From<$crate::codes::CodeFailure> for $refusal {
            fn from(f: $crate::codes::CodeFailure) -> Self {
                Self::Failed(f)
            }
        }
        impl From<domain::otp::CodeRefusal> for $refusal {
            fn from(r: domain::otp::CodeRefusal) -> Self {
                Self::Failed(r.into())
            }
        }
        impl From<store::StoreError> for $refusal {
            fn from(e: store::StoreError) -> Self {
                Self::Failed(e.into())
            }
        }
    };
}
pub(crate) use refusal_from_failure;

pub(crate) fn unavailable(e: impl std::fmt::Display) -> CodeFailure {
    tracing::warn!(error = %e, "a dependency of a one-time code is unavailable");
    CodeFailure::Unavailable(e.to_string())
}

/// Sends a fresh code through `deliver`, under the policy's limits.
async fn send<K, D, F>(
    policy: &OtpPolicy,
    keys: &K,
    items: &OneTimeCode,
    code: CodeFor<'_>,
    now: i64,
    deliver: D,
) -> Result<(), CodeFailure>
where
    K: OtpKeys,
    D: FnOnce(OtpCode) -> F,
    F: Future<Output = Result<(), CodeFailure>>,
{
    let limited = |retry_after_secs: i64, just_sent| CodeRefusal::RateLimited {
        retry_after_secs: retry_after_secs.max(1) as u64,
        just_sent,
    };
    policy
        .check_send(now, items.challenge(), items.sends())
        .map_err(|l| limited(l.retry_after_secs, false))?;
    let key = keys.key().await.map_err(unavailable)?;
    let otp = OtpCode::generate();
    let digest = key.digest(code.purpose, code.subject, code.target, &otp);
    let challenge = policy.issue(now, items.challenge(), code.target, digest);
    let log = policy.log_send(now, items.sends());
    if !items.reserve(&challenge, &log, now).await? {
        return Err(limited(policy.resend_cooldown_secs, true).into());
    }
    if let Err(failure) = deliver(otp).await {
        if let Err(release) = items.release(&challenge, &log).await {
            tracing::warn!(error = %release, "could not release the unsent code's cooldown");
        }
        return Err(failure);
    }
    Ok(())
}

/// Charges the subject a send without delivering anything: a request that learns a
/// destination is taken costs what a code would, so it is no free oracle. Only the
/// subject's budget is spent; the destination's send log is left as read.
pub(crate) async fn charge(
    policy: &OtpPolicy,
    items: &OneTimeCode,
    now: i64,
) -> Result<(), CodeFailure> {
    policy
        .check_send(now, items.challenge(), None)
        .map_err(|l| CodeRefusal::RateLimited {
            retry_after_secs: l.retry_after_secs.max(1) as u64,
            just_sent: false,
        })?;
    let challenge = policy.charge(now, items.challenge());
    let log = items.sends().cloned().unwrap_or_default();
    if !items.reserve(&challenge, &log, now).await? {
        return Err(CodeRefusal::RateLimited {
            retry_after_secs: policy.resend_cooldown_secs.max(1) as u64,
            just_sent: true,
        }
        .into());
    }
    Ok(())
}

/// Charges an anonymous request that asks for a code (a sign-up) to its source's hourly
/// budget: without an account there is no user budget, and the answer tells whether an
/// email or a number is registered.
pub(crate) async fn charge_source(
    policy: &OtpPolicy,
    accounts: &store::AccountStore,
    source: &RequestSource,
    now: i64,
) -> Result<(), CodeFailure> {
    let hour = hour_start(now);
    if accounts
        .take_signup(source, hour, policy.max_signups_per_source_per_hour)
        .await?
    {
        return Ok(());
    }
    Err(CodeRefusal::RateLimited {
        retry_after_secs: (hour + 3600 - now).max(1) as u64,
        just_sent: false,
    }
    .into())
}

/// How texts go out: the gateway, the service-wide counts they are capped by, and whom
/// this one goes to.
pub(crate) struct Texting<'a, S> {
    pub sms: &'a S,
    pub quota: &'a SmsQuota,
    pub to: Recipient,
}

/// An email that carries a code: its subject, and its text around the code and the
/// minutes it lives.
pub(crate) struct Letter {
    pub subject: &'static str,
    pub text: fn(code: &str, minutes: i64) -> String,
}

/// How an email with a code goes out: the sender, and the flow's letter.
pub(crate) struct Mailing<'a, E> {
    pub email: &'a E,
    pub letter: Letter,
}

/// How a code goes to an account's proven number or address, whichever it is: the
/// gateways, the service-wide text counts and the flow's letter.
pub(crate) struct ToHolder<'a, S, E> {
    pub sms: &'a S,
    pub quota: &'a SmsQuota,
    /// Whose cap a text counts in: an anonymous request's (a reset) counts with the texts
    /// to new numbers, so strangers cannot spend the texts holders' own requests get.
    pub texts_as: Recipient,
    pub email: &'a E,
    pub letter: Letter,
}

/// A destination's canonical form, which a code's digest binds.
pub(crate) fn target_of(to: store::Destination<'_>) -> String {
    match to {
        store::Destination::Phone(p) => p.e164().to_owned(),
        store::Destination::Email(e) => e.normalized(),
    }
}

impl<K: OtpKeys> CodeSettings<K> {
    /// Sends a fresh code to `to`, a number or an address the account has proven.
    pub(crate) async fn send_to_holder<S: SmsSender, E: EmailSender>(
        &self,
        via: ToHolder<'_, S, E>,
        to: store::Destination<'_>,
        items: &OneTimeCode,
        code: CodeFor<'_>,
        now: i64,
    ) -> Result<CodeSent, CodeFailure> {
        match to {
            store::Destination::Phone(phone) => {
                let texting = Texting {
                    sms: via.sms,
                    quota: via.quota,
                    to: via.texts_as,
                };
                self.send_by_sms(texting, items, code, phone, now).await
            }
            store::Destination::Email(address) => {
                let mailing = Mailing {
                    email: via.email,
                    letter: via.letter,
                };
                self.send_by_email(mailing, items, code, address, now).await
            }
        }
    }

    /// Sends a fresh code by SMS to `phone`, under the policy's limits: only to a mobile
    /// number in a country served, and only while the hour's cap on texts (counted in
    /// `quota`, across every user) is not reached.
    pub(crate) async fn send_by_sms<S: SmsSender>(
        &self,
        Texting { sms, quota, to }: Texting<'_, S>,
        items: &OneTimeCode,
        code: CodeFor<'_>,
        phone: &PhoneNumber,
        now: i64,
    ) -> Result<CodeSent, CodeFailure> {
        let (policy, keys) = (&self.policy, &self.keys);
        policy.sms.admits(phone).map_err(CodeRefusal::from)?;
        send(policy, keys, items, code, now, |otp| async move {
            let hour = hour_start(now);
            let paused = |cap: u32, which: &str| {
                // The alarm `SmsHourlyCapAlarm` counts this line (a metric filter on the term).
                tracing::error!(
                    alarm = SMS_CAP_ALARM,
                    cap,
                    which,
                    "an hourly cap on texts is reached; such codes are refused until the next hour"
                );
                let retry_after_secs = (hour + 3600 - now).max(1) as u64;
                CodeFailure::from(CodeRefusal::SmsPaused { retry_after_secs })
            };
            // Texts to unproven numbers have their own cap first, so they never take the
            // texts the numbers accounts hold still get.
            let new_number = to == Recipient::NewNumber;
            if new_number
                && !quota
                    .take(hour, policy.sms.max_per_hour_to_new_numbers, true)
                    .await?
            {
                return Err(paused(
                    policy.sms.max_per_hour_to_new_numbers,
                    "new numbers",
                ));
            }
            let give_back = |all: bool| async move {
                let counts = [(new_number, true), (all, false)];
                for (taken, of_new) in counts {
                    if taken && let Err(e) = quota.give_back(hour, of_new).await {
                        tracing::warn!(error = %e, "could not give back an unsent text");
                    }
                }
            };
            if !quota.take(hour, policy.sms.max_per_hour, false).await? {
                give_back(false).await;
                return Err(paused(policy.sms.max_per_hour, "all texts"));
            }
            if let Err(e) = sms.send_code(phone, &otp, policy.lifetime_secs).await {
                give_back(true).await;
                return Err(unavailable(e));
            }
            Ok(())
        })
        .await?;
        tracing::info!(to = %phone, purpose = code.purpose.as_str(), "code sent by SMS");
        Ok(policy.sent(phone.masked()))
    }

    /// Sends a fresh code by email to `address`, under the policy's limits.
    pub(crate) async fn send_by_email<E: EmailSender>(
        &self,
        Mailing { email, letter }: Mailing<'_, E>,
        items: &OneTimeCode,
        code: CodeFor<'_>,
        address: &Email,
        now: i64,
    ) -> Result<CodeSent, CodeFailure> {
        let (policy, keys) = (&self.policy, &self.keys);
        send(policy, keys, items, code, now, |otp| async move {
            let minutes = (policy.lifetime_secs + 59) / 60;
            let text = (letter.text)(otp.expose(), minutes);
            email
                .send(address, letter.subject, &text)
                .await
                .map_err(unavailable)
        })
        .await?;
        tracing::info!(to = %address.masked(), purpose = code.purpose.as_str(), "code sent by email");
        Ok(policy.sent(address.masked()))
    }

    /// Judges `presented`; right, it returns the live code's digest, for the write that
    /// spends it (`OneTimeCode::spend`, conditioned on the tries taken).
    pub(crate) async fn check(
        &self,
        items: &OneTimeCode,
        code: CodeFor<'_>,
        presented: &OtpCode,
        now: i64,
    ) -> Result<String, CodeFailure> {
        let (policy, keys) = (&self.policy, &self.keys);
        let key = keys.key().await.map_err(unavailable)?;
        let challenge = items.challenge();
        let verdict = policy.judge(now, challenge, code.target, |digest| {
            key.matches(code.purpose, code.subject, code.target, presented, digest)
        });
        let digest = challenge.and_then(|c| c.digest.clone()).unwrap_or_default();
        let refusal = match verdict {
            // The flow's write spends it, conditioned on fewer tries taken than the policy
            // allows: a right code judged while wrong ones came at once counts only among
            // the first tries.
            Verdict::Right => return Ok(digest),
            Verdict::NoLiveCode => CodeRefusal::Expired,
            Verdict::Exhausted => CodeRefusal::AttemptsExceeded,
            // A wrong code takes a try in one conditional write: however many arrive at once,
            // at most the policy's tries are taken.
            Verdict::Wrong => match items.take_try(&digest, policy.max_attempts).await? {
                Try::Gone => CodeRefusal::Expired,
                Try::Exhausted => CodeRefusal::AttemptsExceeded,
                Try::Taken(n) if n >= policy.max_attempts => CodeRefusal::AttemptsExceeded,
                Try::Taken(n) => CodeRefusal::Wrong {
                    tries_left: policy.max_attempts - n,
                },
            },
        };
        Err(refusal.into())
    }
}
