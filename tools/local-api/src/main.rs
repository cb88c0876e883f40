//! `local-api serve`: every HttpApi route of template.yaml on http://127.0.0.1:3000.
//! `local-api token`: a development user token.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Parser, Subcommand};
use local_api::{Template, dev_token};

#[derive(Parser)]
#[command(
    name = "local-api",
    about = "Developer gateway for the User Profile Service"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every HttpApi route of template.yaml, the authorizer in front, on loopback.
    Serve {
        #[arg(long, default_value_t = 3000)]
        port: u16,
        #[arg(long, default_value = "template.yaml")]
        template: PathBuf,
        /// The table on the emulator; created from template.yaml when missing.
        #[arg(long, env = "TABLE_NAME", default_value = "user-profile-dev")]
        table: String,
        /// Where the stand-in loyalty platform listens (port 0, the default: a free one,
        /// printed).
        #[arg(long, default_value = "127.0.0.1:0")]
        loyalty_standin: SocketAddr,
    },
    /// Print a development user token (dev key: never accepted by a deployed stack).
    Token {
        #[arg(long)]
        sub: String,
        /// A scope to grant; repeat or separate with commas.
        #[arg(long, value_delimiter = ',')]
        scope: Vec<String>,
        /// Seconds until expiry; negative mints an expired token (for tests).
        #[arg(long, default_value_t = 3600, allow_negative_numbers = true)]
        ttl: i64,
        /// The `iss`: `make dev`'s own address by default (`http://127.0.0.1:$API_PORT`);
        /// `https://dev.user-profile.local` for `make invoke` and the events/ payloads.
        #[arg(long)]
        issuer: Option<String>,
    },
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Token {
            sub,
            scope,
            ttl,
            issuer,
        } => {
            if let Err(reason) = domain::UserId::parse(&sub) {
                eprintln!("--sub {reason}");
                std::process::exit(2);
            }
            let issuer = issuer.unwrap_or_else(|| {
                let port = std::env::var("API_PORT").ok().and_then(|p| p.parse().ok());
                dev_token::served_issuer(port.unwrap_or(3000))
            });
            let now = chrono::Utc::now().timestamp();
            println!("{}", dev_token::mint_from(&issuer, &sub, &scope, ttl, now));
        }
        Command::Serve {
            port,
            template,
            table,
            loyalty_standin,
        } => {
            if let Err(message) = serve(port, &template, &table, loyalty_standin).await {
                eprintln!("local-api: {message}");
                std::process::exit(1);
            }
        }
    }
}

async fn serve(
    port: u16,
    template_path: &Path,
    table_name: &str,
    standin_addr: SocketAddr,
) -> Result<(), String> {
    tracing_subscriber_init();
    let template = Template::load(template_path).map_err(|e| e.to_string())?;
    let sdk = adapters::aws::sdk_config().await;
    let endpoint = sdk.endpoint_url().unwrap_or("(AWS)").to_owned();
    // The gateway trusts tokens signed with the committed dev key: against real AWS,
    // anyone could act as any user on real data.
    if !adapters::aws::is_loopback(&endpoint) {
        return Err(format!(
            "AWS_ENDPOINT_URL is {endpoint}: local-api serves only against an emulator on \
             loopback (make dev sets http://127.0.0.1:4566)"
        ));
    }
    let settings = platform::Settings::from_env().map_err(|e| e.to_string())?;
    let from_env = settings.webauthn.is_some();
    let mut settings = local_api::dev_settings(settings, table_name);
    if !from_env {
        settings.webauthn = Some(local_api::dev_webauthn(port));
    }
    // The issuer is where this serves, as RFC 8414 discovery expects.
    let issuer = dev_token::served_issuer(port);
    if let Some(token) = settings.token.as_mut() {
        token.issuer = issuer.clone();
    }
    let settings = local_api::dev_avatars(settings, table_name, &endpoint);
    // The stand-ins: the loyalty platform, unless the environment names a platform itself,
    // and the breached-password check, unless `PWNED_PASSWORDS_URL` names one.
    let mut settings = settings;
    let standin = loyalty_standin::StandIn::new(
        local_api::DEV_LOYALTY_STORE_CODE,
        local_api::DEV_LOYALTY_API_KEY,
    );
    let addr = standin
        .spawn(standin_addr)
        .map_err(|e| format!("the stand-ins cannot listen on {standin_addr}: {e}"))?;
    let standin_url = format!("http://{addr}");
    if std::env::var_os("PWNED_PASSWORDS_URL").is_none() {
        settings.pwned_passwords.url = standin_url.clone();
        println!(
            "local-api: stand-in Pwned Passwords range API (the shipped common passwords) on {standin_url}/range/"
        );
    }
    let settings = if settings.loyalty.is_some() {
        settings
    } else {
        println!(
            "local-api: stand-in loyalty platform (Open Loyalty member API, store {}) on {standin_url}; \
             its members at {standin_url}/_standin/members",
            local_api::DEV_LOYALTY_STORE_CODE
        );
        local_api::dev_loyalty(settings, table_name, &standin_url)
    };
    let platform = platform::Platform::new(sdk.clone(), settings, domain::Clock::system());
    let gateway = local_api::gateway(&template, &platform)?;
    local_api::provision(&platform, table_name, Some(&template.table)).await?;
    let dev_bus = local_api::events::ensure_bus(&sdk, table_name).await?;
    let stream_source = template
        .functions
        .get("EventsFunction")
        .and_then(|f| f.stream.clone())
        .ok_or("template.yaml: EventsFunction has no DynamoDB event source")?;
    let (bus, queue_url, dead_letter_url) = (
        dev_bus.bus.clone(),
        dev_bus.queue_url.clone(),
        dev_bus.dead_letter_url.clone(),
    );
    tokio::spawn(local_api::events::follow(
        sdk.clone(),
        platform.dynamodb(),
        table_name.to_owned(),
        dev_bus,
        stream_source,
        platform.settings.events_give_up_after,
    ));
    let loyalty_rule = template
        .functions
        .get("LoyaltySyncFunction")
        .and_then(|f| f.event_rule.clone())
        .ok_or("template.yaml: LoyaltySyncFunction has no EventBridge rule")?;
    let mut sync_settings = platform.settings.clone();
    // Its dead-letter queue, as the template gives it its own.
    sync_settings.dead_letter_queue = Some(format!(
        "{endpoint}/123456789012/{}-loyalty-sync-dead-letters",
        local_api::event_bus_name(table_name)
    ));
    let sync_platform =
        platform::Platform::new(sdk.clone(), sync_settings, domain::Clock::system());
    let sync = loyalty_sync::LoyaltySync::new(&sync_platform).map_err(|e| e.to_string())?;
    tokio::spawn(local_api::events::follow_loyalty_sync(
        sdk.clone(),
        table_name.to_owned(),
        loyalty_rule,
        sync,
    ));

    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!("local-api: DynamoDB at {endpoint}, table {table_name}");
    println!("local-api: serving on http://{addr}");
    println!(
        "local-api: the account page on http://localhost:{port}/account/ (passkeys need \
         localhost, not 127.0.0.1)"
    );
    println!("local-api: change events on bus {bus}, copied to the queue {queue_url}");
    println!("local-api: stream records given up on go to {dead_letter_url}");
    for route in gateway.routes() {
        let auth = if route.public { "public" } else { "authorizer" };
        println!(
            "  {:<7}{:<40}{:<20}{}",
            route.method, route.path, route.function, auth
        );
    }
    let now = chrono::Utc::now().timestamp();
    let token = dev_token::mint_from(&issuer, "dev-user", &[], 3600, now);
    println!("\nTry (dev token for sub dev-user, valid 1 h):");
    println!("  curl -i -H 'Authorization: Bearer {token}' http://{addr}/users/profile\n");

    local_api::server::serve(Arc::new(gateway), listener).await
}

/// Function logs (JSON lines) go to stderr so the console shows the access log and SMS.
fn tracing_subscriber_init() {
    use tracing_subscriber::EnvFilter;
    // The same caps as in Lambda: the SDK never logs bodies here either.
    let requested = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned());
    let filter = EnvFilter::try_new(platform::telemetry::filter_directives(&requested))
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
