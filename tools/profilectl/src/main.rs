//! `profilectl token create|list|revoke`: server-to-server API tokens.
//! `profilectl key create|rotate|show`: the key access tokens are signed with.
//! `profilectl admin grant|revoke <email>`: an account's `users:admin` grant.
//! `profilectl user find|signout|disable|enable|export|erase`: an account found by its
//! email or number, signed out everywhere, disabled and enabled again, a data subject's
//! export (on stdout) and erasure, for support staff; `user import` brings a user base
//! from another system (docs/migrating.md), `user index-backfill` indexes an older
//! stack's profiles for the operators' list.
//!
//! The table comes from `--table` or `TABLE_NAME`; the AWS endpoint, region and
//! credentials resolve the standard SDK way, so `AWS_ENDPOINT_URL=http://127.0.0.1:4566`
//! points it at the `make dev` emulator.

mod keys;
mod users;

use users::UserCommand;

use adapters::access_tokens::StoredKeys;
use chrono::Utc;
use clap::{Parser, Subcommand};
use domain::api_token::{ApiToken, ApiTokenSecret, SCOPES, USERS_ADMIN_SCOPE, new_token_id};
use domain::timestamp;
use store::ApiTokenStore;

#[derive(Parser)]
#[command(
    name = "profilectl",
    about = "Operator CLI for the User Profile Service"
)]
struct Cli {
    /// The service's DynamoDB table.
    #[arg(long, env = "TABLE_NAME", global = true)]
    table: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// API tokens for partner systems.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The Ed25519 key access tokens are signed with, in a Secrets Manager secret.
    #[command(subcommand)]
    Key(KeyCommand),
    /// The users:admin grant of an account (seed 001's administrators).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Accounts: find one, sign it out everywhere, disable or enable it, export or erase
    /// it; import a user base; index an older stack's profiles.
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Grant users:admin to the account of EMAIL; its next login carries it.
    Grant { email: String },
    /// Take users:admin back and end the account's sessions (access tokens already
    /// issued expire within 15 minutes).
    Revoke { email: String },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Generate the first key into a new secret; print the TokenPublicKeys parameter.
    Create {
        /// The secret's name or ARN (the stack's TOKEN_SIGNING_KEY_SECRET).
        #[arg(long)]
        secret: String,
        /// The key id; default from the date.
        #[arg(long)]
        kid: Option<String>,
    },
    /// Generate a new current key, keep the old one as previous; print the parameter.
    Rotate {
        #[arg(long)]
        secret: String,
        #[arg(long)]
        kid: Option<String>,
    },
    /// Print the TokenPublicKeys parameter and the JWKs of the secret's keys.
    Show {
        #[arg(long)]
        secret: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token and print it once; only its SHA-256 is stored.
    Create {
        #[arg(long)]
        name: String,
        /// Scopes, comma-separated: profiles:read, profiles:write, ci:read, ci:write,
        /// segments:write, users:read, users:write.
        #[arg(long, value_delimiter = ',', required = true)]
        scope: Vec<String>,
        /// Lifetime such as 90d, 12h, 30m or 3600s; none = never expires.
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by its id (tok_…).
    Revoke { token_id: String },
}

/// `90d`, `12h`, `30m`, `45s` or bare seconds.
fn parse_duration(raw: &str) -> Result<i64, String> {
    let (digits, unit) = match raw.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&raw[..i], c),
        _ => (raw, 's'),
    };
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("--expires-in {raw:?}: use 90d, 12h, 30m or 3600s"))?;
    let secs = match unit {
        'd' => n * 86_400,
        'h' => n * 3_600,
        'm' => n * 60,
        's' => n,
        _ => {
            return Err(format!(
                "--expires-in {raw:?}: the unit must be d, h, m or s"
            ));
        }
    };
    if secs <= 0 {
        return Err("--expires-in must be positive".into());
    }
    Ok(secs)
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(message) = run(cli).await {
        eprintln!("profilectl: {message}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let sdk = adapters::aws::sdk_config().await;
    let command = match cli.command {
        Command::Key(command) => {
            return key(aws_sdk_secretsmanager::Client::new(&sdk), command).await;
        }
        Command::Token(command) => command,
        Command::Admin(command) => {
            let table = cli.table.ok_or("set --table or TABLE_NAME")?;
            return admin(aws_sdk_dynamodb::Client::new(&sdk), &table, command).await;
        }
        Command::User(command) => {
            let table = cli.table.ok_or("set --table or TABLE_NAME")?;
            return users::run(sdk, &table, command).await;
        }
    };
    let table = cli.table.ok_or("set --table or TABLE_NAME")?;
    let store = ApiTokenStore::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    match command {
        TokenCommand::Create {
            name,
            scope,
            expires_in,
        } => {
            let name = name.trim().to_owned();
            if name.is_empty() || name.len() > 100 {
                return Err("--name must be 1 to 100 characters".into());
            }
            if let Some(unknown) = scope.iter().find(|s| !SCOPES.contains(&s.as_str())) {
                return Err(format!(
                    "unknown scope {unknown:?}; choose from {}",
                    SCOPES.join(", ")
                ));
            }
            let now = Utc::now();
            let expires_at = expires_in
                .as_deref()
                .map(parse_duration)
                .transpose()?
                .map(|s| now.timestamp() + s);
            let secret = ApiTokenSecret::generate();
            let token = ApiToken {
                token_id: new_token_id(),
                name,
                scopes: scope,
                created_at: timestamp(now),
                expires_at,
                revoked: false,
            };
            store
                .create(&secret, &token)
                .await
                .map_err(|e| e.to_string())?;
            eprintln!(
                "created {} ({}); the token is shown once:",
                token.token_id,
                token.scopes.join(",")
            );
            println!("{}", secret.expose());
        }
        TokenCommand::List => {
            let now = Utc::now().timestamp();
            println!(
                "{:<22} {:<20} {:<40} {:<8} expires_at",
                "token_id", "name", "scopes", "state"
            );
            for (_, t) in store.list().await.map_err(|e| e.to_string())? {
                let state = if t.revoked {
                    "revoked"
                } else if t.usable_at(now) {
                    "active"
                } else {
                    "expired"
                };
                let expires = t.expires_at.map_or("never".to_owned(), |e| e.to_string());
                println!(
                    "{:<22} {:<20} {:<40} {:<8} {}",
                    t.token_id,
                    t.name,
                    t.scopes.join(","),
                    state,
                    expires
                );
            }
        }
        TokenCommand::Revoke { token_id } => {
            if !store.revoke(&token_id).await.map_err(|e| e.to_string())? {
                return Err(format!("no token {token_id}"));
            }
            eprintln!("revoked {token_id}");
        }
    }
    Ok(())
}

async fn admin(
    client: aws_sdk_dynamodb::Client,
    table: &str,
    command: AdminCommand,
) -> Result<(), String> {
    let accounts = store::AccountStore::new(client.clone(), table);
    let (raw, scope) = match &command {
        AdminCommand::Grant { email } => (email, USERS_ADMIN_SCOPE),
        AdminCommand::Revoke { email } => (email, ""),
    };
    let email = domain::Email::parse(raw).map_err(|e| format!("{raw:?}: {e}"))?;
    let user = accounts
        .set_grants(&email, scope)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no account has the email {raw}"))?;
    match command {
        AdminCommand::Grant { .. } => {
            eprintln!("{user} has users:admin from its next login");
        }
        AdminCommand::Revoke { .. } => {
            let ended = users::end_sessions(client, table, &user).await?;
            eprintln!("{user} no longer has users:admin; {ended} session(s) ended");
        }
    }
    Ok(())
}

/// The service's own words for a refusal; the whole chain for anything else.
fn aws_error<E, R>(err: &aws_sdk_secretsmanager::error::SdkError<E, R>) -> String
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error() {
        Some(e) => format!(
            "{}: {}",
            e.code().unwrap_or("error"),
            e.message().unwrap_or_default()
        ),
        None => aws_sdk_secretsmanager::error::DisplayErrorContext(err).to_string(),
    }
}

async fn key(client: aws_sdk_secretsmanager::Client, command: KeyCommand) -> Result<(), String> {
    let read = |secret: String| {
        let client = client.clone();
        async move {
            let out = client
                .get_secret_value()
                .secret_id(&secret)
                .send()
                .await
                .map_err(|e| format!("cannot read {secret}: {}", aws_error(&e)))?;
            serde_json::from_str::<StoredKeys>(out.secret_string().unwrap_or_default())
                .map_err(|e| format!("{secret} is not a signing key secret: {e}"))
        }
    };
    let keys = match command {
        KeyCommand::Create { secret, kid } => {
            let keys = StoredKeys {
                current: keys::generate(&kid.unwrap_or_else(keys::default_kid))?,
                previous: None,
            };
            let value = serde_json::to_string(&keys).map_err(|e| e.to_string())?;
            client
                .create_secret()
                .name(&secret)
                .secret_string(value)
                .send()
                .await
                .map_err(|e| format!("cannot create {secret}: {}", aws_error(&e)))?;
            eprintln!("created {secret} with key {}", keys.current.kid);
            keys
        }
        KeyCommand::Rotate { secret, kid } => {
            let keys = keys::rotate(
                read(secret.clone()).await?,
                &kid.unwrap_or_else(keys::default_kid),
            )?;
            let value = serde_json::to_string(&keys).map_err(|e| e.to_string())?;
            client
                .put_secret_value()
                .secret_id(&secret)
                .secret_string(value)
                .send()
                .await
                .map_err(|e| format!("cannot update {secret}: {}", aws_error(&e)))?;
            eprintln!(
                "{secret}: {} signs from now on; {} still verifies. Deploy the parameter below, \
                 then new tokens are signed with the new key once containers restart.",
                keys.current.kid,
                keys.previous.as_ref().map_or("-", |k| k.kid.as_str())
            );
            keys
        }
        KeyCommand::Show { secret } => read(secret).await?,
    };
    println!("TokenPublicKeys={}", keys::public_keys_parameter(&keys)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90d"), Ok(90 * 86_400));
        assert_eq!(parse_duration("12h"), Ok(43_200));
        assert_eq!(parse_duration("3600"), Ok(3600));
        for bad in ["", "d", "-1d", "5w", "0s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
