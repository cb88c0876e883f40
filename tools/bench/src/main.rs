//! `cargo run --release -p bench` (or `make bench`): the service's performance budgets
//! (docs/benchmarks.md): init within 2x a bare function, peak memory, partner batches.
//!
//! Each function binary (release profile, this machine's architecture) runs against a
//! local stand-in for the Lambda Runtime API:
//! - init: process start → first `GET /runtime/invocation/next`, median of 21 rounds that
//!   interleave every binary, beside a bare `lambda_runtime` function built the same way. AWS endpoints point at a
//!   closed port, so a network call during init would show as a failure or a stall.
//! - peak RSS: `VmHWM` after serving every payload of its `events/` folder many times
//!   against the emulator.
//! - a partner batch of 20 users (update and view) with every DynamoDB call on the
//!   table delayed by L, through the profiles-api handler in process: its budget is
//!   3·L of wall time, as the 20 users are written at once.
//!
//! Numbers are printed, never asserted.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;

const INIT_RUNS: usize = 21;
const LOAD_ROUNDS: usize = 40;

/// The function binaries and the events/ folder each one serves.
const FUNCTIONS: &[(&str, &str)] = &[
    ("authorizer", "authorizer"),
    ("profile", "profile"),
    ("consents", "consents"),
    ("segments", "segments"),
    ("local-info", "local-info"),
    ("profiles-api", "profiles-api"),
    ("ci", "ci"),
    ("accounts", "accounts"),
    ("media", "media"),
    ("privacy", "privacy"),
    ("events", "events"),
    ("loyalty-sync", "loyalty-sync"),
];

/// Records in the stream batch of the events function's throughput run (its template
/// `BatchSize`).
const STREAM_BATCH: usize = 100;

struct RuntimeApi {
    events: Mutex<VecDeque<String>>,
    polled: Notify,
    drained: Notify,
    first_poll: Mutex<Option<Instant>>,
    served: Mutex<usize>,
}

async fn runtime_api(state: Arc<RuntimeApi>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let state = state.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let state = state.clone();
                        async move {
                            let path = req.uri().path().to_owned();
                            let _ = req.into_body().collect().await;
                            let mut response = hyper::Response::new(Full::new(Bytes::new()));
                            if path.ends_with("/invocation/next") {
                                state
                                    .first_poll
                                    .lock()
                                    .unwrap()
                                    .get_or_insert_with(Instant::now);
                                state.polled.notify_one();
                                let next = state.events.lock().unwrap().pop_front();
                                match next {
                                    Some(event) => {
                                        let id = format!("req-{}", *state.served.lock().unwrap());
                                        let headers = response.headers_mut();
                                        headers.insert(
                                            "lambda-runtime-aws-request-id",
                                            id.parse().unwrap(),
                                        );
                                        headers.insert(
                                            "lambda-runtime-deadline-ms",
                                            "32503680000000".parse().unwrap(),
                                        );
                                        headers.insert(
                                            "lambda-runtime-invoked-function-arn",
                                            "arn:aws:lambda:us-east-1:000000000000:function:bench"
                                                .parse()
                                                .unwrap(),
                                        );
                                        headers.insert(
                                            "lambda-runtime-trace-id",
                                            "Root=1-0-0".parse().unwrap(),
                                        );
                                        *response.body_mut() = Full::new(Bytes::from(event));
                                    }
                                    None => {
                                        state.drained.notify_one();
                                        tokio::time::sleep(Duration::from_secs(3600)).await;
                                    }
                                }
                            } else if path.contains("/response") || path.contains("/error") {
                                *state.served.lock().unwrap() += 1;
                                *response.status_mut() = hyper::StatusCode::ACCEPTED;
                            }
                            Ok::<_, Infallible>(response)
                        }
                    },
                );
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn binary(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

fn env_for(
    aws_endpoint: &str,
    table: &str,
    dead_letter_queue: &str,
    loyalty_url: &str,
) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("AWS_ENDPOINT_URL", aws_endpoint.to_owned()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_LAMBDA_FUNCTION_NAME", "bench".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "1".into()),
        ("TABLE_NAME", table.into()),
        ("OTP_SECRET_ARN", format!("{table}-otp-hmac")),
        (
            "TOKEN_SIGNING_KEY_SECRET",
            local_api::signing_key_secret_name(table),
        ),
        ("EMAIL_SENDER", local_api::DEV_EMAIL_SENDER.into()),
        ("AVATAR_BUCKET", local_api::avatar_bucket_name(table)),
        (
            "AVATAR_BASE_URL",
            format!("{aws_endpoint}/{}", local_api::avatar_bucket_name(table)),
        ),
        ("TOKEN_ISSUER", local_api::dev_token::DEV_ISSUER.into()),
        ("TOKEN_AUDIENCE", local_api::dev_token::DEV_AUDIENCE.into()),
        ("TOKEN_PUBLIC_KEYS", local_api::dev_token::dev_public_keys()),
        ("EVENT_BUS_NAME", local_api::event_bus_name(table)),
        ("DEAD_LETTER_QUEUE_URL", dead_letter_queue.into()),
        ("LOYALTY_PROVIDER", "openloyalty".into()),
        ("LOYALTY_BASE_URL", loyalty_url.into()),
        (
            "LOYALTY_STORE_CODE",
            local_api::DEV_LOYALTY_STORE_CODE.into(),
        ),
        (
            "LOYALTY_API_KEY_SECRET",
            local_api::loyalty_secret_name(table),
        ),
        ("RUST_LOG", "warn".into()),
    ];
    // Where the TLS client finds root certificates: one bundle file instead of a directory scan.
    if let Ok(bundle) = std::env::var("SSL_CERT_FILE") {
        env.push(("SSL_CERT_FILE", bundle));
    }
    env
}

async fn spawn(bin: &Path, runtime: &str, env: &[(&'static str, String)]) -> tokio::process::Child {
    tokio::process::Command::new(bin)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()))
}

/// Milliseconds from process start to the first poll of the Runtime API, once.
async fn init_sample(bin: &Path, env: &[(&'static str, String)]) -> f64 {
    let state = Arc::new(RuntimeApi {
        events: Mutex::new(VecDeque::new()),
        polled: Notify::new(),
        drained: Notify::new(),
        first_poll: Mutex::new(None),
        served: Mutex::new(0),
    });
    let addr = runtime_api(state.clone()).await;
    let started = Instant::now();
    let mut child = spawn(bin, &addr, env).await;
    tokio::time::timeout(Duration::from_secs(10), state.polled.notified())
        .await
        .unwrap_or_else(|_| panic!("{} never polled the Runtime API", bin.display()));
    let polled = state
        .first_poll
        .lock()
        .unwrap()
        .expect("a poll was recorded");
    let _ = child.kill().await;
    (polled - started).as_secs_f64() * 1000.0
}

/// Median init of each binary. Rounds interleave the binaries, so a noisy moment of a
/// shared machine lands on all of them rather than on whichever ran then.
async fn init_medians(bins: &[PathBuf], env: &[(&'static str, String)]) -> Vec<f64> {
    let mut samples = vec![Vec::new(); bins.len()];
    for _ in 0..INIT_RUNS {
        for (bin, out) in bins.iter().zip(&mut samples) {
            out.push(init_sample(bin, env).await);
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect()
}

fn events_of(dir: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Peak RSS after serving every event of the function LOAD_ROUNDS times.
async fn load(bin: &Path, events: &[String], env: &[(&'static str, String)]) -> (usize, u64, f64) {
    let queue: VecDeque<String> = (0..LOAD_ROUNDS)
        .flat_map(|_| events.iter().cloned())
        .collect();
    let total = queue.len();
    let state = Arc::new(RuntimeApi {
        events: Mutex::new(queue),
        polled: Notify::new(),
        drained: Notify::new(),
        first_poll: Mutex::new(None),
        served: Mutex::new(0),
    });
    let addr = runtime_api(state.clone()).await;
    let mut child = spawn(bin, &addr, env).await;
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(300), state.drained.notified())
        .await
        .expect("the function served its events");
    let elapsed = started.elapsed().as_secs_f64();
    let rss = child.id().map(peak_rss_kb).unwrap_or(0);
    let served = *state.served.lock().unwrap();
    let _ = child.kill().await;
    assert_eq!(served, total, "every event got a response");
    (served, rss, served as f64 / elapsed)
}

/// A stream batch as Lambda hands it over: `STREAM_BATCH` profile writes over twenty
/// users, each user's creation then updates, in version order.
fn stream_batch() -> String {
    let records: Vec<serde_json::Value> = (0..STREAM_BATCH)
        .map(|i| {
            let (user, version) = (format!("bench-{}", i % 20), i / 20 + 1);
            let image = |version: usize| {
                serde_json::json!({
                    "pk": {"S": format!("USER#{user}")}, "sk": {"S": "PROFILE"},
                    "user_id": {"S": user}, "first_name": {"S": format!("Name {version}")},
                    "attributes": {"M": {}}, "version": {"N": version.to_string()},
                    "created_at": {"S": "2026-11-24T00:00:00.000Z"},
                    "updated_at": {"S": "2026-11-24T00:00:00.000Z"}
                })
            };
            let mut change = serde_json::json!({
                "ApproximateCreationDateTime": 1795650456 + i,
                "Keys": {"pk": {"S": format!("USER#{user}")}, "sk": {"S": "PROFILE"}},
                "NewImage": image(version),
                "SequenceNumber": format!("{:021}", i + 1),
                "SizeBytes": 300,
                "StreamViewType": "NEW_AND_OLD_IMAGES"
            });
            if version > 1 {
                change["OldImage"] = image(version - 1);
            }
            serde_json::json!({
                "eventID": format!("bench-{i}"),
                "eventName": if version > 1 { "MODIFY" } else { "INSERT" },
                "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
                "dynamodb": change
            })
        })
        .collect();
    serde_json::json!({ "Records": records }).to_string()
}

/// Rounds per latency of the partner batch timing.
const BATCH_ROUNDS: usize = 5;

/// A partner route's request as Lambda hands it to the function after the authorizer.
fn partner_request(route: &str, scope: &str, body: serde_json::Value) -> String {
    serde_json::json!({
        "version": "2.0", "routeKey": format!("POST {route}"), "rawPath": route,
        "rawQueryString": "", "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": "POST", "path": route},
            "routeKey": format!("POST {route}"), "requestId": "bench",
            "authorizer": {"lambda": {"principal": "api_token", "token_id": "tok_bench", "scope": scope}}},
        "body": body.to_string(), "isBase64Encoded": false
    })
    .to_string()
}

/// A batch of 20 under an injected per-call latency L should take at most 3·L: the users
/// are written concurrently, so the batch costs a few calls' latency, not twenty.
async fn partner_batches(latency: u64) {
    let env = &integration_tests::TestEnv::new().await;
    let users: Vec<String> = (0..20).map(|i| format!("bench-batch-{i}")).collect();
    for user in &users {
        let r = env
            .request("PATCH", "/users/profile")
            .user(user)
            .json(serde_json::json!({"first_name": "Batch"}))
            .send()
            .await;
        assert_eq!(r.status, 200);
    }
    let handlers = local_api::wire(&env.platform).expect("the functions wire up");
    let handler = &handlers["ProfilesApiFunction"];
    let update = |round: usize| {
        let entries: Vec<serde_json::Value> = users
            .iter()
            .map(|u| serde_json::json!({"user_id": u, "properties": {"tier": format!("t{round}")}}))
            .collect();
        partner_request(
            "/api/v1/users/profile/update",
            "profiles:write",
            serde_json::json!({"user_properties": entries}),
        )
    };
    let view = partner_request(
        "/api/v1/users/profile",
        "profiles:read",
        serde_json::json!({"user_ids": users}),
    );
    {
        integration_tests::inject_latency(&env.table, latency);
        for (name, view) in [("update", None), ("view", Some(&view))] {
            let mut ms = Vec::new();
            env.calls.reset();
            for round in 0..BATCH_ROUNDS {
                let event = view.cloned().unwrap_or_else(|| update(round));
                let request = lambda_http::request::from_str(&event).expect("a Lambda request");
                let started = Instant::now();
                let response = handler(request).await;
                ms.push(started.elapsed().as_secs_f64() * 1000.0);
                assert_eq!(response.status(), 200);
            }
            ms.sort_by(f64::total_cmp);
            let (median, fastest) = (ms[BATCH_ROUNDS / 2], ms[0]);
            let times_l = |ms: f64| match latency {
                0 => String::new(),
                l => format!(" ({:.2}·L)", ms / l as f64),
            };
            println!(
                "  L = {latency:>3} ms, {name:<6}: median {median:>5.0} ms{}, fastest {fastest:>5.0} ms{}; \
                 {} DynamoDB calls per batch, at most {} at once",
                times_l(median),
                times_l(fastest),
                env.calls.take().len() / BATCH_ROUNDS,
                env.calls.max_in_flight()
            );
        }
        integration_tests::inject_latency(&env.table, 0);
    }
}

/// Users in the import bench's file.
const IMPORTED: usize = 300;

/// `profilectl user import` against the emulator: users a second, and the items (and so
/// the write units: two per item of up to 1 KB in a transaction) each user costs.
async fn import_users() {
    let env = integration_tests::TestEnv::new().await;
    let hash = "pbkdf2_sha256$1000000$seasalt$r1uLUxoxpP2Ued/qxvmje7UH9PUJBkRrvf9gGPL7Cps=";
    let lines: Vec<String> = (0..IMPORTED)
        .map(|i| {
            serde_json::json!({
                "user_id": format!("{}", i + 1), "email": format!("import-{i}@example.com"),
                "email_verified": true, "password_hash": hash,
                "first_name": "Ada", "last_name": "Lovelace",
                "consents": {"email": {"status": "subscribed", "updated_at": "2024-05-01T09:30:00Z"}},
                "created_at": "2019-01-02T03:04:05Z"
            })
            .to_string()
        })
        .collect();
    let accounts = store::AccountStore::new(env.dynamodb.clone(), &env.table);
    let before = env.scan_all().await.len();
    let started = Instant::now();
    let report = usecases::import::run(&accounts, &lines.join("\n"), false).await;
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(report.imported, IMPORTED, "{report:?}");
    let items = (env.scan_all().await.len() - before) as f64 / IMPORTED as f64;
    println!(
        "
import: {IMPORTED} users (email, proven, password hash, two fields, a consent) into the emulator: \
         {:.0} users/s; {items:.0} items a user in one transaction, {:.0} write units",
        IMPORTED as f64 / secs,
        items * 2.0
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let root = integration_tests::workspace_root();
    let bins = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let offline = env_for(
        &format!("http://{closed}"),
        "bench",
        &format!("http://{closed}/123456789012/bench-events-dead-letters"),
        &format!("http://{closed}"),
    );

    println!(
        "init: process start -> first Runtime API poll, median of {INIT_RUNS} interleaved rounds (AWS endpoints unreachable)"
    );
    let names: Vec<&str> = std::iter::once("hello-lambda")
        .chain(FUNCTIONS.iter().map(|(name, _)| *name))
        .collect();
    let paths: Vec<PathBuf> = names.iter().map(|n| binary(&bins, n)).collect();
    let medians = init_medians(&paths, &offline).await;
    let hello = medians[0];
    println!("  {:<14} {:>7.2} ms", "hello-lambda", hello);
    for (name, ms) in names.iter().zip(&medians).skip(1) {
        println!(
            "  {:<14} {:>7.2} ms  {:.2}x the bare function",
            name,
            ms,
            ms / hello
        );
    }

    let password = domain::password::Password::new("correct horse battery", None).unwrap();
    let mut hash_ms: Vec<f64> = (0..7)
        .map(|_| {
            let started = Instant::now();
            let _ = domain::password::hash(&password);
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    hash_ms.sort_by(f64::total_cmp);
    println!(
        "\npassword hash: Argon2id m=19456 KiB, t=2, p=1: {:.1} ms (median of 7, one core)",
        hash_ms[3]
    );

    let env = integration_tests::TestEnv::new().await;
    let sdk = integration_tests::sdk_config(&integration_tests::emulator_url()).await;
    // The bus alone: a rule copying to a queue would time the emulator's SQS, not us.
    local_api::events::create_bus(&aws_sdk_eventbridge::Client::new(&sdk), &env.table)
        .await
        .expect("the change-event bus on the emulator");
    let dead_letters =
        local_api::events::create_dead_letter_queue(&aws_sdk_sqs::Client::new(&sdk), &env.table)
            .await
            .expect("the dead-letter queue on the emulator");
    let online = env_for(
        &integration_tests::emulator_url(),
        &env.table,
        &dead_letters,
        env.loyalty
            .as_deref()
            .expect("the bench's stand-in loyalty platform"),
    );
    let seeded = env
        .request("PATCH", "/users/profile")
        .user("evt-user")
        .json(serde_json::json!({"first_name": "Evt"}))
        .send()
        .await;
    assert_eq!(seeded.status, 200);
    println!(
        "\npeak RSS (VmHWM) serving each events/ payload {LOAD_ROUNDS} times against the emulator"
    );
    for (name, dir) in FUNCTIONS {
        let events = events_of(&root.join("events").join(dir));
        let (served, rss_kb, per_sec) = load(&binary(&bins, name), &events, &online).await;
        println!(
            "  {:<14} {:>5} invocations  {:>6.1} MB peak RSS  {:>6.0} invocations/s",
            name,
            served,
            rss_kb as f64 / 1024.0,
            per_sec
        );
    }

    // Each on a table of its own: the emulator copies a table (with its stream) for
    // every transaction it applies (moto's rollback), one at a time, so on a grown
    // table the emulator's copying, not the function, would set the pace.
    println!(
        "\npartner batch of 20 users, every DynamoDB call delayed by L ({BATCH_ROUNDS} rounds; budget <= 3·L)"
    );
    // L = 0 is the emulator's own time: what the other rows hold beyond the latency.
    for latency in [0, 100, 300] {
        partner_batches(latency).await;
    }

    import_users().await;

    let batch = stream_batch();
    let (served, rss_kb, per_sec) = load(&binary(&bins, "events"), &[batch], &online).await;
    println!(
        "\nevents function, {STREAM_BATCH}-record stream batches published to the emulator's bus: \
         {served} batches, {:.0} records/s, {:.1} MB peak RSS",
        per_sec * STREAM_BATCH as f64,
        rss_kb as f64 / 1024.0
    );
}
