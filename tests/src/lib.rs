//! Test harness: a real DynamoDB wire protocol (moto server), a fresh table per test
//! created from template.yaml's definition, a DynamoDB call counter, and the local
//! gateway in-process so a test sends HTTP-shaped requests through the authorizer.
//!
//! The emulator is `UPS_EMULATOR_URL` when set (it must answer), otherwise the harness
//! starts `tools/emulator/emulator.py` from the project's `.venv` on a free port. With
//! neither, tests fail loudly: nothing here is skipped.

use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Credentials, Intercept, Region, RuntimeComponents};
use aws_sdk_dynamodb::types::AttributeValue;
use http::HeaderMap;
use local_api::{Backends, Gateway, GatewayResponse, Template};
use serde_json::Value;

pub use local_api::dev_token;

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_path_buf()
}

pub fn template() -> Template {
    Template::load(&workspace_root().join("template.yaml")).expect("template.yaml parses")
}

struct Emulator {
    url: String,
    // Kept so the child's stdin stays open; it exits when this process does.
    _child: Option<Mutex<Child>>,
}

fn reachable(addr: &str) -> bool {
    addr.parse()
        .ok()
        .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_millis(200)).is_ok())
}

fn emulator() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(|| {
        if let Ok(url) = std::env::var("UPS_EMULATOR_URL") {
            let addr = url.trim_start_matches("http://").trim_end_matches('/');
            assert!(reachable(addr), "UPS_EMULATOR_URL={url} does not answer; start it or unset it");
            return Emulator { url, _child: None };
        }
        let python = workspace_root().join(".venv/bin/python");
        assert!(
            python.exists(),
            "no emulator: {} is missing. Run `make test` (it installs moto into .venv) or set UPS_EMULATOR_URL",
            python.display()
        );
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let child = Command::new(&python)
            .arg(workspace_root().join("tools/emulator/emulator.py"))
            .args(["--port", &port.to_string(), "--exit-with-stdin", "--quiet-sms"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the emulator starts");
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !reachable(&addr) {
            assert!(Instant::now() < deadline, "the emulator did not listen on {addr} within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Emulator {
            url: format!("http://{addr}"),
            _child: Some(Mutex::new(child)),
        }
    })
}

/// DynamoDB requests sent, by operation name (`GetItem`, `UpdateItem`, ...), retries included.
#[derive(Debug, Clone, Default)]
pub struct CallCounter(Arc<Mutex<Vec<String>>>);

impl CallCounter {
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    pub fn reset(&self) {
        self.take();
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("unknown");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        self.0.lock().unwrap().push(operation);
        Ok(())
    }
}

pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .load()
        .await
}

/// One test's world: its own table, a counted DynamoDB client, the gateway in front.
pub struct TestEnv {
    pub table: String,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub calls: CallCounter,
    pub gateway: Gateway,
}

impl TestEnv {
    pub async fn new() -> Self {
        let sdk = sdk_config(&emulator().url).await;
        Self::with_sdk(&sdk, true).await
    }

    /// A world whose DynamoDB endpoint is `endpoint` (e.g. a closed port), no table created.
    pub async fn unreachable(endpoint: &str) -> Self {
        let sdk = sdk_config(endpoint).await;
        Self::with_sdk(&sdk, false).await
    }

    async fn with_sdk(sdk: &aws_config::SdkConfig, create_table: bool) -> Self {
        let calls = CallCounter::default();
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(sdk)
                .interceptor(calls.clone())
                .build(),
        );
        let table = format!("test-{:016x}", rand::random::<u64>());
        let template = template();
        if create_table {
            local_api::table::ensure_table(&dynamodb, &table, &template.table)
                .await
                .expect("the test table is created");
        }
        let backends = Backends {
            dynamodb: dynamodb.clone(),
            table: table.clone(),
        };
        let gateway = Gateway::new(
            &template,
            local_api::wire(&backends),
            local_api::dev_authorizer(),
        )
        .expect("every template route is wired");
        calls.reset();
        Self {
            table,
            dynamodb,
            calls,
            gateway,
        }
    }

    pub fn request(&self, method: &str, path: &str) -> TestRequest<'_> {
        TestRequest {
            env: self,
            method: method.to_owned(),
            path: path.to_owned(),
            headers: HeaderMap::new(),
            body: Vec::new(),
        }
    }

    /// Every item in the table, for "nothing changed" and "no plaintext" checks.
    pub async fn scan_all(&self) -> Vec<HashMap<String, AttributeValue>> {
        let out = self
            .dynamodb
            .scan()
            .table_name(&self.table)
            .send()
            .await
            .expect("scan");
        let mut items = out.items.unwrap_or_default();
        items.sort_by_key(|i| format!("{:?}{:?}", i.get("pk"), i.get("sk")));
        items
    }
}

/// A dev user token valid for an hour.
pub fn user_token(sub: &str) -> String {
    dev_token::mint(sub, &[], 3600, chrono::Utc::now().timestamp())
}

pub struct TestRequest<'a> {
    env: &'a TestEnv,
    method: String,
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl TestRequest<'_> {
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn user(self, sub: &str) -> Self {
        self.bearer(&user_token(sub))
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
        self
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = serde_json::to_vec(&body).unwrap();
        self.header("content-type", "application/json")
    }

    pub fn raw(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub async fn send(self) -> GatewayResponse {
        self.env
            .gateway
            .dispatch(&self.method, &self.path, &self.headers, &self.body)
            .await
    }
}
