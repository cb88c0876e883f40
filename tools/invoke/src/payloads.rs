//! The payloads of `events/`: which function each is for, what its name says it should
//! get, and the order `--all` runs them in.

use std::path::{Path, PathBuf};

/// One payload file and what its name states.
#[derive(Debug, Clone)]
pub struct Payload {
    pub path: PathBuf,
    /// `events/<function>/...`: the directory name, as in `functions/<function>`.
    pub function: String,
    /// `get-profile.200.json` → `200`; `valid-token.allow.json` → `allow`.
    pub expected: Option<String>,
}

impl Payload {
    pub fn of(path: &Path) -> Result<Self, String> {
        let function = path
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: not in events/<function>/", path.display()))?
            .to_owned();
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let expected = stem
            .rsplit_once('.')
            .map(|(_, outcome)| outcome.to_owned())
            .filter(|o| {
                o.len() == 3 && o.bytes().all(|b| b.is_ascii_digit())
                    || [
                        "allow",
                        "deny",
                        "delivered",
                        "reported",
                        "skipped",
                        "created",
                        "pushed",
                        "set_aside",
                    ]
                    .contains(&o.as_str())
            });
        Ok(Self {
            path: path.to_owned(),
            function,
            expected,
        })
    }

    pub fn name(&self) -> String {
        format!(
            "{}/{}",
            self.function,
            self.path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
        )
    }

    /// The `template.yaml` logical id: `local-info` → `LocalInfoFunction`.
    pub fn logical_id(&self) -> String {
        local_api::template::function_logical_id(&self.function)
    }
}

/// Where a payload runs in `--all`: writes first, so the reads find what they read;
/// deletions last, so nothing reads what they removed.
fn stage(payload: &Payload, event: &serde_json::Value) -> u8 {
    let method = event["requestContext"]["http"]["method"]
        .as_str()
        .unwrap_or("GET");
    let name = payload.name();
    if name.contains("delete") || method == "DELETE" {
        2
    } else if matches!(method, "POST" | "PUT" | "PATCH") {
        0
    } else {
        1
    }
}

/// Every payload under `events/`, grouped by function, each group in run order.
pub fn all(events: &Path) -> Result<Vec<Vec<Payload>>, String> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(events)
        .map_err(|e| format!("{}: {e}", events.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        // `schemas/` holds the change events' JSON Schemas, not payloads.
        .filter(|p| p.is_dir() && !p.ends_with("schemas"))
        .collect();
    dirs.sort();
    let mut groups = Vec::new();
    for dir in dirs {
        let mut staged = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let payload = Payload::of(&path)?;
            let event: serde_json::Value = read_json(&path)?;
            staged.push((stage(&payload, &event), payload));
        }
        staged.sort_by(|a, b| (a.0, &a.1.path).cmp(&(b.0, &b.1.path)));
        if !staged.is_empty() {
            groups.push(staged.into_iter().map(|(_, p)| p).collect());
        }
    }
    Ok(groups)
}

pub fn read_json(path: &Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_state_outcomes() {
        let p = Payload::of(Path::new("events/local-info/get-local-info.200.json")).unwrap();
        assert_eq!(p.expected.as_deref(), Some("200"));
        assert_eq!(p.logical_id(), "LocalInfoFunction");
        let p = Payload::of(Path::new("events/authorizer/valid-token.allow.json")).unwrap();
        assert_eq!(p.expected.as_deref(), Some("allow"));
        let p = Payload::of(Path::new("/tmp/x/my-event.json")).unwrap();
        assert_eq!(p.expected, None);
    }
}
