//! The phone-change use case on its own: ports played by test implementations (an SMS
//! sender that fails or records, a fixed key), the store real (the emulator's DynamoDB).

use std::sync::Mutex;

use domain::otp::{OtpCode, OtpKey, OtpPolicy};
use domain::ports::{KeyUnavailable, OtpKeys, SmsNotSent, SmsSender};
use domain::{Actor, ExpectedVersion, PhoneNumber, ProfilePatch, UserId};
use integration_tests::{TestEnv, fresh_phone};
use store::ProfileStore;
use usecases::codes::{CodeFailure, CodeSettings};
use usecases::phone_change::{Outcome, PhoneChange, Refusal, Request};

/// Fails every send, like SNS refusing a publish.
struct FailingSms;

impl SmsSender for FailingSms {
    async fn send_code(&self, _: &PhoneNumber, _: &OtpCode, _: i64) -> Result<(), SmsNotSent> {
        Err(SmsNotSent("refused by the test".into()))
    }
}

/// Delivers by remembering the codes.
#[derive(Default)]
struct RecordingSms(Mutex<Vec<OtpCode>>);

impl SmsSender for RecordingSms {
    async fn send_code(&self, _: &PhoneNumber, code: &OtpCode, _: i64) -> Result<(), SmsNotSent> {
        self.0.lock().unwrap().push(code.clone());
        Ok(())
    }
}

struct FixedKey(OtpKey);

impl OtpKeys for FixedKey {
    async fn key(&self) -> Result<&OtpKey, KeyUnavailable> {
        Ok(&self.0)
    }
}

#[tokio::test]
async fn a_failed_send_releases_its_reservation() {
    let env = TestEnv::new().await;
    let profiles = ProfileStore::new(env.dynamodb.clone(), &env.table);
    let codes = CodeSettings {
        keys: FixedKey(OtpKey::new(&[9; 32]).unwrap()),
        policy: OtpPolicy::default(),
        clock: env.clock.clone(),
    };
    let user = UserId::parse("ada").unwrap();
    let phone = PhoneNumber::parse(&fresh_phone()).unwrap();
    let actor = Actor {
        source: domain::Source::Holder,
        actor: "ada".into(),
        request_id: "use-case".into(),
    };
    let ask = ProfilePatch {
        phone: Some(phone.clone()),
        ..ProfilePatch::default()
    };
    let request = |patch| Request {
        user: &user,
        patch,
        phone: &phone,
        expected: ExpectedVersion::Any,
        actor: &actor,
    };

    let failing = PhoneChange {
        profiles: &profiles,
        sms: &FailingSms,
        codes: &codes,
    };
    let refused = failing.run(&request(&ask)).await.unwrap_err();
    assert!(
        matches!(refused, Refusal::Failed(CodeFailure::Unavailable(_))),
        "{refused:?}"
    );
    assert!(
        env.scan_all().await.is_empty(),
        "the reservation was released"
    );

    let recording = RecordingSms::default();
    let working = PhoneChange {
        profiles: &profiles,
        sms: &recording,
        codes: &codes,
    };
    let sent = working.run(&request(&ask)).await.unwrap();
    assert!(
        matches!(
            sent,
            Outcome::CodeSent(domain::otp::CodeSent {
                expires_in: 180,
                ..
            })
        ),
        "{sent:?}"
    );
    let again = working.run(&request(&ask)).await.unwrap_err();
    assert!(
        matches!(
            again,
            Refusal::Failed(CodeFailure::Refused(
                domain::otp::CodeRefusal::RateLimited { .. }
            ))
        ),
        "the successful send was charged: {again:?}"
    );

    let code = recording.0.lock().unwrap().pop().unwrap();
    let verify = ProfilePatch {
        code: Some(code),
        ..ask.clone()
    };
    let Outcome::Applied(profile) = working.run(&request(&verify)).await.unwrap() else {
        panic!("the right code applies the change");
    };
    assert_eq!(profile.phone.as_deref(), Some(phone.e164()));
    assert!(profile.phone_verified);
}
