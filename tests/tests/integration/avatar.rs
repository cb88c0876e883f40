//! Profile images (issue 9) against the emulator's S3 and DynamoDB: real images only,
//! named refusals that store nothing, the daily limit, and replaced images retired.

use std::io::Cursor;

use image::{ImageFormat, RgbImage};
use integration_tests::{TestEnv, user_token_with};
use local_api::GatewayResponse;
use serde_json::Value;

/// A part: its name, the file name it claims, its bytes.
type Part<'a> = (&'a str, &'a str, &'a [u8]);

const BOUNDARY: &str = "----upload-boundary-7MA4YWxkTrZu0gW";

fn encoded(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 99]))
        .write_to(&mut Cursor::new(&mut out), format)
        .unwrap();
    out
}

/// A multipart body; each part with a file name and a Content-Type that may lie.
fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, filename, bytes) in parts {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: text/plain\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn upload(env: &TestEnv, user: &str, parts: &[Part<'_>]) -> GatewayResponse {
    env.request("POST", "/users/profile/image")
        .bearer(&user_token_with(user, &[]))
        .header(
            "content-type",
            &format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .raw(multipart(parts))
        .send()
        .await
}

async fn profile(env: &TestEnv, user: &str) -> Value {
    env.request("GET", "/users/profile")
        .bearer(&user_token_with(user, &[]))
        .send()
        .await
        .json()
}

fn fetch(url: &str) -> Vec<u8> {
    ureq::get(url)
        .call()
        .expect("the image is served")
        .body_mut()
        .read_to_vec()
        .unwrap()
}

#[tokio::test]
async fn a_real_image_is_stored_and_shown_and_bad_parts_are_named() {
    let env = TestEnv::new().await;
    let png = encoded(64, 48, ImageFormat::Png);
    // The file name and Content-Type say text; the bytes say PNG, and decide.
    let r = upload(&env, "ada", &[("image", "notes.txt", &png)]).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let url = r.json()["image_url"].as_str().unwrap().to_owned();
    assert!(url.ends_with(".png"), "{url}");
    assert_eq!(fetch(&url), png, "the stored object is the upload");
    assert_eq!(profile(&env, "ada").await["avatar_url"], url.as_str());

    let jpeg = encoded(64, 64, ImageFormat::Jpeg);
    let truncated = &jpeg[..jpeg.len() / 2];
    let big = vec![0x89u8; 5 * 1024 * 1024];
    let cases: [(&[Part<'_>], &str); 5] = [
        (&[("image", "photo.png", b"just text, named .png")], "image"),
        (
            &[
                ("image", "a.png", &png),
                ("cropped_image", "c.jpg", truncated),
            ],
            "cropped_image",
        ),
        (&[("image", "big.png", &big)], "image"),
        (
            &[("avatar", "a.png", &png), ("extra", "x.png", &png)],
            "extra",
        ),
        (&[("cropped_image", "c.png", &png)], "image"),
    ];
    for (parts, named) in cases {
        let r = upload(&env, "ada", parts).await;
        assert_eq!(r.status, 400, "{named}: {}", r.json());
        assert!(
            r.json()["errors"][named].is_array(),
            "{named}: {}",
            r.json()
        );
    }
    let r = upload(
        &env,
        "ada",
        &[("image", "wide.png", &encoded(4097, 1, ImageFormat::Png))],
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["errors"]["image"][0]
            .as_str()
            .unwrap()
            .contains("4096")
    );
    assert_eq!(
        profile(&env, "ada").await["avatar_url"],
        url.as_str(),
        "refused uploads change nothing"
    );

    // Seed 000's name for the part, with a cropped version (seed 002).
    let webp = encoded(16, 16, ImageFormat::WebP);
    let r = upload(
        &env,
        "ada",
        &[
            ("avatar", "a.webp", &webp),
            ("cropped_image", "c.jpg", &jpeg),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert!(
        r.json()["cropped_image_url"]
            .as_str()
            .unwrap()
            .ends_with(".jpg")
    );
    let old_key = url.split("/avatars/").nth(1).unwrap();
    let tags = env
        .platform
        .s3()
        .get()
        .get_object_tagging()
        .bucket(local_api::avatar_bucket_name(&env.table))
        .key(format!("avatars/{old_key}"))
        .send()
        .await
        .unwrap();
    assert!(
        tags.tag_set()
            .iter()
            .any(|t| t.key() == "state" && t.value() == "replaced"),
        "the replaced image is retired for the lifecycle rule: {tags:?}"
    );
}

#[tokio::test]
async fn the_sixth_upload_of_the_day_is_refused_in_seed_002_words() {
    let env = TestEnv::new().await;
    let png = encoded(8, 8, ImageFormat::Png);
    for i in 0..5 {
        let r = upload(&env, "bob", &[("image", "a.png", &png)]).await;
        assert_eq!(r.status, 200, "upload {i}: {}", r.json());
    }
    let last = profile(&env, "bob").await["avatar_url"].clone();
    let r = upload(&env, "bob", &[("image", "a.png", &png)]).await;
    assert_eq!(r.status, 429);
    let retry: i64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&retry), "{retry}");
    let detail = r.json()["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.starts_with("Your daily profile update limit exceeded. Expected available in "),
        "{detail}"
    );
    assert_eq!(profile(&env, "bob").await["avatar_url"], last);
    assert_eq!(
        upload(&env, "carol", &[("image", "a.png", &png)])
            .await
            .status,
        200,
        "the limit is per user"
    );
}
