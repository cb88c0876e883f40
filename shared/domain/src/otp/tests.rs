use super::*;
use crate::UserId;

fn key() -> OtpKey {
    OtpKey::new(&[7u8; 32]).unwrap()
}

fn user() -> UserId {
    UserId::parse("ada").unwrap()
}

#[test]
fn purposes_are_distinct_in_digests() {
    let code = OtpCode::parse("123456").unwrap();
    let d = key().digest(Purpose::RegisterPhone, "ada@example.com", "+1", &code);
    assert!(key().matches(Purpose::RegisterPhone, "ada@example.com", "+1", &code, &d));
    assert!(!key().matches(Purpose::PhoneChange, "ada@example.com", "+1", &code, &d));
    assert!(!key().matches(Purpose::RegisterPhone, "bob@example.com", "+1", &code, &d));
}

#[test]
fn codes_are_six_digits_and_hidden_from_debug() {
    for _ in 0..200 {
        let c = OtpCode::generate();
        assert_eq!(c.expose().len(), 6);
        assert!(c.expose().bytes().all(|b| b.is_ascii_digit()));
    }
    assert_eq!(
        format!("{:?}", OtpCode::parse("123456").unwrap()),
        "OtpCode(******)"
    );
    for bad in ["12345", "1234567", "12345a", " 123456"] {
        assert!(OtpCode::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn digests_bind_purpose_subject_target_and_code() {
    let code = OtpCode::parse("123456").unwrap();
    let d = key().digest(
        Purpose::PhoneChange,
        user().as_str(),
        "+905321234567",
        &code,
    );
    assert!(!d.contains("123456"));
    assert!(key().matches(
        Purpose::PhoneChange,
        user().as_str(),
        "+905321234567",
        &code,
        &d
    ));
    assert!(!key().matches(
        Purpose::PhoneChange,
        user().as_str(),
        "+905321234568",
        &code,
        &d
    ));
    assert!(!key().matches(Purpose::PhoneChange, "bob", "+905321234567", &code, &d));
    assert!(!key().matches(
        Purpose::PhoneChange,
        user().as_str(),
        "+905321234567",
        &OtpCode::parse("123457").unwrap(),
        &d
    ));
    let other_key = OtpKey::new(&[8u8; 32]).unwrap();
    assert!(!other_key.matches(
        Purpose::PhoneChange,
        user().as_str(),
        "+905321234567",
        &code,
        &d
    ));
    assert!(OtpKey::new(&[1u8; 31]).is_err());
}

#[test]
fn cooldown_and_hourly_caps() {
    let p = OtpPolicy::default();
    let t0 = 1_000_000;
    let c = p.issue(t0, None, "+1", "d".into());
    assert_eq!(
        p.check_send(t0 + 59, Some(&c), None),
        Err(RateLimited {
            retry_after_secs: 1
        })
    );
    assert!(p.check_send(t0 + 60, Some(&c), None).is_ok());

    let mut c = c;
    for i in 1..5 {
        c = p.issue(t0 + i * 60, Some(&c), "+1", "d".into());
    }
    assert_eq!(c.sends.len(), 5);
    let err = p.check_send(t0 + 300, Some(&c), None).unwrap_err();
    assert_eq!(err.retry_after_secs, HOUR_SECS - 300);
    assert!(
        p.check_send(t0 + HOUR_SECS, Some(&c), None).is_ok(),
        "the oldest send left the window"
    );

    let mut log = None;
    for i in 0..5 {
        log = Some(p.log_send(t0 + i, log.as_ref()));
    }
    assert!(p.check_send(t0 + 10, None, log.as_ref()).is_err());
}

#[test]
fn verdicts() {
    let p = OtpPolicy::default();
    let mut c = p.issue(100, None, "+1", "d".into());
    assert_eq!(p.judge(100, Some(&c), "+1", |_| true), Verdict::Right);
    assert_eq!(p.judge(100, Some(&c), "+1", |_| false), Verdict::Wrong);
    assert_eq!(p.judge(100, Some(&c), "+2", |_| true), Verdict::NoLiveCode);
    assert_eq!(p.judge(280, Some(&c), "+1", |_| true), Verdict::NoLiveCode);
    assert_eq!(p.judge(100, None, "+1", |_| true), Verdict::NoLiveCode);
    c.attempts = 5;
    assert_eq!(p.judge(100, Some(&c), "+1", |_| true), Verdict::Exhausted);
}

#[test]
fn a_sealed_secret_opens_only_with_its_key_and_its_context() {
    let sealed = key().seal("USER#ada/totp_1", b"twenty bytes secret!");
    assert!(!sealed.contains("twenty"));
    assert_ne!(
        sealed,
        key().seal("USER#ada/totp_1", b"twenty bytes secret!")
    );
    assert_eq!(
        key().open("USER#ada/totp_1", &sealed).as_deref(),
        Some(&b"twenty bytes secret!"[..])
    );
    assert_eq!(key().open("USER#eve/totp_1", &sealed), None);
    let other_key = OtpKey::new(&[8u8; 32]).unwrap();
    assert_eq!(other_key.open("USER#ada/totp_1", &sealed), None);
    assert_eq!(key().open("USER#ada/totp_1", "bm90IHNlYWxlZA"), None);
}

#[test]
fn recovery_digests_are_per_user() {
    let ada = crate::UserId::parse("ada").unwrap();
    let eve = crate::UserId::parse("eve").unwrap();
    let d = key().recovery_digest(&ada, "abcde12345");
    assert_eq!(d, key().recovery_digest(&ada, "abcde12345"));
    assert_ne!(d, key().recovery_digest(&eve, "abcde12345"));
    assert_ne!(d, key().recovery_digest(&ada, "abcde12346"));
}
