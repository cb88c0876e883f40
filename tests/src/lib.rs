//! Test harness: a real DynamoDB wire protocol (moto server), a fresh table per test
//! created from template.yaml's definition, a DynamoDB call counter, and the local
//! gateway in-process so a test sends HTTP-shaped requests through the authorizer.
//!
//! The emulator is `UPS_EMULATOR_URL` when set (it must answer), otherwise the harness
//! starts `tools/emulator/emulator.py` from the project's `.venv` on a free port. With
//! neither, tests fail loudly: nothing here is skipped.

pub mod change_feed;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::AttributeValue;
use domain::Clock;
use domain::otp::OtpPolicy;
use http::HeaderMap;
use local_api::{Gateway, GatewayResponse, Template};
use platform::{Platform, Settings};
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
    _started: Option<Mutex<local_api::emulator::Emulator>>,
}

fn emulator() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(|| {
        if let Ok(url) = std::env::var("UPS_EMULATOR_URL") {
            let addr = url.trim_start_matches("http://").trim_end_matches('/');
            assert!(
                local_api::emulator::reachable(addr),
                "UPS_EMULATOR_URL={url} does not answer; start it or unset it"
            );
            return Emulator {
                url,
                _started: None,
            };
        }
        let started = local_api::emulator::Emulator::start(&workspace_root(), false)
            .unwrap_or_else(|e| panic!("{e} (or set UPS_EMULATOR_URL)"));
        Emulator {
            url: started.url.clone(),
            _started: Some(Mutex::new(started)),
        }
    })
}

/// The emulator's base URL (started on first use).
pub fn emulator_url() -> String {
    emulator().url.clone()
}

/// DynamoDB requests sent, by operation name (`GetItem`, `UpdateItem`, ...), retries
/// included; and the most requests that were in flight at once.
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    calls: Arc<Mutex<Vec<String>>>,
    in_flight: Arc<Mutex<(usize, usize)>>,
    leading_keys: Arc<Mutex<Vec<KeyAccess>>>,
}

/// One partition a request touched, with the IAM action it needs there: a transaction's
/// items each need their own action (`PutItem`, `UpdateItem`, `DeleteItem`,
/// `ConditionCheckItem`, `GetItem`), every other request its operation's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAccess {
    pub action: String,
    pub pk: String,
}

impl CallCounter {
    /// The partitions (`pk` values) the requests since the last call named, with the
    /// action each needs: what IAM's `dynamodb:LeadingKeys` condition judges.
    pub fn take_leading_keys(&self) -> Vec<KeyAccess> {
        std::mem::take(&mut *self.leading_keys.lock().unwrap())
    }

    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }

    pub fn reset(&self) {
        self.take();
        *self.in_flight.lock().unwrap() = (0, 0);
    }

    /// The largest number of requests on the wire at the same time since the last reset.
    pub fn max_in_flight(&self) -> usize {
        self.in_flight.lock().unwrap().1
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
        if let Some(body) = context.request().body().bytes()
            && let Ok(body) = serde_json::from_slice::<Value>(body)
        {
            self.leading_keys
                .lock()
                .unwrap()
                .extend(leading_keys(&operation, &body));
        }
        self.calls.lock().unwrap().push(operation);
        let mut in_flight = self.in_flight.lock().unwrap();
        in_flight.0 += 1;
        in_flight.1 = in_flight.1.max(in_flight.0);
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _context: &aws_sdk_dynamodb::config::interceptors::BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let mut in_flight = self.in_flight.lock().unwrap();
        in_flight.0 = in_flight.0.saturating_sub(1);
        Ok(())
    }
}

/// One DynamoDB statement of a function's policies: its actions (without `dynamodb:`)
/// and the `dynamodb:LeadingKeys` patterns it is limited to.
#[derive(Debug, Clone)]
pub struct DynamoDbGrant {
    pub actions: Vec<String>,
    pub leading_keys: Vec<String>,
}

/// The DynamoDB statements template.yaml grants the function `logical_id`
/// (`ProfileFunction`).
pub fn dynamodb_grants(logical_id: &str) -> Vec<DynamoDbGrant> {
    let text = std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap();
    let doc: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let policies = &doc["Resources"][logical_id]["Properties"]["Policies"];
    let strings = |v: &serde_norway::Value| -> Vec<String> {
        match v {
            serde_norway::Value::String(s) => vec![s.clone()],
            other => other
                .as_sequence()
                .into_iter()
                .flatten()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect(),
        }
    };
    let mut out = Vec::new();
    for policy in policies.as_sequence().into_iter().flatten() {
        for statement in policy["Statement"].as_sequence().into_iter().flatten() {
            let actions: Vec<String> = strings(&statement["Action"])
                .into_iter()
                .filter_map(|a| a.strip_prefix("dynamodb:").map(str::to_owned))
                .collect();
            if actions.is_empty() {
                continue;
            }
            out.push(DynamoDbGrant {
                actions,
                leading_keys: strings(
                    &statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
                ),
            });
        }
    }
    out
}

/// Whether a statement of `grants` allows `access`: its action, on a partition its
/// `LeadingKeys` match.
pub fn granted(grants: &[DynamoDbGrant], access: &KeyAccess) -> bool {
    grants.iter().any(|g| {
        g.actions.contains(&access.action)
            && g.leading_keys.iter().any(|p| string_like(p, &access.pk))
    })
}

/// Whether IAM's `StringLike` would match `key` against `pattern` (`*` at the end only,
/// the one form the template uses).
pub fn string_like(pattern: &str, key: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => key.starts_with(prefix),
        None => key == pattern,
    }
}

/// Every `pk` a DynamoDB request names, with the action it needs there: in `Key`s and
/// `Item`s at any depth (a transaction's items by their kind), and a Query's
/// `pk = :value` key condition.
fn leading_keys(operation: &str, body: &Value) -> Vec<KeyAccess> {
    fn walk(v: &Value, action: &str, out: &mut Vec<KeyAccess>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    let item_action = match k.as_str() {
                        "Put" => Some("PutItem"),
                        "Update" => Some("UpdateItem"),
                        "Delete" => Some("DeleteItem"),
                        "ConditionCheck" => Some("ConditionCheckItem"),
                        "Get" => Some("GetItem"),
                        _ => None,
                    };
                    match (k.as_str(), v.get("S").and_then(Value::as_str)) {
                        ("pk", Some(pk)) => out.push(KeyAccess {
                            action: action.to_owned(),
                            pk: pk.to_owned(),
                        }),
                        // A Query's values are judged below, with its key condition.
                        ("ExpressionAttributeValues", _) => {}
                        _ => walk(v, item_action.unwrap_or(action), out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, action, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if operation.starts_with("Transact") {
        for item in body["TransactItems"].as_array().into_iter().flatten() {
            walk(item, operation, &mut out);
        }
    } else {
        walk(body, operation, &mut out);
    }
    if let Some(condition) = body["KeyConditionExpression"].as_str() {
        let names = body["ExpressionAttributeNames"].as_object();
        let pk_name = names
            .and_then(|n| n.iter().find(|(_, v)| *v == "pk").map(|(k, _)| k.clone()))
            .unwrap_or_else(|| "pk".to_owned());
        let value = condition
            .split(" AND ")
            .filter_map(|term| term.split_once('='))
            .find(|(name, _)| name.trim() == pk_name)
            .map(|(_, value)| value.trim().to_owned());
        if let Some(pk) = value.and_then(|v| body["ExpressionAttributeValues"][v]["S"].as_str()) {
            out.push(KeyAccess {
                action: operation.to_owned(),
                pk: pk.to_owned(),
            });
        }
    }
    out
}

pub use local_api::emulator::sdk_config;

/// One test's world: its own table and OTP secret, a counted DynamoDB client, an
/// adjustable clock, the gateway in front.
pub struct TestEnv {
    pub table: String,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub calls: CallCounter,
    pub gateway: Gateway,
    pub clock: Clock,
    pub platform: Platform,
    /// The stand-in loyalty platform's URL (`/_standin/...`), unless built without one.
    pub loyalty: Option<String>,
    /// Where the test's stand-ins answer (the breached-password check's range API too).
    pub standins: String,
}

pub struct TestEnvBuilder {
    policy: OtpPolicy,
    languages: Option<Vec<String>>,
    currencies: Option<Vec<String>>,
    dynamodb_endpoint: Option<String>,
    sns_endpoint: Option<String>,
    app_keys: Option<Vec<String>>,
    sms: Option<adapters::sms::SmsConfig>,
    loyalty: bool,
    /// The breached-password check elsewhere than the test's stand-in.
    pwned_passwords: Option<platform::PwnedPasswordsConfig>,
    password_rules: domain::password::PasswordRules,
}

impl TestEnvBuilder {
    /// The breached-password check at `url` (a closed port: down), refusing new passwords
    /// while it does not answer when `refuse`.
    pub fn pwned_passwords(mut self, url: &str, refuse: bool) -> Self {
        self.pwned_passwords = Some(platform::PwnedPasswordsConfig {
            url: url.to_owned(),
            refuse_when_down: refuse,
        });
        self
    }

    /// `PasswordMinLength`: the fewest characters a new password may have.
    pub fn password_min_length(mut self, chars: usize) -> Self {
        self.password_rules = domain::password::PasswordRules::with_min_chars(chars)
            .expect("a length the template takes");
        self
    }

    /// `LoyaltyProvider: none`: no loyalty platform.
    pub fn without_loyalty(mut self) -> Self {
        self.loyalty = false;
        self
    }

    /// `APP_KEYS`: the apikey values seed 002's routes accept.
    pub fn app_keys(mut self, keys: &[&str]) -> Self {
        self.app_keys = Some(keys.iter().map(|k| k.to_string()).collect());
        self
    }

    /// How texts are sent (sender id, template, price cap).
    pub fn sms(mut self, sms: adapters::sms::SmsConfig) -> Self {
        self.sms = Some(sms);
        self
    }

    /// `SignupsPerSourcePerHour`: sign-up requests one source address may make an hour.
    pub fn signups_per_source(mut self, per_hour: u32) -> Self {
        self.policy.max_signups_per_source_per_hour = per_hour;
        self
    }

    pub fn policy(mut self, policy: OtpPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// `SUPPORTED_LANGUAGES` and `SUPPORTED_CURRENCIES` as a deployment would set them.
    pub fn supported_locales(mut self, languages: &[&str], currencies: &[&str]) -> Self {
        let owned = |codes: &[&str]| Some(codes.iter().map(|c| c.to_string()).collect());
        self.languages = owned(languages);
        self.currencies = owned(currencies);
        self
    }

    /// Point DynamoDB elsewhere (a closed port); no table is created then.
    pub fn dynamodb_endpoint(mut self, url: &str) -> Self {
        self.dynamodb_endpoint = Some(url.to_owned());
        self
    }

    pub fn sns_endpoint(mut self, url: &str) -> Self {
        self.sns_endpoint = Some(url.to_owned());
        self
    }

    pub async fn build(self) -> TestEnv {
        let emulator = &emulator().url;
        let sdk = sdk_config(emulator).await;
        let calls = CallCounter::default();
        let dynamodb_sdk = sdk_config(self.dynamodb_endpoint.as_deref().unwrap_or(emulator)).await;
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&dynamodb_sdk)
                .interceptor(calls.clone())
                .build(),
        );
        let sns_sdk = sdk_config(self.sns_endpoint.as_deref().unwrap_or(emulator)).await;
        let table = format!("test-{:016x}", rand::random::<u64>());
        let template = template();
        let settings = local_api::dev_settings(Settings::local(&table, ""), &table);
        let mut settings = local_api::dev_avatars(settings, &table, emulator);
        // Stand-ins of the test's own, on loopback: the loyalty platform (unless the test
        // has none) and the breached-password check.
        let standin = loyalty_standin::StandIn::new(
            local_api::DEV_LOYALTY_STORE_CODE,
            local_api::DEV_LOYALTY_API_KEY,
        );
        let addr = standin
            .spawn(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            .expect("the stand-ins listen");
        let url = format!("http://{addr}");
        settings.pwned_passwords =
            self.pwned_passwords
                .clone()
                .unwrap_or(platform::PwnedPasswordsConfig {
                    url: url.clone(),
                    refuse_when_down: false,
                });
        let loyalty = if self.loyalty {
            settings = local_api::dev_loyalty(settings, &table, &url);
            Some(url.clone())
        } else {
            None
        };
        let standins = url;
        settings.otp_policy = self.policy;
        settings.supported_languages = self.languages;
        settings.supported_currencies = self.currencies;
        settings.app_keys = self.app_keys;
        settings.password_rules = self.password_rules;
        if let Some(sms) = self.sms {
            settings.sms = sms;
        }
        let platform = Platform::new(sdk, settings, Clock::adjustable())
            .with_dynamodb(dynamodb.clone())
            .with_sns(aws_sdk_sns::Client::new(&sns_sdk));
        // With DynamoDB pointed elsewhere (a closed port) no table is created.
        let table_def = self.dynamodb_endpoint.is_none().then_some(&template.table);
        local_api::provision(&platform, &table, table_def)
            .await
            .expect("the test's table, secrets, sender and bucket are created");
        let gateway =
            local_api::gateway(&template, &platform).expect("every template route is wired");
        calls.reset();
        // Logins are counted in fixed 15-minute windows: a test that began in a window's
        // last minutes would see its counts start again half-way. Start where at least
        // five minutes are left (the clock moves at most five minutes ahead, well inside
        // the hour the tests' tokens live).
        let window = domain::login::LoginLimits::default().window_secs;
        let into_window = platform.clock.now().timestamp().rem_euclid(window);
        if into_window > window - 300 {
            let to_next = window - into_window + 1;
            platform.clock.advance(chrono::Duration::seconds(to_next));
        }
        TestEnv {
            table,
            dynamodb,
            calls,
            gateway,
            clock: platform.clock.clone(),
            platform,
            loyalty,
            standins,
        }
    }
}

impl TestEnv {
    pub fn builder() -> TestEnvBuilder {
        TestEnvBuilder {
            policy: OtpPolicy::default(),
            languages: None,
            currencies: None,
            dynamodb_endpoint: None,
            sns_endpoint: None,
            app_keys: None,
            sms: None,
            loyalty: true,
            pwned_passwords: None,
            password_rules: domain::password::PasswordRules::default(),
        }
    }

    pub async fn new() -> Self {
        Self::builder().build().await
    }

    /// A world whose DynamoDB endpoint is `endpoint` (e.g. a closed port), no table created.
    pub async fn unreachable(endpoint: &str) -> Self {
        Self::builder().dynamodb_endpoint(endpoint).build().await
    }

    /// Moves the clock ten minutes into the next hour, so a test of an hourly budget never
    /// straddles two hours.
    pub fn ten_minutes_into_an_hour(&self) {
        let into_hour = self.clock.now().timestamp().rem_euclid(3600);
        self.clock
            .advance(chrono::Duration::seconds(3600 - into_hour + 600));
    }

    pub fn request(&self, method: &str, path: &str) -> TestRequest<'_> {
        TestRequest {
            env: self,
            method: method.to_owned(),
            path: path.to_owned(),
            headers: HeaderMap::new(),
            body: Vec::new(),
            source: std::net::IpAddr::from([127, 0, 0, 1]),
        }
    }

    /// Every item in the table, for "nothing changed" and "no plaintext" checks.
    pub async fn scan_all(&self) -> Vec<HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .dynamodb
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        self.calls.reset();
        items.sort_by_key(|i| format!("{:?}{:?}", i.get("pk"), i.get("sk")));
        items
    }
}

/// The SMS messages the emulator's SNS accepted for `phone`, oldest first.
pub fn sms_to(phone: &str) -> Vec<String> {
    let url = format!("{}/_emulator/sms", emulator().url);
    let all: Vec<Value> = ureq::get(&url)
        .call()
        .expect("the emulator lists SMS")
        .body_mut()
        .read_json()
        .expect("SMS list is JSON");
    all.iter()
        .filter(|m| m["phone"] == phone)
        .filter_map(|m| m["message"].as_str().map(str::to_owned))
        .collect()
}

/// The message attributes of every SMS the emulator's SNS was asked to send to `phone`.
pub fn sms_attributes_to(phone: &str) -> Vec<Value> {
    let url = format!("{}/_emulator/sms-attributes", emulator().url);
    let all: Vec<Value> = ureq::get(&url)
        .call()
        .expect("the emulator lists SMS attributes")
        .body_mut()
        .read_json()
        .expect("a JSON list");
    all.into_iter()
        .filter(|m| m["phone"] == phone)
        .map(|m| m["attributes"].clone())
        .collect()
}

/// The emails the emulator's SES accepted for `address`, oldest first: (subject, text).
pub fn emails_to(address: &str) -> Vec<(String, String)> {
    let url = format!("{}/_emulator/email", emulator().url);
    let all: Vec<Value> = ureq::get(&url)
        .call()
        .expect("the emulator lists emails")
        .body_mut()
        .read_json()
        .expect("email list is JSON");
    all.iter()
        .filter(|m| {
            m["to"]
                .as_array()
                .is_some_and(|to| to.iter().any(|t| t == address))
        })
        .map(|m| {
            let text = |k: &str| m[k].as_str().unwrap_or_default().to_owned();
            (text("subject"), text("body"))
        })
        .collect()
}

/// The 6-digit code in the newest SMS to `phone`.
pub fn last_code_to(phone: &str) -> String {
    let message = sms_to(phone)
        .pop()
        .unwrap_or_else(|| panic!("no SMS to {phone}"));
    message
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("no code in {message:?}"))
        .to_owned()
}

/// The 6-digit code in a text or an email.
pub fn six_digits(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("no 6-digit code in {text:?}"))
        .to_owned()
}

/// Starts setting up a second factor at `path` (`/users/me/mfa/totp` or
/// `/users/me/passkeys/options`) as the holder of `access`, whose proven address is
/// `email`: an account's first factor asks for a code sent there first (202), which the
/// second request carries. The second answer.
pub async fn start_factor(env: &TestEnv, path: &str, access: &str, email: &str) -> GatewayResponse {
    let post = |body: Value| env.request("POST", path).bearer(access).json(body).send();
    let r = post(serde_json::json!({})).await;
    if r.status != 202 {
        return r;
    }
    let (subject, text) = emails_to(email).pop().expect("the confirmation went out");
    assert_eq!(subject, "Confirm a new way to sign in");
    post(serde_json::json!({"code": six_digits(&text)})).await
}

/// A seed 001 account with its email verified, as its clients make one: the sign-up, the
/// code emailed, `POST /users/verify`. `names`: `first_name` and `last_name`. Its id.
pub async fn verified_account(
    env: &TestEnv,
    email: &str,
    password: &str,
    names: (&str, &str),
) -> String {
    let r = env
        .request("POST", "/api/v1/accounts/users")
        .json(serde_json::json!({
            "email": email, "password": password, "confirm_password": password,
            "first_name": names.0, "last_name": names.1
        }))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
    let id = r.json()["data"]["id"].as_str().unwrap().to_owned();
    let code = six_digits(&emails_to(email).last().expect("the code is emailed").1);
    let r = env
        .request("POST", "/users/verify")
        .json(serde_json::json!({"email": email, "code": code}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    id
}

/// A seed 000 account as its clients make one: `POST /users/register` with the email,
/// the number and the password, then again with the texted code. The number is proven,
/// the email is not. Its id.
pub async fn phone_account(env: &TestEnv, email: &str, phone: &str, password: &str) -> String {
    let mut body = serde_json::json!({
        "first_name": "Ada", "last_name": "Lovelace", "email": email,
        "password": password, "phone": phone, "date_of_birth": "1990-12-10"
    });
    let r = env
        .request("POST", "/users/register")
        .json(body.clone())
        .send()
        .await;
    assert_eq!(r.status, 202, "{}", r.json());
    body["code"] = serde_json::json!(last_code_to(phone));
    let r = env
        .request("POST", "/users/register")
        .json(body)
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
    r.json()["profile"]["user_id"].as_str().unwrap().to_owned()
}

/// Runs `profilectl` against the test's table, bucket and key, as support staff would
/// against a stack.
pub fn profilectl(env: &TestEnv, args: &[&str]) -> std::process::Output {
    let bucket = &env.platform.settings.require_avatars().unwrap().bucket;
    std::process::Command::new(env!("CARGO"))
        .args(["run", "--quiet", "-p", "profilectl", "--"])
        .args(args)
        .current_dir(workspace_root())
        .env("AWS_ENDPOINT_URL", emulator_url())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("TABLE_NAME", &env.table)
        .env("AVATAR_BUCKET", bucket)
        .env("OTP_SECRET_ARN", local_api::otp_secret_name(&env.table))
        .output()
        .expect("profilectl runs")
}

/// Marks the credential of `email` proven, as its verification code would.
pub async fn prove_email(env: &TestEnv, email: &str) {
    let email = domain::Email::parse(email).expect("an email");
    let key = store::keys::ItemKey::credential(&email).to_item();
    env.dynamodb
        .update_item()
        .table_name(&env.table)
        .set_key(Some(key))
        .update_expression("SET email_verified = :yes")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_values(":yes", AttributeValue::Bool(true))
        .send()
        .await
        .expect("the credential exists");
}

/// A proven email account as a login reads it, for tests that open sessions straight
/// through the store.
pub fn password_account(
    user: &domain::UserId,
    email: &domain::Email,
    hash: &str,
) -> store::PasswordAccount {
    store::PasswordAccount {
        user: user.clone(),
        email: Some(email.clone()),
        phone: None,
        phone_changed_at: None,
        credential: store::Credential {
            user_id: user.to_string(),
            password_hash: hash.to_owned(),
            email_verified: true,
            phone_verified: false,
            scope: String::new(),
        },
    }
}

/// Makes SNS Publish to `phone` fail (`true`) or work again (`false`).
pub fn fail_sms_to(phone: &str, fail: bool) {
    let url = format!(
        "{}/_emulator/fail-sms?phone={}",
        emulator().url,
        phone.replace('+', "%2B")
    );
    let result = if fail {
        ureq::post(&url).send_empty()
    } else {
        ureq::delete(&url).call()
    };
    result.expect("the emulator takes SMS faults");
}

/// Makes SES SendEmail to `address` fail (`true`) as SES refuses an unverified recipient,
/// naming it in the error message, or work again (`false`).
pub fn fail_email_to(address: &str, fail: bool) {
    let url = format!(
        "{}/_emulator/fail-email?to={}",
        emulator().url,
        address.replace('+', "%2B")
    );
    let result = if fail {
        ureq::post(&url).send_empty()
    } else {
        ureq::delete(&url).call()
    };
    result.expect("the emulator takes SES faults");
}

/// One part of a `multipart/form-data` body: a text field, or a file with its file name
/// and the Content-Type its client claims.
pub struct FormPart<'a> {
    pub name: &'a str,
    pub file: Option<(&'a str, &'a str)>,
    pub bytes: &'a [u8],
}

/// A `multipart/form-data` body delimited by `boundary`, as browsers and HTTP libraries
/// write one.
pub fn multipart_body(boundary: &str, parts: &[FormPart<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        let file = match part.file {
            Some((name, content_type)) => {
                format!("; filename=\"{name}\"\r\nContent-Type: {content_type}")
            }
            None => String::new(),
        };
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"{file}\r\n\r\n",
                part.name
            )
            .as_bytes(),
        );
        body.extend_from_slice(part.bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

/// Makes the emulator refuse the next `count` PutEvents entries to `bus` (of detail-type
/// `only`, if given); 0 heals.
pub fn fail_events(bus: &str, count: u32, only: Option<&str>) {
    let mut url = format!(
        "{}/_emulator/fail-events?count={count}&bus={bus}",
        emulator().url
    );
    if let Some(t) = only {
        url.push_str(&format!("&type={t}"));
    }
    let result = if count > 0 {
        ureq::post(&url).send_empty()
    } else {
        ureq::delete(&url).call()
    };
    result.expect("the emulator takes PutEvents faults");
}

/// Lets the next `after` DynamoDB calls of `op` on `table` through, then fails every one
/// with a 500 until `heal_dynamodb`.
pub fn fail_dynamodb(table: &str, op: &str, after: u32) {
    let url = format!(
        "{}/_emulator/fail-dynamodb?op={op}&after={after}&table={table}",
        emulator().url
    );
    ureq::post(&url)
        .send_empty()
        .expect("the emulator takes DynamoDB faults");
}

/// Heals every DynamoDB fault on `table`.
pub fn heal_dynamodb(table: &str) {
    let url = format!("{}/_emulator/fail-dynamodb?table={table}", emulator().url);
    ureq::delete(&url)
        .call()
        .expect("the emulator heals DynamoDB faults");
}

/// Delays every emulator request naming `table` by `ms` (0 removes the delay).
pub fn inject_latency(table: &str, ms: u64) {
    let url = format!("{}/_emulator/latency?table={table}&ms={ms}", emulator().url);
    let result = if ms > 0 {
        ureq::post(&url).send_empty()
    } else {
        ureq::delete(&url).call()
    };
    result.expect("the emulator takes latency settings");
}

/// An API token with `scopes`, stored in this test's table; returns the plaintext.
pub async fn api_token(env: &TestEnv, scopes: &[&str]) -> String {
    let secret = domain::api_token::ApiTokenSecret::generate();
    let record = domain::api_token::ApiToken {
        token_id: domain::api_token::new_token_id(),
        name: "test".into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        created_at: "2026-11-22T00:00:00.000Z".into(),
        expires_at: None,
        revoked: false,
    };
    store::ApiTokenStore::new(env.dynamodb.clone(), &env.table)
        .create(&secret, &record)
        .await
        .expect("the token is stored");
    env.calls.reset();
    secret.expose().to_owned()
}

/// A valid Turkish mobile number no other test uses.
pub fn fresh_phone() -> String {
    format!("+90532{:07}", rand::random::<u32>() % 10_000_000)
}

/// Every log line the test binary writes, at the level functions log in production.
/// Global (tracing's per-thread subscribers miss events when other threads register
/// callsites first), so a test looks for its own unique values in it.
pub struct LogCapture {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl LogCapture {
    pub fn start() -> Self {
        static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
        let buffer = BUFFER
            .get_or_init(|| {
                let buffer = Arc::new(Mutex::new(Vec::new()));
                let writer = buffer.clone();
                tracing_subscriber::fmt()
                    .json()
                    .with_env_filter(tracing_subscriber::EnvFilter::new(
                        platform::telemetry::DEFAULT_FILTER,
                    ))
                    .with_writer(move || CaptureWriter(writer.clone()))
                    .init();
                buffer
            })
            .clone();
        Self { buffer }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock().unwrap()).into_owned()
    }
}

struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The claims of a JWT (its payload, unverified): what a test reads off a token.
pub fn claims(token: &str) -> Value {
    use base64::Engine;
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap()
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
    source: std::net::IpAddr,
}

impl TestRequest<'_> {
    /// The address API Gateway saw the request come from (loopback unless told).
    pub fn from_ip(mut self, ip: &str) -> Self {
        self.source = ip.parse().expect("an IP address");
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// A dev token for `sub`, minted at the test's clock: a password login just now.
    pub fn user(self, sub: &str) -> Self {
        let now = self.env.clock.now().timestamp();
        self.bearer(&dev_token::mint(sub, &[], 3600, now))
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
            .dispatch_from(
                self.source,
                &self.method,
                &self.path,
                &self.headers,
                &self.body,
            )
            .await
    }
}

/// An account written straight to the store, as seed 001's sign-up writes it.
pub async fn store_account(
    env: &TestEnv,
    user: &domain::UserId,
    email: &domain::Email,
    password_hash: &str,
    phone: Option<&domain::PhoneNumber>,
) -> Result<domain::Profile, store::RegisterError> {
    let actor = domain::Actor {
        source: domain::Source::Holder,
        actor: user.to_string(),
        request_id: "test".into(),
    };
    store::AccountStore::new(env.dynamodb.clone(), &env.table)
        .register(
            &store::AccountRecord {
                user,
                email,
                password_hash,
                profile: &domain::ProfilePatch::default(),
                actor: &actor,
                now: env.clock.now(),
            },
            phone,
        )
        .await
}

/// A dev user token with `scopes`, valid for an hour.
pub fn user_token_with(sub: &str, scopes: &[&str]) -> String {
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    dev_token::mint(sub, &scopes, 3600, chrono::Utc::now().timestamp())
}

impl TestEnv {
    /// The stand-in loyalty platform's control route `path` (`members`, `fault?...`).
    pub fn standin(&self, method: &str, path: &str) -> Value {
        let url = format!(
            "{}/_standin/{path}",
            self.loyalty
                .as_deref()
                .expect("the test has a stand-in loyalty platform")
        );
        let mut response = match method {
            "GET" => ureq::get(&url).call(),
            "POST" => ureq::post(&url).send_empty(),
            "DELETE" => ureq::delete(&url).call(),
            other => panic!("{other}"),
        }
        .expect("the stand-in answers its control routes");
        response.body_mut().read_json().unwrap_or(Value::Null)
    }
}
