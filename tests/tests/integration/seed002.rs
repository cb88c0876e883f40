//! Seed 002's API as its Node and PHP samples call it: form bodies, the `apikey` and
//! `Authorization` headers, its paths with the trailing slash, its envelope and words.

use std::io::Cursor;

use integration_tests::{
    FormPart, TestEnv, emails_to, fresh_phone, last_code_to, multipart_body, sms_to,
    user_token_with,
};
use local_api::GatewayResponse;
use serde_json::{Value, json};

const APP_KEY: &str = "node-sample-app-key";
const BOUNDARY: &str = "--------------------------node-form-data";

/// The Node `request` library's `formData`: multipart, one part per field.
fn form_data(fields: &[(&str, &[u8])]) -> Vec<u8> {
    let parts: Vec<FormPart<'_>> = fields
        .iter()
        .map(|(name, bytes)| FormPart {
            name,
            file: name
                .contains("image")
                .then_some(("upload.bin", "application/octet-stream")),
            bytes,
        })
        .collect();
    multipart_body(BOUNDARY, &parts)
}

async fn call(
    env: &TestEnv,
    method: &str,
    path: &str,
    user: &str,
    body: Option<(&str, Vec<u8>)>,
) -> GatewayResponse {
    let mut request = env
        .request(method, path)
        .header("apikey", APP_KEY)
        .bearer(&user_token_with(user, &[]));
    if let Some((content_type, bytes)) = body {
        request = request.header("content-type", content_type).raw(bytes);
    }
    request.send().await
}

async fn post_form(
    env: &TestEnv,
    path: &str,
    user: &str,
    fields: &[(&str, &[u8])],
) -> GatewayResponse {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    call(
        env,
        "POST",
        path,
        user,
        Some((&content_type, form_data(fields))),
    )
    .await
}

async fn post_urlencoded(env: &TestEnv, path: &str, user: &str, form: &str) -> GatewayResponse {
    let body = Some((
        "application/x-www-form-urlencoded",
        form.as_bytes().to_vec(),
    ));
    call(env, "POST", path, user, body).await
}

/// An account signed up by phone (seed 000), so its number is verified.
async fn account(env: &TestEnv, email: &str, phone: &str) -> String {
    integration_tests::phone_account(env, email, phone, "correct horse battery").await
}

fn unique_email(name: &str) -> String {
    format!("{name}-{:08x}@example.com", rand::random::<u32>())
}

#[tokio::test]
async fn the_node_samples_get_seed_002_bodies() {
    let env = TestEnv::builder().app_keys(&[APP_KEY]).build().await;
    let (email, phone) = (unique_email("ada"), fresh_phone());
    let id = account(&env, &email, &phone).await;

    let r = call(&env, "GET", "/user/get/profile/", &id, None).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let body = r.json();
    assert_eq!(
        (&body["status_code"], &body["errors"]),
        (&json!(200), &json!({}))
    );
    let user = &body["data"]["UserProfile"][0];
    assert_eq!(user["username"], id.as_str());
    assert_eq!(user["email"], email.as_str());
    assert_eq!(user["phone_code"], "+90");
    assert_eq!(user["phone_number"], &phone[3..]);
    assert_eq!(user["country_code"], "TR");
    assert!(body["data"]["UserLocInfo"].is_object());

    let r = post_form(
        &env,
        "/user/update/profile/",
        &id,
        &[
            ("first_name", b"Lucas"),
            ("last_name", b"Lovelace"),
            ("email", email.as_bytes()),
            ("languages", b"de"),
            ("currencies", b"EUR"),
            ("timezones", b"Europe/Berlin"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(
        r.json(),
        json!({"status_code": 200, "errors": {}, "data": {}})
    );
    let loc = call(&env, "GET", "/user/get/profile/", &id, None)
        .await
        .json();
    assert_eq!(loc["data"]["UserProfile"][0]["first_name"], "Lucas");
    assert_eq!(
        loc["data"]["UserLocInfo"],
        json!({"lan": "de", "tz": "Europe/Berlin", "currency": "EUR"})
    );

    let r = call(&env, "GET", "/get/local-info/", &id, None).await;
    assert_eq!(r.status, 200);
    assert!(r.json()["data"]["languages"].as_array().unwrap().len() > 100);

    let mut png = Vec::new();
    image::RgbImage::new(8, 8)
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let r = post_form(
        &env,
        "/user/profile-image/",
        &id,
        &[("image", &png), ("cropped_image", &png)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert!(r.json()["data"]["image_url"].is_string());
    let r = post_form(
        &env,
        "/user/profile-image/",
        &id,
        &[("image", &png), ("cropped_image", b"text")],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["errors"]["cropped_image"],
        json!([
            "Upload a valid image. The file you uploaded was either not an image or a corrupted image."
        ])
    );
}

/// Seed 002's update sample sends back what its GET returned: the national number, with
/// `phone_code` beside it in the GET only. Read in the account's country it is the same
/// number: no change, no code. A new national number is read in that country too.
#[tokio::test]
async fn the_number_get_returned_goes_back_unchanged_and_a_national_one_is_read_at_home() {
    let env = TestEnv::builder().app_keys(&[APP_KEY]).build().await;
    let (email, phone) = (unique_email("nat"), fresh_phone());
    let id = account(&env, &email, &phone).await;
    let got = call(&env, "GET", "/user/get/profile/", &id, None)
        .await
        .json();
    let national = got["data"]["UserProfile"][0]["phone_number"]
        .as_str()
        .unwrap()
        .to_owned();
    let texts = sms_to(&phone).len();
    let r = post_form(
        &env,
        "/user/update/profile/",
        &id,
        &[
            ("first_name", b"Grace"),
            ("last_name", b"Hopper"),
            ("email", email.as_bytes()),
            ("phone_number", national.as_bytes()),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(
        sms_to(&phone).len(),
        texts,
        "an unchanged number sends no code"
    );
    let after = call(&env, "GET", "/user/get/profile/", &id, None)
        .await
        .json();
    assert_eq!(after["data"]["UserProfile"][0]["first_name"], "Grace");
    assert_eq!(
        after["data"]["UserProfile"][0]["phone_number"],
        national.as_str()
    );

    let new = fresh_phone();
    let r = post_urlencoded(
        &env,
        "/user/update/profile/",
        &id,
        &format!("email={email}&phone_number={}", &new[3..]),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.json());
    assert_eq!(
        sms_to(&new).len(),
        1,
        "the code goes to the number in the account's country"
    );
}

/// The image sample's URL (`/user/profile/profile-image/`), which its heading writes as
/// `/user/profile-image/`: both are served.
#[tokio::test]
async fn the_image_sample_url_is_served_beside_the_heading_one() {
    let env = TestEnv::builder().app_keys(&[APP_KEY]).build().await;
    let mut png = Vec::new();
    image::RgbImage::new(8, 8)
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    for path in [
        "/user/profile/profile-image/",
        "/user/profile/profile-image",
    ] {
        let r = post_form(
            &env,
            path,
            "sample-user",
            &[("image", &png), ("cropped_image", &png)],
        )
        .await;
        assert_eq!(r.status, 200, "{path}: {}", r.json());
        assert!(r.json()["data"]["image_url"].is_string(), "{path}");
    }
}

#[tokio::test]
async fn documented_validation_errors_come_back_in_seed_002_shape() {
    let env = TestEnv::builder().app_keys(&[APP_KEY]).build().await;
    let (email, phone) = (unique_email("ada"), fresh_phone());
    let id = account(&env, &email, &phone).await;
    let long = "x".repeat(256);
    let cases = [
        (
            "first_name=Lucas".to_owned(),
            "email",
            "This field is required.",
        ),
        (
            "email=not-an-email".to_owned(),
            "email",
            "Enter a valid email address.",
        ),
        (
            format!("email={email}&first_name={long}"),
            "first_name",
            "Ensure this field has no more than 255 characters.",
        ),
        (
            format!("email={email}&phone_number=12ab"),
            "phone_number",
            "Phone number must be entered in the format: '999999999'. Up to 15 digits allowed.",
        ),
        (
            format!("email={email}&token_field=123456"),
            "token_checksum_field",
            "This field is required.",
        ),
        (
            format!("email={email}&phone_number=905321234567&resend=yes"),
            "resend",
            "must be true or false",
        ),
    ];
    for (form, field, message) in cases {
        let r = post_urlencoded(&env, "/user/update/profile/", &id, &form).await;
        assert_eq!(r.status, 400, "{form}");
        let body = r.json();
        assert_eq!(body["status_code"], 400);
        assert_eq!(body["errors"][field], json!([message]), "{form}: {body}");
        assert_eq!(body["data"], json!({}));
    }

    // The email change: a token to the new address, its checksum texted to the proven
    // number (the sign-up's email is unproven), both to apply.
    let new = unique_email("lucas");
    let r = post_urlencoded(&env, "/user/update/profile/", &id, &format!("email={new}")).await;
    assert_eq!(r.status, 202, "{}", r.json());
    assert!(r.json()["data"].get("token_checksum_field").is_none());
    let checksum = last_code_to(&phone);
    let token = emails_to(&new)[0]
        .1
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_owned();
    let wrong = format!("{:06}", (token.parse::<u32>().unwrap() + 1) % 1_000_000);
    let r = post_urlencoded(
        &env,
        "/user/update/profile/",
        &id,
        &format!("email={new}&token_field={wrong}&token_checksum_field={checksum}"),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["errors"]["token_field"],
        json!(["Token is not matching."])
    );
    let r = post_urlencoded(
        &env,
        "/user/update/profile/",
        &id,
        &format!("email={new}&token_field={token}&token_checksum_field={checksum}"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let view = call(&env, "GET", "/user/get/profile", &id, None)
        .await
        .json();
    assert_eq!(view["data"]["UserProfile"][0]["email"], new.as_str());
}

#[tokio::test]
async fn a_deployment_with_app_keys_refuses_requests_without_one() {
    let env = TestEnv::builder().app_keys(&[APP_KEY]).build().await;
    let token = user_token_with("someone", &[]);
    for (method, path) in [
        ("GET", "/user/get/profile/"),
        ("GET", "/get/local-info/"),
        ("POST", "/user/update/profile/"),
    ] {
        for key in [None, Some("wrong-key")] {
            let mut request = env.request(method, path).bearer(&token);
            if let Some(key) = key {
                request = request.header("apikey", key);
            }
            let r = request.send().await;
            assert_eq!(r.status, 403, "{method} {path} with {key:?}");
            let body: Value = r.json();
            assert_eq!(body["status_code"], 403);
            assert!(body["errors"]["apikey"].is_array());
        }
    }
    let r = env
        .request("GET", "/user/get/profile/")
        .header("apikey", APP_KEY)
        .send()
        .await;
    assert_eq!(r.status, 401, "the token is still required");
}
