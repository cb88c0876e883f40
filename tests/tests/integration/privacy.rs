//! Data-subject rights: an export that lists every stored fact, checked
//! against a scan of the table and a listing of the bucket; an erasure that leaves
//! nothing but a tombstone, proved the same way, survives a crash half-way, touches no
//! other user, and reaches the loyalty platform through the change events.

use std::collections::BTreeSet;
use std::io::Cursor;

use aws_sdk_dynamodb::types::AttributeValue;
use image::{ImageFormat, RgbImage};
use integration_tests::change_feed::LoyaltyPipeline;
use integration_tests::{
    TestEnv, api_token, fail_dynamodb, fresh_phone, heal_dynamodb, last_code_to, sms_to,
};
use local_api::GatewayResponse;
use serde_json::{Value, json};

type Item = std::collections::HashMap<String, AttributeValue>;

const PASSWORD: &str = "correct horse battery";

/// A user with something of every kind the service keeps.
struct Rich {
    id: String,
    email: String,
    phone: String,
    access: String,
    refresh: Vec<String>,
    image_keys: Vec<String>,
}

fn png() -> Vec<u8> {
    let mut out = Vec::new();
    RgbImage::from_fn(32, 32, |x, y| image::Rgb([x as u8, y as u8, 7]))
        .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .unwrap();
    out
}

async fn call(
    env: &TestEnv,
    method: &str,
    path: &str,
    token: &str,
    body: Value,
) -> GatewayResponse {
    env.request(method, path)
        .bearer(token)
        .json(body)
        .send()
        .await
}

async fn sign_up(env: &TestEnv, email: &str, phone: &str) -> Value {
    let body = json!({
        "first_name": "Ada", "last_name": "Lovelace", "email": email, "password": PASSWORD,
        "phone": phone, "date_of_birth": "1990-12-10", "gender": "female",
        "sms_allowed": true, "email_allowed": false, "call_allowed": true, "add_loyalty": true
    });
    let post = |body: Value| {
        env.request("POST", "/users/register-with-loyalty/")
            .json(body)
            .send()
    };
    assert_eq!(post(body.clone()).await.status, 202);
    let mut with_code = body;
    with_code["code"] = json!(last_code_to(phone));
    let r = post(with_code).await;
    assert_eq!(r.status, 201, "{}", r.json());
    r.json()
}

/// Profile, verified phone and email, a loyalty card, two login sessions, 500 and more
/// consent-history entries (partner-made ones among them), 3 segments, CI, an image.
async fn rich_user(env: &TestEnv, history: usize) -> Rich {
    let (email, phone) = (
        format!("rich-{:08x}@example.com", rand::random::<u32>()),
        fresh_phone(),
    );
    let created = sign_up(env, &email, &phone).await;
    let id = created["profile"]["user_id"].as_str().unwrap().to_owned();
    let access = created["access_token"].as_str().unwrap().to_owned();
    let mut refresh = vec![created["refresh_token"].as_str().unwrap().to_owned()];
    assert_eq!(created["loyalty_card"]["status"], "active");
    // The address proven, as seed 001's verification would.
    env.dynamodb
        .update_item()
        .table_name(&env.table)
        .key("pk", AttributeValue::S(format!("EMAIL#{email}")))
        .key("sk", AttributeValue::S("CREDENTIAL".into()))
        .update_expression("SET email_verified = :yes")
        .expression_attribute_values(":yes", AttributeValue::Bool(true))
        .send()
        .await
        .unwrap();
    let login = env
        .request("POST", "/auth/login")
        .json(json!({"email": email, "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(login.status, 200, "{}", login.json());
    refresh.push(login.json()["refresh_token"].as_str().unwrap().to_owned());

    let partner = api_token(env, &["profiles:write", "ci:write", "segments:write"]).await;
    // The user flips every channel but `info`; a partner flips `info`: each request
    // records a change per channel it flips.
    let (mut own, mut partners) = (0, 0);
    while consent_entries(env, &id).await < history {
        if (own + partners) % 4 == 3 {
            partners += 1;
            let flag = if partners % 2 == 1 {
                "Subscribed"
            } else {
                "Unsubscribed"
            };
            let r = call(
                env,
                "POST",
                "/api/v1/users/profile/update",
                &partner,
                json!({
                    "user_properties": [{"user_id": id, "properties": {"info_flag": flag}}]
                }),
            )
            .await;
            assert_eq!(r.json()["result_data"]["successful_user_ids"], json!([id]));
        } else {
            own += 1;
            let to = if own % 2 == 1 {
                "unsubscribed"
            } else {
                "subscribed"
            };
            let body: serde_json::Map<String, Value> = domain::Channel::ALL
                .iter()
                .filter(|c| c.as_str() != "info")
                .map(|c| (c.as_str().to_owned(), json!(to)))
                .collect();
            let r = call(
                env,
                "PATCH",
                "/users/consents",
                &access,
                Value::Object(body),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.json());
        }
    }
    for segment in [11, 12, 13] {
        let r = call(
            env,
            "PUT",
            &format!("/api/v1/segments/{segment}"),
            &partner,
            json!({
                "name": format!("Segment {segment}"), "self_assignable": true
            }),
        )
        .await;
        assert!(r.status.is_success(), "{}", r.json());
        let r = call(
            env,
            "POST",
            &format!("/users/segments/{segment}/set"),
            &access,
            json!({}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.json());
    }
    // A partner's change to a field and an attribute goes on the account's record.
    let r = call(
        env,
        "POST",
        "/api/v1/users/profile/update",
        &partner,
        json!({
            "user_properties": [{"user_id": id, "properties": {"address": "Alsancak, İzmir", "tier": "gold"}}]
        }),
    )
    .await;
    assert_eq!(r.json()["result_data"]["successful_user_ids"], json!([id]));
    let r = call(
        env,
        "POST",
        "/api/v1/users/ci/update",
        &partner,
        json!({
            "user_ci_properties": [{"user_id": id, "properties": {"kakao_id": "0123456789"}}]
        }),
    )
    .await;
    assert_eq!(r.json()["result_data"]["successful_user_ids"], json!([id]));
    let boundary = "----privacy-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend(png());
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = env
        .request("POST", "/users/profile/image")
        .bearer(&access)
        .header(
            "content-type",
            &format!("multipart/form-data; boundary={boundary}"),
        )
        .raw(body)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let url = r.json()["image_url"].as_str().unwrap().to_owned();
    let image_keys = vec![url.split_once("/avatars/").unwrap().1.to_owned()]
        .into_iter()
        .map(|k| format!("avatars/{k}"))
        .collect();
    Rich {
        id,
        email,
        phone,
        access,
        refresh,
        image_keys,
    }
}

async fn consent_entries(env: &TestEnv, user: &str) -> usize {
    let out = env
        .dynamodb
        .query()
        .table_name(&env.table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :log)")
        .expression_attribute_values(":pk", AttributeValue::S(format!("USER#{user}")))
        .expression_attribute_values(":log", AttributeValue::S("CONSENTLOG#".into()))
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .unwrap();
    out.count as usize
}

fn text(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        _ => String::new(),
    }
}

/// Every item that holds `needle` anywhere, keys included.
fn holding<'a>(items: &'a [Item], needle: &str) -> Vec<&'a Item> {
    items
        .iter()
        .filter(|item| format!("{item:?}").contains(needle))
        .collect()
}

async fn objects(env: &TestEnv, prefix: &str) -> Vec<String> {
    let bucket = &env.platform.settings.require_avatars().unwrap().bucket;
    env.platform
        .s3()
        .get()
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap()
        .contents
        .unwrap_or_default()
        .into_iter()
        .filter_map(|o| o.key)
        .collect()
}

/// The user's keyed folder, with the stack's OTP key as the functions read it.
async fn folder(env: &TestEnv, user: &str) -> String {
    let keys = adapters::secrets::otp_key_source(
        env.platform.secrets(),
        local_api::otp_secret_name(&env.table),
    );
    keys.get()
        .await
        .unwrap()
        .object_folder(&domain::UserId::parse(user).unwrap())
}

async fn export(env: &TestEnv, token: &str) -> GatewayResponse {
    env.request("POST", "/users/me/export")
        .bearer(token)
        .send()
        .await
}

fn schema() -> jsonschema::Validator {
    let raw =
        std::fs::read_to_string(integration_tests::workspace_root().join("export.schema.json"))
            .unwrap();
    jsonschema::validator_for(&serde_json::from_str(&raw).unwrap()).unwrap()
}

#[tokio::test]
async fn the_export_lists_every_stored_fact_and_no_secret() {
    let env = TestEnv::new().await;
    let mut rich = rich_user(&env, 500).await;
    let _neighbour = rich_user(&env, 12).await;
    // An administrator's change of the number (seed 001), recorded in the account audit.
    let new_phone = fresh_phone();
    let admin = integration_tests::user_token_with("usr_admin", &["users:admin"]);
    let path = format!("/api/v1/accounts/users/{}", rich.id);
    let r = call(&env, "PATCH", &path, &admin, json!({"phone": new_phone})).await;
    assert_eq!(r.status, 200, "{}", r.json());
    rich.phone = new_phone;

    // The link's 15 minutes count from when the export ran, somewhere between these two
    // readings of the clock however long it took.
    let before = env.clock.now().timestamp();
    let r = export(&env, &rich.access).await;
    let after = env.clock.now().timestamp();
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(
        r.headers.get("cache-control").map(|v| v.to_str().unwrap()),
        Some("no-store"),
        "a link to everything about a person is kept by no cache on the way"
    );
    let link = r.json();
    let expires = chrono::DateTime::parse_from_rfc3339(link["expires_at"].as_str().unwrap())
        .unwrap()
        .timestamp();
    assert!(
        (before + 900..=after + 900).contains(&expires),
        "the link lives 15 minutes from the export: expires {expires}, export between {before} and {after}"
    );
    let url = link["url"].as_str().unwrap();
    assert!(
        url.contains("X-Amz-Expires=900") && url.contains("X-Amz-Signature="),
        "{url}"
    );
    let document: Value = ureq::get(url)
        .call()
        .expect("the presigned link serves the document")
        .body_mut()
        .read_json()
        .unwrap();
    let errors: Vec<String> = schema()
        .iter_errors(&document)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "the document follows its schema: {errors:?}"
    );

    // Every item of the user's partition is in the document, section by section.
    let items = env.scan_all().await;
    let partition = format!("USER#{}", rich.id);
    let mine: Vec<&Item> = items
        .iter()
        .filter(|i| text(i, "pk") == partition)
        .collect();
    let count = |prefix: &str| {
        mine.iter()
            .filter(|i| text(i, "sk").starts_with(prefix))
            .count()
    };
    let len = |section: &str| document[section].as_array().unwrap().len();
    assert!(count("CONSENTLOG#") >= 500);
    assert_eq!(len("consent_history"), count("CONSENTLOG#"));
    let by_partner = document["consent_history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"] == "api")
        .count();
    assert!(
        by_partner >= 10,
        "partner-made changes are there: {by_partner}"
    );
    assert_eq!(len("segments"), 3);
    let segments: BTreeSet<i64> = document["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["segment_id"].as_i64().unwrap())
        .collect();
    assert_eq!(segments, BTreeSet::from([11, 12, 13]));
    assert_eq!(len("sessions"), count("SESSION#"));
    assert_eq!(len("sessions"), 2, "two login sessions");
    assert_eq!(len("pending_codes"), count("OTP#"));
    // The export was counted before its document was read: the count is in it.
    assert_eq!(len("counters"), count("UPLOADS#") + count("EXPORTS"));
    assert_eq!(count("EXPORTS"), 1);
    assert_eq!(len("other"), 0, "every record has its section");
    assert_eq!(len("administrative_changes"), count("AUDIT#"));
    assert_eq!(len("administrative_changes"), 3);
    let changes = document["administrative_changes"].as_array().unwrap();
    let changing = |field: &str| {
        changes
            .iter()
            .find(|c| c["changes"].get(field).is_some())
            .unwrap()
    };
    let admin = changing("phone");
    assert_eq!(admin["source"], "admin");
    assert_eq!(admin["actor"], "usr_admin");
    assert_eq!(admin["changes"]["phone"]["to"], json!(rich.phone));
    let partner = changing("address");
    assert_eq!(partner["source"], "api");
    assert!(
        partner["actor"].as_str().unwrap().starts_with("tok_"),
        "{partner}"
    );
    assert_eq!(
        partner["changes"],
        json!({"address": {"to": "Alsancak, İzmir"}, "attributes.tier": {"to": "gold"}})
    );
    let ci = changing("ci.kakao_id");
    assert_eq!(
        (&ci["source"], &ci["actor"]),
        (&json!("api"), &partner["actor"])
    );
    assert_eq!(ci["changes"], json!({"ci.kakao_id": {"to": "0123456789"}}));
    assert_eq!(document["ci"]["kakao_id"], "0123456789");
    let card = mine.iter().find(|i| text(i, "sk") == "LOYALTY").unwrap();
    assert_eq!(
        document["loyalty_card"]["number"],
        text(card, "number").as_str()
    );
    assert_eq!(document["profile"]["email"], rich.email.as_str());
    assert_eq!(document["profile"]["phone"], rich.phone.as_str());
    assert_eq!(document["profile"]["phone_verified"], true);
    assert_eq!(document["account"]["email"], rich.email.as_str());
    assert_eq!(document["account"]["email_verified"], true);
    assert_eq!(document["phone_claim"]["phone"], rich.phone.as_str());
    let sections = [
        "profile",
        "consent_history",
        "segments",
        "ci",
        "loyalty_card",
        "sessions",
        "pending_codes",
        "counters",
        "other",
    ];
    let exported: usize = sections
        .iter()
        .map(|s| match &document[*s] {
            Value::Array(a) => a.len(),
            Value::Null => 0,
            _ => 1,
        })
        .sum::<usize>()
        + len("administrative_changes");
    assert_eq!(exported, mine.len(), "one record per item of the partition");
    // Outside the partition: the credential and the phone marker, the only items that
    // name the user there.
    let outside: Vec<&Item> = holding(&items, &rich.id)
        .into_iter()
        .filter(|i| text(i, "pk") != partition)
        .collect();
    let outside_kinds: BTreeSet<String> = outside.iter().map(|i| text(i, "sk")).collect();
    assert!(
        outside_kinds.is_subset(&BTreeSet::from([
            "CREDENTIAL".into(),
            "OWNER".into(),
            "TOKEN".into()
        ])),
        "{outside_kinds:?}"
    );
    // The bucket: the image is listed (the export itself was written after it was read).
    let images = objects(&env, &format!("avatars/{}/", folder(&env, &rich.id).await)).await;
    let listed: BTreeSet<String> = document["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(images, rich.image_keys);
    assert!(images.iter().all(|k| listed.contains(k)), "{listed:?}");

    // No secret leaves.
    let raw = document.to_string();
    for secret in [
        "$argon2",
        "password_hash",
        "digest",
        "\"current\"",
        "\"previous\"",
    ] {
        assert!(!raw.contains(secret), "{secret} is in the export");
    }
    for token in &rich.refresh {
        assert!(!raw.contains(token.as_str()));
    }

    // 3 a day: the fourth waits for the first to leave the window.
    assert_eq!(export(&env, &rich.access).await.status, 200);
    assert_eq!(export(&env, &rich.access).await.status, 200);
    let r = export(&env, &rich.access).await;
    assert_eq!(r.status, 429, "{}", r.json());
    let retry: i64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 23 * 3600 && retry <= 24 * 3600, "{retry}");
    env.clock.advance(chrono::Duration::hours(24));
    assert_eq!(export(&env, &rich.access).await.status, 200);
    assert_eq!(
        objects(&env, &format!("exports/{}/", folder(&env, &rich.id).await))
            .await
            .len(),
        4
    );

    // An API token is no user; an unknown user has nothing to export.
    let server = api_token(&env, &["profiles:read"]).await;
    assert_eq!(export(&env, &server).await.status, 403);
    let stranger = integration_tests::user_token_with("nobody-here", &[]);
    assert_eq!(export(&env, &stranger).await.status, 404);
    let r = env
        .request("POST", "/users/me/export")
        .bearer(&rich.access)
        .json(json!({"format": "csv"}))
        .send()
        .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["errors"]["format"].is_array());
}

/// Items of `user` (by id, email or phone) as they stand, for "unchanged" checks.
fn belonging(items: &[Item], user: &Rich) -> Vec<String> {
    let mut out: Vec<String> = items
        .iter()
        .filter(|i| {
            let raw = format!("{i:?}");
            raw.contains(&user.id) || raw.contains(&user.email) || raw.contains(&user.phone)
        })
        // As JSON, whose objects sort their keys: the same item prints the same.
        .map(|i| {
            serde_dynamo::from_item::<_, Value>(i.clone())
                .unwrap()
                .to_string()
        })
        .collect();
    out.sort();
    out
}

/// Nothing of `user` is left but the tombstone; the bucket holds nothing of theirs.
async fn assert_erased(env: &TestEnv, user: &Rich) {
    let items = env.scan_all().await;
    let left: Vec<&Item> = holding(&items, &user.id);
    assert_eq!(left.len(), 1, "only the tombstone holds the id: {left:#?}");
    let tombstone = left[0];
    assert_eq!(text(tombstone, "pk"), format!("USER#{}", user.id));
    assert_eq!(text(tombstone, "sk"), "PROFILE");
    assert_eq!(text(tombstone, "erasure"), "erased");
    for kept in [
        "erased_at",
        "erased_by",
        "erase_request_id",
        "email_hash",
        "phone_hash",
    ] {
        assert!(
            !text(tombstone, kept).is_empty(),
            "the tombstone keeps {kept}"
        );
    }
    let personal = [
        "email",
        "phone",
        "first_name",
        "last_name",
        "date_of_birth",
        "version",
    ];
    for gone in personal {
        assert!(!tombstone.contains_key(gone), "the tombstone has no {gone}");
    }
    assert!(
        holding(&items, &user.email).is_empty(),
        "nothing holds the email"
    );
    let digits = user.phone.trim_start_matches('+');
    assert!(
        holding(&items, digits).is_empty(),
        "nothing holds the phone"
    );
    let f = folder(env, &user.id).await;
    assert!(objects(env, &format!("avatars/{f}/")).await.is_empty());
    assert!(objects(env, &format!("exports/{f}/")).await.is_empty());
}

#[tokio::test]
async fn an_erasure_leaves_a_tombstone_only_and_the_address_and_number_register_again() {
    let env = TestEnv::new().await;
    let mut pipeline = LoyaltyPipeline::new(&env).await;
    let rich = rich_user(&env, 500).await;
    let neighbour = rich_user(&env, 24).await;
    assert_eq!(export(&env, &rich.access).await.status, 200);
    pipeline.run().await;
    let items = env.scan_all().await;
    let neighbours_items = belonging(&items, &neighbour);
    let card = items
        .iter()
        .find(|i| text(i, "pk") == format!("USER#{}", rich.id) && text(i, "sk") == "LOYALTY")
        .unwrap();
    let member_id = text(card, "member_id");

    // Without a proof: a code to the verified phone, nothing erased.
    let erase = |token: &str, body: Value| {
        let request = env.request("DELETE", "/users/me").bearer(token);
        let request = if body.is_null() {
            request
        } else {
            request.json(body)
        };
        request.send()
    };
    let r = erase(&rich.access, Value::Null).await;
    assert_eq!(r.status, 202, "{}", r.json());
    assert_eq!(
        sms_to(&rich.phone).len(),
        2,
        "the sign-up's code, then the erasure's"
    );
    let r = erase(&rich.access, json!({"code": "000000"})).await;
    assert_eq!(r.status, 406, "{}", r.json());
    let r = erase(&rich.access, json!({"password": "not the password"})).await;
    assert_eq!(r.status, 401, "{}", r.json());
    let r = erase(
        &rich.access,
        json!({"password": PASSWORD, "code": "123456"}),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = erase(&rich.access, json!({"pin": "1"})).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["errors"]["pin"].is_array());
    let server = api_token(&env, &["users:delete"]).await;
    assert_eq!(
        erase(&server, Value::Null).await.status,
        403,
        "API tokens are no user"
    );
    assert_eq!(
        env.request("GET", "/users/profile")
            .bearer(&rich.access)
            .send()
            .await
            .status,
        200,
        "refusals erase nothing"
    );

    let code = last_code_to(&rich.phone);
    let r = erase(&rich.access, json!({"code": code})).await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json(), json!({"status": "erased"}));
    assert_erased(&env, &rich).await;
    assert_eq!(
        belonging(&env.scan_all().await, &neighbour),
        neighbours_items
    );

    // Tokens: refresh tokens are gone; the access token reaches nothing.
    for token in &rich.refresh {
        let r = env
            .request("POST", "/auth/refresh")
            .json(json!({"refresh_token": token}))
            .send()
            .await;
        assert_eq!(r.status, 401);
    }
    let login = env
        .request("POST", "/auth/login")
        .json(json!({"email": rich.email, "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(login.status, 401);
    let get = env
        .request("GET", "/users/profile")
        .bearer(&rich.access)
        .send()
        .await;
    assert_eq!(get.status, 404);
    for (method, path, body) in [
        ("PATCH", "/users/profile", json!({"first_name": "Back"})),
        ("PATCH", "/users/consents", json!({"mkt": "subscribed"})),
        ("POST", "/users/segments/11/set", json!({})),
        ("DELETE", "/users/me", json!({"password": PASSWORD})),
    ] {
        let r = call(&env, method, path, &rich.access, body).await;
        assert_eq!(r.status, 410, "{method} {path}: {}", r.json());
        assert_eq!(r.json()["code"], "account_erased");
    }
    assert_eq!(export(&env, &rich.access).await.status, 404);
    assert_erased(&env, &rich).await;

    // Partners cannot touch the old id.
    let partner = api_token(&env, &["profiles:write", "users:delete"]).await;
    let r = call(
        &env,
        "POST",
        "/api/v1/users/profile/update",
        &partner,
        json!({
            "user_properties": [{"user_id": rich.id, "properties": {"first_name": "Ghost"}}]
        }),
    )
    .await;
    assert_eq!(r.json()["result_data"]["failure_details"][0]["code"], 4004);
    let r = call(
        &env,
        "POST",
        "/api/v1/users/delete",
        &partner,
        json!({"user_ids": [rich.id]}),
    )
    .await;
    assert_eq!(r.json()["result_data"]["failure_details"][0]["code"], 4004);
    assert_erased(&env, &rich).await;

    // The loyalty member is anonymized once the event arrives, and the tombstone forgets it.
    let outcomes = pipeline.run().await;
    let deleted: Vec<_> = outcomes
        .iter()
        .filter(|(t, _, _)| t == "account.deleted")
        .collect();
    let types: Vec<&String> = outcomes.iter().map(|(t, _, _)| t).collect();
    assert_eq!(deleted.len(), 1, "{types:?}");
    assert_eq!(deleted[0].1, loyalty_sync::Synced::Anonymized);
    assert_eq!(deleted[0].2.detail["user_id"], rich.id.as_str());
    let detail = deleted[0].2.detail.to_string();
    assert!(!detail.contains(&rich.email) && !detail.contains(rich.phone.trim_start_matches('+')));
    let member: Vec<Value> = env
        .standin("GET", "members")
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["customerId"] == member_id.as_str())
        .cloned()
        .collect();
    assert_eq!(member.len(), 1);
    assert!(
        member[0]["externalId"].is_null(),
        "not even our id is left there"
    );
    assert_eq!(member[0]["anonymized"], true);
    assert!(member[0]["phone"].is_null() && member[0]["firstName"].is_null());
    let items = env.scan_all().await;
    assert!(!format!("{:?}", holding(&items, &rich.id)).contains("loyalty_member"));

    // The same email and number register again, under a new id.
    let again = sign_up(&env, &rich.email, &rich.phone).await;
    let new_id = again["profile"]["user_id"].as_str().unwrap();
    assert_ne!(new_id, rich.id);
}

#[tokio::test]
async fn an_erasure_killed_half_way_is_finished_by_the_retry_and_touches_no_neighbour() {
    let env = TestEnv::new().await;
    let rich = rich_user(&env, 300).await;
    let neighbour = rich_user(&env, 24).await;
    let neighbours_items = belonging(&env.scan_all().await, &neighbour);
    let before = env.scan_all().await.len();

    // Two batches of deletes pass, then every one fails.
    fail_dynamodb(&env.table, "BatchWriteItem", 2);
    let r = env
        .request("DELETE", "/users/me")
        .bearer(&rich.access)
        .json(json!({"password": PASSWORD}))
        .send()
        .await;
    heal_dynamodb(&env.table);
    assert_eq!(r.status, 503, "{}", r.json());
    assert!(r.headers.contains_key("retry-after"));
    let halfway = env.scan_all().await;
    assert!(
        holding(&halfway, &rich.id).len() > 1,
        "the erasure stopped half-way"
    );
    assert!(halfway.len() < before, "some of it was deleted");
    // Marked first: every route answers as for a missing user meanwhile.
    let get = env
        .request("GET", "/users/profile")
        .bearer(&rich.access)
        .send()
        .await;
    assert_eq!(get.status, 404);
    let partner = api_token(&env, &["profiles:read"]).await;
    let r = call(
        &env,
        "POST",
        "/api/v1/users/profile",
        &partner,
        json!({"user_ids": [rich.id]}),
    )
    .await;
    assert_eq!(r.json()["result_data"]["failure_details"][0]["code"], 4004);

    // The retry needs no new proof, and finishes.
    let r = env
        .request("DELETE", "/users/me")
        .bearer(&rich.access)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_erased(&env, &rich).await;
    assert_eq!(
        belonging(&env.scan_all().await, &neighbour),
        neighbours_items
    );
}

#[tokio::test]
async fn partners_erase_with_users_delete_on_api_tokens_only() {
    let env = TestEnv::new().await;
    let rich = rich_user(&env, 12).await;
    let other = rich_user(&env, 12).await;
    let neighbours_items = belonging(&env.scan_all().await, &other);
    let env = &env;
    let post = |token: String, body: Value| async move {
        call(env, "POST", "/api/v1/users/delete", &token, body).await
    };
    let no_scope = api_token(env, &["profiles:write"]).await;
    let r = post(no_scope, json!({"user_ids": [rich.id]})).await;
    assert_eq!(r.status, 403);
    let user_with_scope = integration_tests::user_token_with(&rich.id, &["users:delete"]);
    let r = post(user_with_scope, json!({"user_ids": [rich.id]})).await;
    assert_eq!(
        r.status, 403,
        "a user token never passes, whatever its scopes"
    );
    let token = api_token(env, &["users:delete"]).await;
    let many: Vec<String> = (0..21).map(|i| format!("u{i}")).collect();
    let r = post(token.clone(), json!({"user_ids": many})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["result_code"], 4002);
    let r = post(token.clone(), json!({"user_ids": [rich.id], "reason": "x"})).await;
    assert_eq!(r.json()["result_code"], 4003);
    assert_eq!(
        env.request("GET", "/users/profile")
            .bearer(&rich.access)
            .send()
            .await
            .status,
        200,
        "refused requests erase nothing"
    );

    let r = post(token.clone(), json!({"user_ids": [rich.id, "never-was"]})).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let result = &r.json()["result_data"];
    assert_eq!(r.json()["result_code"], 2000);
    assert_eq!(result["successful_user_ids"], json!([rich.id]));
    assert_eq!(result["failure_details"][0]["code"], 4004);
    assert_eq!(
        result["failure_details"][0]["user_ids"],
        json!(["never-was"])
    );
    assert_erased(env, &rich).await;
    assert_eq!(belonging(&env.scan_all().await, &other), neighbours_items);
    let items = env.scan_all().await;
    let tombstone = holding(&items, &rich.id)[0];
    assert!(text(tombstone, "erased_by").starts_with("api_token:"));

    let r = post(token, json!({"user_ids": [rich.id]})).await;
    assert_eq!(
        r.json()["result_data"]["failure_details"][0]["code"],
        4004,
        "erased already"
    );
}

/// An identity provider's user can join segments without ever writing a profile. Their
/// items are no less theirs: a partner's erasure reaches them and leaves a tombstone.
#[tokio::test]
async fn an_id_without_a_profile_is_erased_too() {
    let env = TestEnv::new().await;
    let env = &env;
    let id = format!("idp|orphan-{:08x}", rand::random::<u32>());
    let access = integration_tests::user_token(&id);
    let partner = api_token(env, &["segments:write", "users:delete"]).await;
    for segment in [21, 22] {
        let path = format!("/api/v1/segments/{segment}");
        let body = json!({"name": format!("Segment {segment}"), "self_assignable": true});
        assert!(
            call(env, "PUT", &path, &partner, body)
                .await
                .status
                .is_success()
        );
        let path = format!("/users/segments/{segment}/set");
        let r = call(env, "POST", &path, &access, json!({})).await;
        assert_eq!(r.status, 200, "{}", r.json());
    }
    let before = env.scan_all().await;
    assert_eq!(
        holding(&before, &id).len(),
        2,
        "two memberships, no profile"
    );

    let r = env
        .request("DELETE", "/users/me")
        .bearer(&access)
        .send()
        .await;
    assert_eq!(r.status, 403, "{}", r.json());
    assert_eq!(r.json()["code"], "erasure_proof_unavailable");
    assert_eq!(holding(&env.scan_all().await, &id).len(), 2);

    let r = call(
        env,
        "POST",
        "/api/v1/users/delete",
        &partner,
        json!({"user_ids": [id, "never-was"]}),
    )
    .await;
    let result = &r.json()["result_data"];
    assert_eq!(result["successful_user_ids"], json!([id]), "{}", r.json());
    assert_eq!(
        result["failure_details"][0]["user_ids"],
        json!(["never-was"])
    );

    let items = env.scan_all().await;
    let left = holding(&items, &id);
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(text(left[0], "sk"), "PROFILE");
    assert_eq!(text(left[0], "erasure"), "erased");
    assert!(text(left[0], "erased_by").starts_with("api_token:"));
    assert!(
        holding(&items, "never-was").is_empty(),
        "an id with nothing gets no tombstone"
    );

    let r = call(
        env,
        "PATCH",
        "/users/profile",
        &access,
        json!({"first_name": "Ada"}),
    )
    .await;
    assert_eq!(
        r.status,
        410,
        "a live token cannot recreate it: {}",
        r.json()
    );
    let r = call(env, "POST", "/users/segments/21/set", &access, json!({})).await;
    assert_eq!(r.status, 410, "{}", r.json());
}

/// `profilectl` as support staff run it, against the test's stack on the emulator.
#[tokio::test]
async fn support_staff_export_and_erase_with_profilectl() {
    let env = TestEnv::new().await;
    let rich = rich_user(&env, 24).await;
    let other = rich_user(&env, 12).await;
    let neighbours_items = belonging(&env.scan_all().await, &other);

    let out = integration_tests::profilectl(&env, &["user", "export", &rich.id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let document: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(schema().iter_errors(&document).next().is_none());
    assert_eq!(document["user_id"], rich.id.as_str());
    assert_eq!(document["objects"].as_array().unwrap().len(), 1);
    assert!(consent_entries(&env, &rich.id).await > 0);
    assert_eq!(
        document["consent_history"].as_array().unwrap().len(),
        consent_entries(&env, &rich.id).await
    );

    let out = integration_tests::profilectl(&env, &["user", "erase", &rich.id]);
    assert!(!out.status.success(), "--operator is required");
    let out =
        integration_tests::profilectl(&env, &["user", "erase", &rich.id, "--operator", "ana"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_erased(&env, &rich).await;
    let items = env.scan_all().await;
    assert_eq!(
        text(holding(&items, &rich.id)[0], "erased_by"),
        "operator:ana"
    );
    assert_eq!(belonging(&items, &other), neighbours_items);
    let out = integration_tests::profilectl(&env, &["user", "export", &rich.id]);
    assert!(!out.status.success(), "nothing left to export");
}

#[tokio::test]
async fn without_a_verified_phone_the_code_goes_to_the_verified_email() {
    let env = TestEnv::new().await;
    let email = format!("mail-{:08x}@example.com", rand::random::<u32>());
    let password = "securepassword123";
    let id = integration_tests::verified_account(&env, &email, password, ("John", "Doe")).await;
    let token = integration_tests::user_token_with(&id, &[]);

    let r = env
        .request("DELETE", "/users/me")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(r.status, 202, "{}", r.json());
    let (subject, body) = integration_tests::emails_to(&email).last().unwrap().clone();
    assert_eq!(subject, "Confirm the erasure of your account");
    let r = env
        .request("DELETE", "/users/me")
        .bearer(&token)
        .json(json!({"code": integration_tests::six_digits(&body)}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let items = env.scan_all().await;
    assert_eq!(holding(&items, &id).len(), 1, "the tombstone only");
    assert!(holding(&items, &email).is_empty());
    // The address is free again.
    let r = env
        .request("POST", "/api/v1/accounts/users")
        .json(json!({"email": email, "password": password,
                     "confirm_password": password, "first_name": "John"}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
    assert_ne!(r.json()["data"]["id"], id.as_str());
}

/// An account holds addresses and numbers it never proved (seed 001's sign-up stores
/// both unverified). Its erasure deletes what it owns, and leaves what belongs to the
/// address or number: their send caps, and a stranger's pending sign-up code.
#[tokio::test]
async fn an_erasure_resets_no_cap_and_burns_no_code_of_an_address_or_number_it_never_proved() {
    let env = TestEnv::new().await;
    let email = format!("unproven-{:08x}@example.com", rand::random::<u32>());
    let phone = fresh_phone();
    let password = "securepassword123";
    let r = env
        .request("POST", "/api/v1/accounts/users")
        .json(
            json!({"email": email, "password": password, "confirm_password": password,
                     "first_name": "Mallory", "phone": phone}),
        )
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
    let id = r.json()["data"]["id"].as_str().unwrap().to_owned();
    // The number's holder starts a sign-up of their own: a code goes to their phone.
    let holder = json!({"first_name": "Nia", "last_name": "Holder", "email": format!("holder-{email}"),
                        "password": password, "phone": phone, "date_of_birth": "1990-12-10"});
    let register = |body: Value| env.request("POST", "/users/register").json(body).send();
    let r = register(holder.clone()).await;
    assert_eq!(r.status, 202, "{}", r.json());
    let before = env.scan_all().await;
    let at = |items: &[Item], pk: &str, sk_prefix: &str| {
        items
            .iter()
            .filter(|i| text(i, "pk") == pk && text(i, "sk").starts_with(sk_prefix))
            .count()
    };
    let email_pk = format!("EMAIL#{}", email.to_lowercase());
    let phone_pk = format!("PHONE#{phone}");
    assert_eq!(
        at(&before, &email_pk, "OTP_SENDS"),
        1,
        "the address's send cap"
    );
    assert_eq!(
        at(&before, &phone_pk, "OTP#"),
        1,
        "the holder's pending sign-up code"
    );

    let token = integration_tests::user_token_with(&id, &[]);
    let r = env
        .request("DELETE", "/users/me")
        .bearer(&token)
        .json(json!({"password": password}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let after = env.scan_all().await;
    assert_eq!(
        at(&after, &email_pk, "CREDENTIAL"),
        0,
        "the account's own claim goes"
    );
    assert_eq!(
        at(&after, &email_pk, "OTP_SENDS"),
        1,
        "the cap of an address the account never proved stays"
    );
    assert_eq!(
        at(&after, &phone_pk, "OTP#"),
        1,
        "the holder's pending sign-up code stays"
    );
    assert_eq!(
        at(&after, &phone_pk, "OTP_SENDS"),
        1,
        "and the number's cap"
    );
    let mut with_code = holder;
    with_code["code"] = json!(last_code_to(&phone));
    let r = register(with_code).await;
    assert_eq!(r.status, 201, "the holder's code still works: {}", r.json());
}

/// Logins racing a partner's erasure, run for real: whichever way each race goes, no
/// session outlives the erasure, nothing of the account is left but its tombstone, and
/// the address and the number sign up again.
#[tokio::test]
async fn logins_racing_an_erasure_leave_nothing_behind_it() {
    let env = TestEnv::new().await;
    let (email, phone) = (
        format!("racer-{:08x}@example.com", rand::random::<u32>()),
        fresh_phone(),
    );
    let user = integration_tests::verified_account(&env, &email, PASSWORD, ("Ada", "L")).await;
    let token = api_token(&env, &["users:delete"]).await;
    // Spread over two logins' time, the erasure in the middle, so that some logins end
    // before it, some read the account before it and open their session after it began,
    // and some start after it: the answers must hold however the races fall; the spread,
    // measured on this machine, only makes each kind of race likely.
    let started = std::time::Instant::now();
    let warm_up = json!({"email": email, "password": PASSWORD});
    let r = env
        .request("POST", "/auth/login")
        .from_ip("192.0.2.1")
        .json(warm_up)
        .send()
        .await;
    assert_eq!(r.status, 200);
    let one_login = started.elapsed();
    let warm_refresh = r.json()["refresh_token"].as_str().unwrap().to_owned();
    let logins = (0..8u32).map(|i| {
        let (env, email) = (&env, email.clone());
        async move {
            tokio::time::sleep(one_login * i / 4).await;
            env.request("POST", "/auth/login")
                .from_ip(&format!("198.51.100.{i}"))
                .json(json!({"email": email, "password": PASSWORD}))
                .send()
                .await
        }
    });
    let erasure = async {
        tokio::time::sleep(one_login).await;
        call(
            &env,
            "POST",
            "/api/v1/users/delete",
            &token,
            json!({"user_ids": [user]}),
        )
        .await
    };
    let (answers, erased) = tokio::join!(futures_util::future::join_all(logins), erasure);
    assert_eq!(erased.status, 200, "{}", erased.json());
    assert_eq!(
        erased.json()["result_data"]["successful_user_ids"],
        json!([user])
    );
    let r = env
        .request("POST", "/auth/refresh")
        .json(json!({"refresh_token": warm_refresh}))
        .send()
        .await;
    assert_eq!(
        r.status, 401,
        "the session from before the erasure ended with it"
    );
    for answer in &answers {
        let status = answer.status.as_u16();
        assert!([200, 401].contains(&status), "{status}: {}", answer.json());
        if status == 200 {
            let refresh = answer.json()["refresh_token"].as_str().unwrap().to_owned();
            let r = env
                .request("POST", "/auth/refresh")
                .json(json!({"refresh_token": refresh}))
                .send()
                .await;
            assert_eq!(r.status, 401, "a session outlived the erasure");
        }
    }
    let items = env.scan_all().await;
    let left: Vec<String> = items
        .iter()
        .filter(|i| {
            let named = |name: &str| match i.get(name) {
                Some(AttributeValue::S(v)) => v.contains(&user) || v.contains(&email),
                _ => false,
            };
            named("pk") || named("user_id")
        })
        .map(|i| format!("{:?}/{:?}", i.get("pk"), i.get("sk")))
        .collect();
    assert_eq!(left.len(), 1, "only the tombstone: {left:?}");
    assert!(left[0].contains("PROFILE"), "{left:?}");
    let again = sign_up(&env, &email, &phone).await;
    assert_ne!(again["profile"]["user_id"], json!(user));
}
