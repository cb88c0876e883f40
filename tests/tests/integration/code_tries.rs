//! A code's tries are taken before it is judged, in one conditional write: however many
//! codes arrive at once, at most the policy's five are judged, and a burned code stays
//! burned for the right one too.

use integration_tests::{TestEnv, fresh_phone, last_code_to};
use serde_json::{Value, json};

fn attempts(
    items: &[std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>],
    user: &str,
) -> u32 {
    let item = items
        .iter()
        .find(|i| {
            i["pk"].as_s().is_ok_and(|pk| pk == &format!("USER#{user}"))
                && i["sk"].as_s().is_ok_and(|sk| sk == "OTP#erase_account")
        })
        .expect("the erasure's code item");
    item["attempts"].as_n().unwrap().parse().unwrap()
}

#[tokio::test]
async fn two_dozen_wrong_erasure_codes_at_once_are_judged_at_most_five_times() {
    let env = TestEnv::new().await;
    let user = "tries-ada";
    let phone = fresh_phone();
    let patch = |body: Value| {
        env.request("PATCH", "/users/profile")
            .user(user)
            .json(body)
            .send()
    };
    assert_eq!(patch(json!({"phone": phone})).await.status, 202);
    let r = patch(json!({"phone": phone, "code": last_code_to(&phone)})).await;
    assert_eq!(r.status, 200, "{}", r.json());
    // A number proven by a change receives an erasure's code once it has settled.
    env.clock.advance(chrono::Duration::hours(24));

    let erase = |body: Value| {
        env.request("DELETE", "/users/me")
            .user(user)
            .json(body)
            .send()
    };
    assert_eq!(
        erase(json!({})).await.status,
        202,
        "a code to the proven number"
    );
    let right = last_code_to(&phone);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };

    let answers =
        futures_util::future::join_all((0..24).map(|_| erase(json!({"code": wrong})))).await;
    let codes: Vec<String> = answers
        .iter()
        .map(|r| {
            assert_eq!(r.status, 406, "{}", r.json());
            r.json()["code"].as_str().unwrap().to_owned()
        })
        .collect();
    let judged_wrong = codes.iter().filter(|c| *c == "otp_invalid").count();
    assert!(
        judged_wrong <= 4,
        "four wrong codes leave tries, the fifth burns the code: {codes:?}"
    );
    assert!(
        codes
            .iter()
            .all(|c| c == "otp_invalid" || c == "otp_attempts_exceeded"),
        "{codes:?}"
    );
    assert_eq!(
        attempts(&env.scan_all().await, user),
        5,
        "exactly five tries were taken, however many codes came"
    );

    let r = erase(json!({"code": right})).await;
    assert_eq!(r.status, 406, "{}", r.json());
    assert_eq!(r.json()["code"], "otp_attempts_exceeded");
    let r = env.request("GET", "/users/profile").user(user).send().await;
    assert_eq!(r.status, 200, "nothing erased");
}
