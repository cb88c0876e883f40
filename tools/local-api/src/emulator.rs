//! The moto-based emulator of `tools/emulator`, started on a free loopback port for as
//! long as the process that started it lives (it exits when its stdin closes).

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Emulator {
    pub url: String,
    // Holds the child's stdin open; dropping it stops the emulator.
    _child: Child,
}

/// Whether something accepts TCP connections at `addr` (`127.0.0.1:4566`).
pub fn reachable(addr: &str) -> bool {
    addr.parse()
        .ok()
        .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_millis(200)).is_ok())
}

/// A port nothing listens on right now.
pub fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// The SDK configuration of a client of the emulator at `endpoint`: test credentials,
/// `us-east-1`, and the HTTP client the functions use in Lambda.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    use aws_sdk_dynamodb::config::{Credentials, Region};
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(adapters::aws::lazy_https_client())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "emulator"))
        .load()
        .await
}

impl Emulator {
    /// Starts `tools/emulator/emulator.py` with the project's `.venv` Python, SMS and
    /// emails printed only if `print_messages`.
    pub fn start(workspace: &Path, print_messages: bool) -> Result<Self, String> {
        let python = workspace.join(".venv/bin/python");
        if !python.exists() {
            return Err(format!(
                "no emulator: {} is missing; run `make setup` (it installs moto into .venv)",
                python.display()
            ));
        }
        let port = free_port()?;
        let mut command = Command::new(&python);
        command
            .arg(workspace.join("tools/emulator/emulator.py"))
            .args(["--port", &port.to_string(), "--exit-with-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if !print_messages {
            command.arg("--quiet-sms");
        }
        let child = command
            .spawn()
            .map_err(|e| format!("the emulator did not start: {e}"))?;
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !reachable(&addr) {
            if Instant::now() > deadline {
                return Err(format!("the emulator did not listen on {addr} within 30 s"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Self {
            url: format!("http://{addr}"),
            _child: child,
        })
    }
}
