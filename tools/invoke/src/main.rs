//! `make invoke FN=<function> EVENT=<file>` and `make invoke-all`: function binaries under
//! the Lambda Runtime Interface Emulator of the SAM CLI package (the runtime contract of
//! `sam local invoke`, without Docker), with the environment the template gives them plus
//! `events/env.json`, against the `make dev` emulator when it runs, else one started here
//! on a free port and seeded as the events tests seed it.

mod environment;
mod payloads;
mod rie;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use local_api::Template;
use local_api::emulator::{Emulator, reachable};

use environment::EnvVarsFile;
use payloads::Payload;

#[derive(Parser)]
#[command(
    name = "invoke",
    about = "Run events/ payloads through their functions under the Lambda RIE"
)]
struct Cli {
    /// The function, as in `functions/<FN>` (`profile`, `local-info`, `authorizer`).
    function: Option<String>,
    /// The payload file.
    event: Option<PathBuf>,
    /// Every payload under events/, one line each and a total.
    #[arg(long)]
    all: bool,
    /// SAM's env-vars file.
    #[arg(long, default_value = "events/env.json")]
    env_vars: PathBuf,
}

/// The table `make dev` serves and `events/env.json` names.
const SEEDED_USER: &str = "evt-user";

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("invoke: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<bool, String> {
    let workspace = std::env::current_dir().map_err(|e| e.to_string())?;
    let template = Template::load(&workspace.join("template.yaml")).map_err(|e| e.to_string())?;
    let mut env_vars = EnvVarsFile::load(&workspace.join(&cli.env_vars))?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    // Kept alive until the end: dropping it stops an emulator started here.
    // `--all` runs in an emulator of its own: its payloads write (codes, cooldowns,
    // sign-ups), so a second run against `make dev`'s would meet the first one's limits.
    let _emulator = runtime.block_on(prepare(&workspace, &template, &mut env_vars, !cli.all))?;
    let rie = rie::find(&workspace)?;
    let run = Run {
        workspace: &workspace,
        template: &template,
        env_vars: &env_vars,
        rie: &rie,
    };
    if cli.all {
        return run.all();
    }
    let (Some(function), Some(event)) = (cli.function, cli.event) else {
        return Err("give FN and EVENT (make invoke FN=profile EVENT=events/profile/get-profile.200.json), or --all".into());
    };
    let mut payload = Payload::of(&event)?;
    payload.function = function;
    run.one(&payload)
}

/// Points every function at a running emulator, provisions what they expect in it, and
/// seeds the user the payloads act as.
async fn prepare(
    workspace: &Path,
    template: &Template,
    env_vars: &mut EnvVarsFile,
    reuse_running: bool,
) -> Result<Option<Emulator>, String> {
    let configured = env_vars
        .get("", adapters::aws::LOCAL_EMULATOR_URL)
        .ok_or("the env-vars file sets no LOCAL_EMULATOR_URL")?
        .to_owned();
    let table = env_vars
        .get("", "TABLE_NAME")
        .ok_or("the env-vars file sets no TABLE_NAME")?
        .to_owned();
    let running = reuse_running
        && reachable(
            configured
                .trim_start_matches("http://")
                .trim_end_matches('/'),
        );
    let (url, started) = if running {
        eprintln!("invoke: using the emulator at {configured} (make dev)");
        (configured.clone(), None)
    } else {
        let emulator = Emulator::start(workspace, false)?;
        eprintln!("invoke: started an emulator at {}", emulator.url);
        // And a stand-in loyalty platform of its own, living as long as this process.
        let standin = loyalty_standin::StandIn::new(
            local_api::DEV_LOYALTY_STORE_CODE,
            local_api::DEV_LOYALTY_API_KEY,
        )
        .spawn(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .map_err(|e| format!("the stand-in loyalty platform: {e}"))?;
        env_vars.set("LOYALTY_BASE_URL", format!("http://{standin}"));
        (emulator.url.clone(), Some(emulator))
    };
    if url != configured {
        env_vars.set(adapters::aws::LOCAL_EMULATOR_URL, url.clone());
        for name in ["AVATAR_BASE_URL", "DEAD_LETTER_QUEUE_URL"] {
            if let Some(value) = env_vars.get("", name).map(str::to_owned) {
                env_vars.set(name, value.replacen(&configured, &url, 1));
            }
        }
    }
    let sdk = local_api::emulator::sdk_config(&url).await;
    let settings = local_api::dev_settings(platform::Settings::local(&table, ""), &table);
    let settings = local_api::dev_avatars(settings, &table, &url);
    let platform = platform::Platform::new(sdk.clone(), settings, domain::Clock::system());
    local_api::provision(&platform, &table, Some(&template.table)).await?;
    local_api::events::ensure_bus(&sdk, &table).await?;
    seed(template, &platform).await?;
    Ok(started)
}

/// `evt-user` has a profile, as the payloads expect (`evt-nobody` has none).
async fn seed(template: &Template, platform: &platform::Platform) -> Result<(), String> {
    let gateway = local_api::gateway(template, platform)?;
    let token = local_api::dev_token::mint(SEEDED_USER, &[], 60, chrono_now());
    let mut headers = http::HeaderMap::new();
    let bearer = format!("Bearer {token}");
    headers.insert(
        http::header::AUTHORIZATION,
        bearer.parse().map_err(|_| "a header")?,
    );
    headers.insert(
        http::header::CONTENT_TYPE,
        "application/json".parse().map_err(|_| "a header")?,
    );
    let r = gateway
        .dispatch(
            "PATCH",
            "/users/profile",
            &headers,
            br#"{"first_name":"Evt"}"#,
        )
        .await;
    if r.status != http::StatusCode::OK {
        return Err(format!("seeding {SEEDED_USER} answered {}", r.status));
    }
    Ok(())
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

struct Run<'a> {
    workspace: &'a Path,
    template: &'a Template,
    env_vars: &'a EnvVarsFile,
    rie: &'a Path,
}

impl Run<'_> {
    fn runtime(&self, payload: &Payload) -> Result<rie::Runtime, String> {
        let logical_id = payload.logical_id();
        let function =
            self.template.functions.get(&logical_id).ok_or_else(|| {
                format!("{}: template.yaml has no {logical_id}", payload.function)
            })?;
        let env = environment::compose(self.template, &logical_id, function, self.env_vars);
        if !env.unresolved.is_empty() {
            eprintln!(
                "invoke: {logical_id}: no value for {} (set it in the env-vars file); started with it empty",
                env.unresolved.join(", ")
            );
        }
        let binary = self.workspace.join("target/debug").join(&function.binary);
        rie::Runtime::start(self.rie, &binary, &env.vars)
    }

    fn one(&self, payload: &Payload) -> Result<bool, String> {
        let runtime = self.runtime(payload)?;
        let event =
            std::fs::read(&payload.path).map_err(|e| format!("{}: {e}", payload.path.display()))?;
        let invocation = runtime.invoke(&event)?;
        println!(
            "{}",
            serde_json::to_string_pretty(&invocation.response).unwrap_or_default()
        );
        for line in &invocation.log {
            eprintln!("{line}");
        }
        let outcome = outcome(&invocation.response);
        Ok(match &payload.expected {
            Some(expected) if *expected != outcome => {
                eprintln!(
                    "invoke: {} answered {outcome}, its name says {expected}",
                    payload.name()
                );
                false
            }
            _ => true,
        })
    }

    fn all(&self) -> Result<bool, String> {
        let groups = payloads::all(&self.workspace.join("events"))?;
        let (mut total, mut as_named) = (0, 0);
        for group in groups {
            let runtime = self.runtime(&group[0])?;
            for payload in &group {
                let event = std::fs::read(&payload.path).map_err(|e| e.to_string())?;
                let invocation = runtime.invoke(&event)?;
                let outcome = outcome(&invocation.response);
                let ok = payload.expected.as_ref().is_none_or(|e| *e == outcome);
                total += 1;
                if ok {
                    as_named += 1;
                }
                println!(
                    "{:<4} {:<60} {:>5} {:>8.1} ms",
                    if ok { "ok" } else { "FAIL" },
                    payload.name(),
                    outcome,
                    invocation.millis
                );
                if !ok {
                    for line in &invocation.log {
                        println!("       {line}");
                    }
                }
            }
        }
        println!("invoke-all: {total} payloads, {as_named} answered as named");
        Ok(total > 0 && total == as_named)
    }
}

/// `200` for an HTTP answer, `allow`/`deny` for an authorizer's, `delivered`/`reported`
/// for a stream consumer's (no batch item failures, or some), the loyalty sync's
/// `outcome` (`skipped`, `created`, `pushed`, `set_aside`).
fn outcome(response: &serde_json::Value) -> String {
    if let Some(status) = response["statusCode"].as_u64() {
        return status.to_string();
    }
    if let Some(outcome) = response["outcome"].as_str() {
        return outcome.into();
    }
    if let Some(failures) = response["batchItemFailures"].as_array() {
        return if failures.is_empty() {
            "delivered"
        } else {
            "reported"
        }
        .into();
    }
    match response["isAuthorized"].as_bool() {
        Some(true) => "allow".into(),
        Some(false) => "deny".into(),
        None => format!("unexpected answer {response}"),
    }
}
