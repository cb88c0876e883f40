//! Seed 000's `PATCH /users/profile/` as its Django REST framework view takes it: an HTML
//! form or `multipart/form-data` with an `avatar` image beside the other fields,
//! answered as the JSON PATCH is.

use std::io::Cursor;

use integration_tests::{FormPart, TestEnv, multipart_body, user_token_with};
use local_api::GatewayResponse;
use serde_json::{Value, json};

const BOUNDARY: &str = "----django-client-boundary-1f9a";

fn png(side: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::RgbImage::from_fn(side, side, |x, y| image::Rgb([x as u8, y as u8, 7]))
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// Text fields, then files, as a browser or `requests` writes them.
fn multipart(fields: &[(&str, &str)], files: &[(&str, &[u8])]) -> Vec<u8> {
    let text = fields.iter().map(|(name, value)| FormPart {
        name,
        file: None,
        bytes: value.as_bytes(),
    });
    let files = files.iter().map(|(name, bytes)| FormPart {
        name,
        file: Some(("me.png", "image/png")),
        bytes,
    });
    multipart_body(BOUNDARY, &text.chain(files).collect::<Vec<_>>())
}

async fn patch(
    env: &TestEnv,
    path: &str,
    user: &str,
    content_type: &str,
    body: Vec<u8>,
) -> GatewayResponse {
    env.request("PATCH", path)
        .bearer(&user_token_with(user, &[]))
        .header("content-type", content_type)
        .raw(body)
        .send()
        .await
}

async fn multipart_patch(
    env: &TestEnv,
    path: &str,
    user: &str,
    fields: &[(&str, &str)],
    files: &[(&str, &[u8])],
) -> GatewayResponse {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    patch(env, path, user, &content_type, multipart(fields, files)).await
}

async fn profile(env: &TestEnv, user: &str) -> Value {
    env.request("GET", "/users/profile")
        .bearer(&user_token_with(user, &[]))
        .send()
        .await
        .json()
}

#[tokio::test]
async fn a_multipart_patch_with_first_name_and_avatar_stores_both_in_one_answer() {
    let env = TestEnv::new().await;
    for (path, user) in [
        ("/users/profile/", "form-ada"),
        ("/users/profile", "form-bob"),
    ] {
        let r = multipart_patch(
            &env,
            path,
            user,
            &[("first_name", "Ada")],
            &[("avatar", &png(16))],
        )
        .await;
        assert_eq!(r.status, 200, "{path}: {}", r.json());
        let body = r.json();
        assert_eq!(body["first_name"], "Ada");
        let url = body["avatar_url"]
            .as_str()
            .expect("the answer points at the image")
            .to_owned();
        let stored = ureq::get(&url)
            .call()
            .expect("the image is served")
            .body_mut()
            .read_to_vec()
            .unwrap();
        let image = image::load_from_memory(&stored).expect("an image");
        assert_eq!((image.width(), image.height()), (16, 16));
        assert_eq!(profile(&env, user).await["avatar_url"], url.as_str());
    }
}

#[tokio::test]
async fn a_form_patch_reads_booleans_and_attributes_from_text() {
    let env = TestEnv::new().await;
    let form = "last_name=Lovelace&email_allowed=true&attributes=%7B%22tier%22%3A%22gold%22%7D";
    let r = patch(
        &env,
        "/users/profile/",
        "form-cy",
        "application/x-www-form-urlencoded",
        form.into(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["last_name"], "Lovelace");
    assert_eq!(r.json()["email_allowed"], true);
    assert_eq!(r.json()["attributes"], json!({"tier": "gold"}));
    let r = multipart_patch(
        &env,
        "/users/profile/",
        "form-cy",
        &[("attributes", "[1, 2]")],
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["errors"]["attributes"].is_array(), "{}", r.json());
}

#[tokio::test]
async fn a_bad_avatar_or_a_bad_field_changes_nothing() {
    let env = TestEnv::new().await;
    let r = multipart_patch(
        &env,
        "/users/profile/",
        "form-dee",
        &[("first_name", "Dee")],
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let before = env.scan_all().await;
    let r = multipart_patch(
        &env,
        "/users/profile/",
        "form-dee",
        &[("first_name", "Changed")],
        &[("avatar", b"not an image")],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.json());
    assert!(r.json()["errors"]["avatar"].is_array(), "{}", r.json());
    let r = multipart_patch(
        &env,
        "/users/profile/",
        "form-dee",
        &[("birthday", "x")],
        &[("avatar", &png(8))],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.json());
    assert_eq!(
        env.scan_all().await,
        before,
        "a refused PATCH stores nothing, counts nothing"
    );
}

#[tokio::test]
async fn avatars_in_patches_count_toward_the_daily_limit() {
    let env = TestEnv::new().await;
    let image = png(8);
    for i in 0..5 {
        let r = multipart_patch(
            &env,
            "/users/profile",
            "form-eve",
            &[],
            &[("avatar", &image)],
        )
        .await;
        assert_eq!(r.status, 200, "upload {i}: {}", r.json());
    }
    let r = multipart_patch(
        &env,
        "/users/profile",
        "form-eve",
        &[("first_name", "Eve")],
        &[("avatar", &image)],
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.json());
    assert!(r.headers.contains_key("retry-after"));
    assert_ne!(
        profile(&env, "form-eve").await["first_name"],
        "Eve",
        "nothing of a refused PATCH applies"
    );
}

#[tokio::test]
async fn the_loyalty_patch_takes_the_same_form_with_its_avatar() {
    let env = TestEnv::new().await;
    let r = multipart_patch(
        &env,
        "/users/profile-with-loyalty/",
        "form-fay",
        &[
            ("first_name", "Fay"),
            ("date_of_birth", "1990-12-10"),
            ("add_loyalty", "true"),
        ],
        &[("avatar", &png(12))],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let stored = profile(&env, "form-fay").await;
    assert_eq!(stored["first_name"], "Fay");
    assert!(stored["avatar_url"].is_string(), "{stored}");
}

/// `curl -d '{...}'` sends JSON labelled as a form: it is read as the JSON it is, as the
/// JSON routes always read a body.
#[tokio::test]
async fn a_json_body_labelled_as_a_form_is_read_as_json() {
    let env = TestEnv::new().await;
    let r = patch(
        &env,
        "/users/profile",
        "form-gus",
        "application/x-www-form-urlencoded",
        br#"{"first_name": "Gus", "attributes": {"tier": "gold"}}"#.to_vec(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["attributes"], json!({"tier": "gold"}));
}

/// A refused PATCH with an image (a stale version) deletes what it stored and keeps the
/// upload counted: refusals are no free decode past the day's limit.
#[tokio::test]
async fn a_refused_patch_with_an_image_still_counts_toward_the_limit() {
    let env = TestEnv::new().await;
    let image = png(8);
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    for i in 0..5 {
        let r = env
            .request("PATCH", "/users/profile")
            .bearer(&user_token_with("form-hal", &[]))
            .header("content-type", &content_type)
            .header("if-match", "\"999\"")
            .raw(multipart(&[("first_name", "Hal")], &[("avatar", &image)]))
            .send()
            .await;
        assert_ne!(r.status, 200, "attempt {i}: {}", r.json());
    }
    let r = multipart_patch(
        &env,
        "/users/profile",
        "form-hal",
        &[],
        &[("avatar", &image)],
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.json());
    let objects = env
        .platform
        .s3()
        .get()
        .list_objects_v2()
        .bucket(local_api::avatar_bucket_name(&env.table))
        .send()
        .await
        .unwrap();
    assert_eq!(
        objects.key_count(),
        Some(0),
        "refused uploads leave no object"
    );
}
