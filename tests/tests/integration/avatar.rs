//! Profile images against the emulator's S3 and DynamoDB: real images only,
//! named refusals that store nothing, the daily limit, and replaced images retired.

use std::io::Cursor;

use image::{ImageFormat, RgbImage};
use integration_tests::{FormPart, TestEnv, multipart_body, user_token_with};
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
    let parts: Vec<FormPart<'_>> = parts
        .iter()
        .map(|(name, filename, bytes)| FormPart {
            name,
            file: Some((filename, "text/plain")),
            bytes,
        })
        .collect();
    multipart_body(BOUNDARY, &parts)
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
    let stored = image::load_from_memory(&fetch(&url)).expect("the stored object is an image");
    assert_eq!((stored.width(), stored.height()), (64, 48));
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

/// A JPEG carrying what a phone writes beside the picture: an XMP packet with the place it
/// was taken and the camera's serial number.
fn jpeg_with_metadata(secret: &str) -> Vec<u8> {
    let jpeg = encoded(32, 24, ImageFormat::Jpeg);
    let mut xmp = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    xmp.extend_from_slice(
        format!("<x:xmpmeta><exif:GPSLatitude>41,0.5N</exif:GPSLatitude><aux:SerialNumber>{secret}</aux:SerialNumber></x:xmpmeta>").as_bytes(),
    );
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((xmp.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&xmp);
    out.extend_from_slice(&[0xFF, 0xFE]);
    let comment = format!("camera {secret}");
    out.extend_from_slice(&((comment.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(comment.as_bytes());
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[tokio::test]
async fn a_published_image_carries_no_metadata_and_is_cached_a_day_at_most() {
    let env = TestEnv::new().await;
    let secret = format!("SN-{:08x}", rand::random::<u32>());
    let upload_bytes = jpeg_with_metadata(&secret);
    assert!(
        image::load_from_memory(&upload_bytes).is_ok(),
        "the test image decodes"
    );
    let r = upload(&env, "dora", &[("image", "IMG_0001.jpg", &upload_bytes)]).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let url = r.json()["image_url"].as_str().unwrap().to_owned();
    let served = fetch(&url);
    let text = String::from_utf8_lossy(&served);
    assert!(
        !text.contains(&secret) && !text.contains("GPSLatitude"),
        "the served image still holds the upload's metadata"
    );
    let image = image::load_from_memory(&served).expect("what is served is an image");
    assert_eq!((image.width(), image.height()), (32, 24));
    use sha2::Digest;
    let digest = sha2::Sha256::new()
        .chain_update(b"object-owner:dora")
        .finalize();
    let plain: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    assert!(
        !url.contains(&plain),
        "the folder is a plain hash of the user id anyone can compute: {url}"
    );

    let key = url.split_once("/avatars/").unwrap().1;
    let head = env
        .platform
        .s3()
        .get()
        .head_object()
        .bucket(local_api::avatar_bucket_name(&env.table))
        .key(format!("avatars/{key}"))
        .send()
        .await
        .unwrap();
    let cache = head.cache_control().unwrap_or_default().to_owned();
    let max_age: u64 = cache
        .split(',')
        .find_map(|d| d.trim().strip_prefix("max-age="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no max-age in {cache:?}"));
    assert!(
        max_age <= 86_400,
        "{cache}: an erased image must stop serving within a day"
    );
    assert!(!cache.contains("immutable"), "{cache}");
}

#[tokio::test]
async fn past_the_daily_limit_an_upload_is_refused_before_its_image_is_read() {
    let env = TestEnv::new().await;
    let png = encoded(8, 8, ImageFormat::Png);
    for i in 0..5 {
        let r = upload(&env, "erin", &[("image", "a.png", &png)]).await;
        assert_eq!(r.status, 200, "upload {i}: {}", r.json());
    }
    let r = upload(&env, "erin", &[("image", "a.png", b"not an image at all")]).await;
    assert_eq!(
        r.status,
        429,
        "the limit is judged first, so a spent day decodes nothing: {}",
        r.json()
    );
}

#[tokio::test]
async fn a_failed_upload_gives_its_unit_back_with_what_the_function_is_granted() {
    let env = TestEnv::new().await;
    // Nothing stored yet: an empty bucket can go, and every put then fails.
    env.platform
        .s3()
        .get()
        .delete_bucket()
        .bucket(local_api::avatar_bucket_name(&env.table))
        .send()
        .await
        .unwrap();
    env.calls.take_leading_keys();
    let png = encoded(8, 8, ImageFormat::Png);
    let r = upload(&env, "finn", &[("image", "a.png", &png)]).await;
    assert_eq!(r.status, 503, "{}", r.json());
    let accesses = env.calls.take_leading_keys();
    assert!(
        accesses.iter().any(|a| a.action == "DeleteItem"),
        "the day's unit is given back: {accesses:?}"
    );
    let grants = integration_tests::dynamodb_grants("MediaFunction");
    let refused: Vec<_> = accesses
        .iter()
        .filter(|a| !integration_tests::granted(&grants, a))
        .collect();
    assert!(refused.is_empty(), "IAM refuses MediaFunction {refused:?}");
    let counters: Vec<_> = env
        .scan_all()
        .await
        .into_iter()
        .filter(|item| {
            item.get("sk")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|sk| sk.contains("UPLOAD"))
        })
        .collect();
    assert!(counters.is_empty(), "the unit stays taken: {counters:?}");
}
