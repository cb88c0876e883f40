//! A function's environment as `sam local invoke --env-vars` builds it: the variables
//! the template declares, with parameter defaults, overridden by the env-vars file
//! (`Parameters` for every function, `<LogicalId>` for one), and the `AWS_*` variables
//! Lambda sets.

use std::collections::BTreeMap;
use std::path::Path;

use local_api::Template;
use local_api::template::FunctionDef;

/// The env-vars file (SAM's format).
pub struct EnvVarsFile {
    all: BTreeMap<String, String>,
    by_function: BTreeMap<String, BTreeMap<String, String>>,
}

impl EnvVarsFile {
    pub fn load(path: &Path) -> Result<Self, String> {
        let doc = crate::payloads::read_json(path)?;
        let map = |v: &serde_json::Value| -> BTreeMap<String, String> {
            v.as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect()
        };
        let mut by_function = BTreeMap::new();
        let mut all = BTreeMap::new();
        for (key, value) in doc.as_object().into_iter().flatten() {
            if key == "Parameters" {
                all = map(value);
            } else {
                by_function.insert(key.clone(), map(value));
            }
        }
        Ok(Self { all, by_function })
    }

    pub fn get(&self, logical_id: &str, name: &str) -> Option<&str> {
        self.by_function
            .get(logical_id)
            .and_then(|vars| vars.get(name))
            .or_else(|| self.all.get(name))
            .map(String::as_str)
    }

    /// Sets `name` for every function (the emulator `make invoke` started).
    pub fn set(&mut self, name: &str, value: String) {
        self.all.insert(name.to_owned(), value);
    }
}

/// What the function is started with; unresolved names are listed, not guessed.
pub struct FunctionEnvironment {
    pub vars: BTreeMap<String, String>,
    pub unresolved: Vec<String>,
}

pub fn compose(
    template: &Template,
    logical_id: &str,
    function: &FunctionDef,
    file: &EnvVarsFile,
) -> FunctionEnvironment {
    let mut vars = BTreeMap::new();
    let mut unresolved = Vec::new();
    for (name, value) in &function.environment {
        match file
            .get(logical_id, name)
            .map(str::to_owned)
            .or_else(|| template.resolve(value))
        {
            Some(v) => {
                vars.insert(name.clone(), v);
            }
            None => {
                unresolved.push(name.clone());
                vars.insert(name.clone(), String::new());
            }
        }
    }
    let lambda = [
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", logical_id.to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            function.memory_mb.to_string(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_TIMEOUT",
            function.timeout_secs.to_string(),
        ),
        ("AWS_SAM_LOCAL", "true".to_owned()),
    ];
    for (name, value) in lambda {
        vars.entry(name.to_owned()).or_insert(value);
    }
    FunctionEnvironment { vars, unresolved }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// What only a deployment knows (a table's name, a secret's ARN) `events/env.json`
    /// must give every function, or `sam local invoke` starts it half configured.
    #[test]
    fn env_json_leaves_no_function_variable_unset() {
        let template = Template::load(&workspace().join("template.yaml")).unwrap();
        let file = EnvVarsFile::load(&workspace().join("events/env.json")).unwrap();
        for (id, function) in &template.functions {
            let env = compose(&template, id, function, &file);
            assert!(env.unresolved.is_empty(), "{id}: {:?}", env.unresolved);
        }
    }

    #[test]
    fn the_docker_desktop_file_differs_only_in_where_the_emulator_and_the_standin_are() {
        let read = |name: &str| {
            crate::payloads::read_json(&workspace().join("events").join(name)).unwrap()
        };
        let (mut linux, mut desktop) = (read("env.json"), read("env.docker-desktop.json"));
        assert_eq!(
            desktop["Parameters"][adapters::aws::LOCAL_EMULATOR_URL],
            "http://host.docker.internal:4566"
        );
        for standin in ["LOYALTY_BASE_URL", "PWNED_PASSWORDS_URL"] {
            assert_eq!(
                desktop["Parameters"][standin],
                "http://host.docker.internal:4580"
            );
        }
        for doc in [&mut linux, &mut desktop] {
            let parameters = doc["Parameters"].as_object_mut().unwrap();
            parameters.remove(adapters::aws::LOCAL_EMULATOR_URL);
            parameters.remove("LOYALTY_BASE_URL");
            parameters.remove("PWNED_PASSWORDS_URL");
        }
        assert_eq!(linux, desktop);
    }
}
