//! The email port against the emulator's SES: what the accounts flows will send codes with.

use domain::Email;
use domain::ports::EmailSender;
use integration_tests::{LogCapture, TestEnv, emails_to, fail_email_to};

#[tokio::test]
async fn emails_leave_through_ses_from_the_configured_sender() {
    let env = TestEnv::new().await;
    let to = format!("ada-{:08x}@example.com", rand::random::<u32>());
    let sender = env.platform.email_sender().unwrap();
    sender
        .send(
            &Email::parse(&to).unwrap(),
            "Your verification code",
            "Your code is 123456.",
        )
        .await
        .unwrap();
    assert_eq!(
        emails_to(&to),
        [(
            "Your verification code".to_owned(),
            "Your code is 123456.".to_owned()
        )]
    );
}

#[tokio::test]
async fn an_unverified_sender_is_refused() {
    let env = TestEnv::new().await;
    let sender = adapters::email::SesEmail::new(env.platform.ses(), "stranger@example.org");
    let to = Email::parse("ada@example.com").unwrap();
    assert!(sender.send(&to, "s", "t").await.is_err());
}

#[tokio::test]
async fn a_refused_send_is_logged_and_reported_without_the_recipient() {
    let logs = LogCapture::start();
    let env = TestEnv::new().await;
    let to = format!("refused-{:08x}@example.com", rand::random::<u32>());
    fail_email_to(&to, true);
    let sender = env.platform.email_sender().unwrap();
    let failure = sender
        .send(&Email::parse(&to).unwrap(), "s", "t")
        .await
        .expect_err("SES refused the recipient");
    fail_email_to(&to, false);
    assert!(
        failure.0.contains("MessageRejected"),
        "the reason names SES's error: {failure:?}"
    );
    assert!(
        !failure.0.contains(&to),
        "the reason holds the address: {failure:?}"
    );
    let text = logs.text();
    assert!(
        text.contains("email send failed"),
        "the capture holds this test's lines"
    );
    let local = to.split('@').next().unwrap();
    assert!(!text.contains(local), "a log line holds the recipient");
}
