//! `profilectl user ...`: one account, for support staff. Finding, signing out,
//! disabling and enabling go through the same store calls as `GET /api/v1/accounts/users`,
//! `DELETE /api/v1/accounts/users/{user_id}/sessions` and
//! `POST /api/v1/accounts/users/{user_id}/disable|enable`; export and erasure through the
//! data subject's use cases.

use clap::Subcommand;

/// Where the user's objects are, and the key of the tombstone's hashes: the stack's
/// `AVATAR_BUCKET` and `OTP_SECRET_ARN` (under `make dev`: `<table>-avatars` and
/// `<table>-otp-hmac`).
#[derive(clap::Args)]
pub(crate) struct UserStack {
    /// The stack's bucket (its images and exports).
    #[arg(long, env = "AVATAR_BUCKET")]
    bucket: String,
    /// The OTP key's secret: it keys the names of the user's object folders and the
    /// tombstone's hashes of email and phone.
    #[arg(long, env = "OTP_SECRET_ARN")]
    otp_secret: String,
}

#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// Print the account holding EMAIL or PHONE (as GET /api/v1/accounts/users finds it).
    Find {
        #[arg(long, required_unless_present = "phone", conflicts_with = "phone")]
        email: Option<String>,
        #[arg(long)]
        phone: Option<String>,
    },
    /// End every session of USER_ID; its refresh tokens stop at once, its access tokens
    /// within 15 minutes.
    Signout { user_id: String },
    /// Disable USER_ID: every session ends, and it can neither log in, recover its
    /// password nor change anything until enabled. REASON goes on its audit.
    Disable {
        user_id: String,
        #[arg(long)]
        reason: String,
    },
    /// Enable USER_ID again: it logs in; the sessions that ended stay ended.
    Enable { user_id: String },
    /// Remove USER_ID's authenticator app and every passkey, for a holder who lost them
    /// (or found one that is not theirs) and proved who they are to support: its logins
    /// take the password alone again. Each removal is on the account's audit.
    RemoveFactors { user_id: String },
    /// Put the profiles written before the operators' list existed into its index (one
    /// scan of the table; run once after upgrading a stack made before it).
    IndexBackfill,
    /// Import the users of FILE, one JSON object per line (docs/migrating.md): each with
    /// its claims in one transaction; refused lines are reported. The same file again
    /// changes nothing.
    Import {
        file: std::path::PathBuf,
        /// Read and report only; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the export document of USER_ID (as POST /users/me/export writes it).
    Export {
        user_id: String,
        #[command(flatten)]
        stack: UserStack,
    },
    /// Erase USER_ID: every item and object of theirs; the tombstone names OPERATOR.
    Erase {
        user_id: String,
        /// Who erases (recorded on the tombstone as `operator:<name>`).
        #[arg(long)]
        operator: String,
        #[command(flatten)]
        stack: UserStack,
    },
}

/// Runs one `user` command against `table`.
pub(crate) async fn run(
    sdk: aws_config::SdkConfig,
    table: &str,
    command: UserCommand,
) -> Result<(), String> {
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    match command {
        UserCommand::Find { email, phone } => find(client, table, email, phone).await,
        UserCommand::Signout { user_id } => sign_out(client, table, &user_id).await,
        UserCommand::Disable { user_id, reason } => {
            let reason =
                domain::DisableReason::parse(&reason).map_err(|e| format!("--reason: {e}"))?;
            toggle(client, table, &user_id, Some(&reason)).await
        }
        UserCommand::Enable { user_id } => toggle(client, table, &user_id, None).await,
        UserCommand::RemoveFactors { user_id } => remove_factors(client, table, &user_id).await,
        UserCommand::IndexBackfill => {
            let added = store::ProfileStore::new(client, table)
                .backfill_index()
                .await
                .map_err(|e| e.to_string())?;
            eprintln!("{added} profile(s) added to the list's index");
            Ok(())
        }
        UserCommand::Import { file, dry_run } => {
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let accounts = store::AccountStore::new(client, table);
            let report = usecases::import::run(&accounts, &text, dry_run).await;
            report.print();
            if report.refused.is_empty() {
                Ok(())
            } else {
                Err(format!("{} line(s) refused", report.refused.len()))
            }
        }
        command => rights(sdk, table, command).await,
    }
}

async fn find(
    client: aws_sdk_dynamodb::Client,
    table: &str,
    email: Option<String>,
    phone: Option<String>,
) -> Result<(), String> {
    let accounts = store::AccountStore::new(client.clone(), table);
    let holder = match (email, phone) {
        (Some(raw), _) => {
            let email = domain::Email::parse(&raw).map_err(|e| format!("{raw:?}: {e}"))?;
            accounts.holder_of(store::Destination::Email(&email)).await
        }
        (None, Some(raw)) => {
            let phone = domain::PhoneNumber::parse(&raw).map_err(|e| format!("{raw:?}: {e}"))?;
            accounts.holder_of(store::Destination::Phone(&phone)).await
        }
        (None, None) => return Err("give --email or --phone".into()),
    }
    .map_err(|e| e.to_string())?;
    let profile = match holder {
        Some(user) => store::ProfileStore::new(client, table)
            .get(&user)
            .await
            .map_err(|e| e.to_string())?,
        None => None,
    };
    match profile {
        Some(profile) => {
            let summary = serde_json::json!({
                "user_id": profile.user_id,
                "email": profile.email,
                "phone": profile.phone,
                "phone_verified": profile.phone_verified,
                "disabled": profile.disabled_at.is_some(),
                "created_at": profile.created_at,
                "updated_at": profile.updated_at,
            });
            println!("{summary:#}");
            eprintln!("found {}", profile.user_id);
        }
        None => eprintln!("no account holds it"),
    }
    Ok(())
}

async fn sign_out(client: aws_sdk_dynamodb::Client, table: &str, raw: &str) -> Result<(), String> {
    let user = domain::UserId::parse(raw).map_err(|e| format!("{raw:?}: {e}"))?;
    let live = store::ProfileStore::new(client.clone(), table)
        .get(&user)
        .await
        .map_err(|e| e.to_string())?;
    if live.is_none() {
        return Err(format!("no account {raw}"));
    }
    let ended = end_sessions(client, table, &user).await?;
    eprintln!("{user} signed out everywhere: {ended} session(s) ended");
    Ok(())
}

/// `profilectl` as the operator on an account's audit trail.
fn operator() -> domain::Actor {
    domain::Actor {
        source: domain::Source::Admin,
        actor: "profilectl".into(),
        request_id: format!("profilectl-{}", domain::session::new_family_id()),
    }
}

/// Ends every session of `user`, on its audit trail as `profilectl`'s act; how many.
pub(crate) async fn end_sessions(
    client: aws_sdk_dynamodb::Client,
    table: &str,
    user: &domain::UserId,
) -> Result<usize, String> {
    store::SessionStore::new(client, table)
        .end_every(user, store::EndedBy::Admin, &operator(), chrono::Utc::now())
        .await
        .map_err(|e| e.to_string())
}

/// Removes every second factor of `raw`: the authenticator app and each passkey.
async fn remove_factors(
    client: aws_sdk_dynamodb::Client,
    table: &str,
    raw: &str,
) -> Result<(), String> {
    let user = domain::UserId::parse(raw).map_err(|e| format!("{raw:?}: {e}"))?;
    let mfa = store::MfaStore::new(client, table);
    let now = chrono::Utc::now().timestamp();
    let actor = operator();
    let mut removed = 0;
    if let Some(app) = mfa.totp(&user).await.map_err(|e| e.to_string())? {
        removed += usize::from(
            mfa.remove_totp(&user, &app.id, &actor, now)
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    for passkey in mfa.passkeys(&user).await.map_err(|e| e.to_string())? {
        removed += usize::from(
            mfa.remove_passkey(&user, &passkey.id, &actor, now)
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    eprintln!("{user}: {removed} second factor(s) removed");
    Ok(())
}

/// Disables `raw` for `reason`, or enables it (`None`).
async fn toggle(
    client: aws_sdk_dynamodb::Client,
    table: &str,
    raw: &str,
    reason: Option<&domain::DisableReason>,
) -> Result<(), String> {
    let user = domain::UserId::parse(raw).map_err(|e| format!("{raw:?}: {e}"))?;
    let accounts = store::AccountStore::new(client, table);
    let now = chrono::Utc::now();
    let toggled = match reason {
        Some(reason) => accounts.disable(&user, reason, &operator(), now).await,
        None => accounts.enable(&user, &operator(), now).await,
    }
    .map_err(|e| e.to_string())?;
    let state = if reason.is_some() {
        "disabled"
    } else {
        "enabled"
    };
    match toggled {
        store::Toggled::Changed { ended, .. } if reason.is_some() => {
            eprintln!("{user} disabled: {ended} session(s) ended");
        }
        store::Toggled::Changed { .. } => eprintln!("{user} enabled"),
        store::Toggled::Unchanged(_) => eprintln!("{user} was {state} already: nothing changed"),
        store::Toggled::NotFound => return Err(format!("no account {raw}")),
    }
    Ok(())
}

/// A data subject's rights: everything stored about them, or their erasure.
async fn rights(
    sdk: aws_config::SdkConfig,
    table: &str,
    command: UserCommand,
) -> Result<(), String> {
    let (raw, stack) = match &command {
        UserCommand::Export { user_id, stack } | UserCommand::Erase { user_id, stack, .. } => {
            (user_id, stack)
        }
        _ => unreachable!("only export and erasure are a data subject's rights"),
    };
    let otp_secret = stack.otp_secret.as_str();
    let user = domain::UserId::parse(raw).map_err(|e| format!("{raw:?}: {e}"))?;
    let mut settings = platform::Settings::local(table, otp_secret);
    settings.avatars = Some(platform::AvatarConfig {
        bucket: stack.bucket.clone(),
        base_url: String::new(),
    });
    let p = platform::Platform::new(sdk, settings, domain::Clock::system());
    let failed = |e: &dyn std::fmt::Display| e.to_string();
    let privacy = p.store::<store::PrivacyStore>().map_err(|e| failed(&e))?;
    let objects = p.image_store().map_err(|e| failed(&e))?;
    let keys = adapters::secrets::otp_key_source(p.secrets(), otp_secret);
    match &command {
        UserCommand::Export { .. } => {
            let export = usecases::export::Export {
                privacy: &privacy,
                objects: &objects,
                keys: &keys,
                quota: domain::privacy::ExportQuota::default(),
                clock: &p.clock,
            };
            let document = export.document(&user).await.map_err(|e| failed(&e))?;
            println!(
                "{}",
                serde_json::to_string_pretty(&document).expect("JSON values serialize")
            );
        }
        UserCommand::Erase { operator, .. } => {
            let operator = operator.trim();
            if operator.is_empty() || operator.len() > 100 {
                return Err("--operator must be 1 to 100 characters".into());
            }
            let eraser = usecases::erasure::Eraser {
                privacy: &privacy,
                objects: &objects,
                keys: &keys,
                clock: &p.clock,
            };
            let request_id = format!("profilectl-{}", domain::opaque::random_id());
            eraser
                .by_authority(
                    &user,
                    &domain::privacy::ErasedBy::Operator(operator.to_owned()),
                    &request_id,
                )
                .await
                .map_err(|e| failed(&e))?;
            eprintln!(
                "{user} erased (request {request_id}); the tombstone names operator:{operator}"
            );
        }
        _ => {}
    }
    Ok(())
}
