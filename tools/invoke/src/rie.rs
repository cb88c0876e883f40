//! The Lambda Runtime Interface Emulator that ships inside the SAM CLI package (the one
//! `sam local invoke` runs in its container), run here as a plain process: the function
//! binary polls the same Runtime API it polls in Lambda.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use local_api::emulator::{free_port, reachable};

/// The RIE binary for this machine in the project's `.venv`.
pub fn find(workspace: &Path) -> Result<PathBuf, String> {
    let arch = match std::env::consts::ARCH {
        "aarch64" => "arm64",
        other => other,
    };
    let lib = workspace.join(".venv/lib");
    let pythons = std::fs::read_dir(&lib).map_err(|e| {
        format!(
            "{}: {e}; run `make setup` (it installs the SAM CLI)",
            lib.display()
        )
    })?;
    for python in pythons.filter_map(|e| e.ok()) {
        let rie = python.path().join(format!(
            "site-packages/samcli/local/rapid/aws-lambda-rie-{arch}"
        ));
        if rie.exists() {
            return Ok(rie);
        }
    }
    Err(format!(
        "no aws-lambda-rie-{arch} in the SAM CLI under {}; run `make setup`",
        lib.display()
    ))
}

/// One function, running under the emulator until dropped.
pub struct Runtime {
    child: Child,
    url: String,
    output: Arc<Mutex<Vec<String>>>,
}

/// What one invocation answered and logged.
pub struct Invocation {
    pub response: serde_json::Value,
    pub millis: f64,
    /// The function's log lines and the emulator's START, END and REPORT lines.
    pub log: Vec<String>,
}

impl Runtime {
    pub fn start(
        rie: &Path,
        binary: &Path,
        env: &BTreeMap<String, String>,
    ) -> Result<Self, String> {
        if !binary.exists() {
            return Err(format!(
                "{} is not built (cargo build -p <function>)",
                binary.display()
            ));
        }
        let (api_port, invoke_port) = (free_port()?, free_port()?);
        let mut child = Command::new(rie)
            .arg("--runtime-interface-emulator-address")
            .arg(format!("127.0.0.1:{invoke_port}"))
            .arg("--runtime-api-address")
            .arg(format!("127.0.0.1:{api_port}"))
            .arg(binary)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{}: {e}", rie.display()))?;
        let output = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    output.lock().expect("log buffer").push(line);
                }
            });
        }
        let addr = format!("127.0.0.1:{invoke_port}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !reachable(&addr) {
            if Instant::now() > deadline {
                return Err(format!("the runtime emulator did not listen on {addr}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Self {
            child,
            url: format!("http://{addr}/2015-03-31/functions/function/invocations"),
            output,
        })
    }

    pub fn invoke(&self, event: &[u8]) -> Result<Invocation, String> {
        let reports_before = self.reports();
        let seen = self.output.lock().expect("log buffer").len();
        let started = Instant::now();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut answer = agent
            .post(&self.url)
            .content_type("application/json")
            .send(event)
            .map_err(|e| format!("the runtime emulator: {e}"))?;
        let millis = started.elapsed().as_secs_f64() * 1000.0;
        let body = answer
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("the runtime emulator's answer: {e}"))?;
        let response = serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body));
        // The emulator writes REPORT after it answers.
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.reports() == reports_before && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let log = self.output.lock().expect("log buffer")[seen..]
            .iter()
            .filter(|l| !l.contains("(rapid)"))
            .cloned()
            .collect();
        Ok(Invocation {
            response,
            millis,
            log,
        })
    }

    fn reports(&self) -> usize {
        self.output
            .lock()
            .expect("log buffer")
            .iter()
            .filter(|l| l.starts_with("REPORT RequestId"))
            .count()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
