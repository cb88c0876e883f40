//! A whole user base from another system, one JSON object per line (docs/migrating.md),
//! as `profilectl user import <file.jsonl> [--dry-run]` runs it. Each user is written
//! with its claims in one transaction, sixteen at a time; a line that cannot be is
//! reported as `line <N>: <reason>` (N counts every line from 1, blank ones too), then
//! `imported <n>, unchanged <n>, refused <n>`. The same file again changes nothing.

use std::collections::HashMap;

use domain::import::ImportedUser;
use domain::{LocaleCatalog, UserId};
use futures_util::stream::{self, StreamExt};
use sha2::Digest;
use store::{AccountStore, ImportOutcome};

/// Users written at once: the emulator and DynamoDB take them in parallel.
const CONCURRENCY: usize = 16;

/// One line, checked: its user, the id it is written under, and its digest.
struct Accepted {
    line: usize,
    id: UserId,
    user: ImportedUser,
    digest: String,
}

/// What the run did, by outcome.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub imported: usize,
    pub unchanged: usize,
    /// Line numbers and reasons, in line order.
    pub refused: Vec<(usize, String)>,
}

impl Report {
    pub fn print(&self) {
        for (line, reason) in &self.refused {
            println!("line {line}: {reason}");
        }
        println!(
            "imported {}, unchanged {}, refused {}",
            self.imported,
            self.unchanged,
            self.refused.len()
        );
    }
}

/// Imports `text` (the file's content) into `accounts`, or only says what it would do.
pub async fn run(accounts: &AccountStore, text: &str, dry_run: bool) -> Report {
    let now = chrono::Utc::now();
    let mut report = Report::default();
    let (accepted, refused) = check_lines(text, now.date_naive());
    report.refused = refused;
    let actor = domain::Actor {
        source: domain::Source::Import,
        actor: "profilectl".into(),
        request_id: format!("import-{}", domain::opaque::random_id()),
    };
    let outcomes: Vec<(usize, Result<ImportOutcome, store::StoreError>)> =
        stream::iter(accepted.iter())
            .map(|a| {
                let actor = &actor;
                async move {
                    let outcome = if dry_run {
                        accounts.import_check(&a.id, &a.user, &a.digest).await
                    } else {
                        accounts.import(&a.id, &a.user, &a.digest, actor, now).await
                    };
                    (a.line, outcome)
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
    for (line, outcome) in outcomes {
        match outcome {
            Ok(ImportOutcome::Imported) => report.imported += 1,
            Ok(ImportOutcome::Unchanged) => report.unchanged += 1,
            Ok(ImportOutcome::Refused(reason)) => report.refused.push((line, reason)),
            // Nothing of the user was written: the same command again brings it.
            Err(e) => report.refused.push((
                line,
                format!("not written ({e}); run the same command again"),
            )),
        }
    }
    report.refused.sort();
    report
}

/// Every line parsed and checked on its own and against the lines before it (an email,
/// a proven number or an id twice in the file is refused where it comes again).
fn check_lines(text: &str, today: chrono::NaiveDate) -> (Vec<Accepted>, Vec<(usize, String)>) {
    let locales = LocaleCatalog::all();
    let (mut accepted, mut refused) = (Vec::new(), Vec::new());
    let mut first_seen: HashMap<String, usize> = HashMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let parsed = match serde_json::from_str::<serde_json::Value>(raw) {
            Ok(serde_json::Value::Object(map)) => ImportedUser::parse(&map, today, &locales),
            Ok(_) => Err("not a JSON object".into()),
            Err(e) => Err(format!("not JSON: {e}")),
        };
        let user = match parsed {
            Ok(user) => user,
            Err(reason) => {
                refused.push((line, reason));
                continue;
            }
        };
        let digest = hex(&sha2::Sha256::digest(raw.as_bytes()));
        let id = match &user.user {
            Some(id) => id.clone(),
            // The same line makes the same id on every run.
            None => UserId::parse(&format!("usr_{}", &digest[..32])).expect("hex is printable"),
        };
        let mut claims = vec![("user_id", format!("id:{}", id.as_str()))];
        if let Some(email) = &user.email {
            claims.push(("email", format!("email:{}", email.normalized())));
        }
        if let Some(phone) = user.phone.as_ref().filter(|_| user.phone_verified) {
            claims.push(("phone", format!("phone:{}", phone.e164())));
        }
        if let Some((key, earlier)) = claims
            .iter()
            .find_map(|(key, claim)| first_seen.get(claim).map(|line| (key, *line)))
        {
            refused.push((line, format!("{key}: also on line {earlier}")));
            continue;
        }
        for (_, claim) in claims {
            first_seen.insert(claim, line);
        }
        accepted.push(Accepted {
            line,
            id,
            user,
            digest,
        });
    }
    (accepted, refused)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
