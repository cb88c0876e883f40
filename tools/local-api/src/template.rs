//! Reads what the developer gateway needs from template.yaml: the HttpApi routes of
//! each function and the table definition. template.yaml stays the one source of truth.

use std::path::Path;

use std::collections::BTreeMap;

use serde_norway::Value;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("template.yaml is not valid YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    #[error("template.yaml: {0}")]
    Shape(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteDef {
    /// The logical id of the function serving the route, e.g. `ProfileFunction`.
    pub function: String,
    pub method: String,
    /// The route path as declared, e.g. `/users/segments/{segment_id}/set`.
    pub path: String,
    /// `Auth: {Authorizer: NONE}` on the event: no authorizer runs.
    pub public: bool,
    /// `Auth.Authorizer` when the event names one (`NONE`, `PartnerAuthorizer`); the
    /// API's default authorizer otherwise. local-api runs the one authorizer function
    /// behind them all, uncached.
    pub authorizer: Option<String>,
}

impl RouteDef {
    /// The API Gateway route key, `GET /users/profile`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAttribute {
    pub name: String,
    pub attribute_type: String,
    pub key_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    pub logical_id: String,
    pub keys: Vec<KeyAttribute>,
    pub ttl_attribute: Option<String>,
    /// Global secondary indexes: name, keys, and the projection's type.
    pub indexes: Vec<IndexDef>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDef {
    pub name: String,
    pub keys: Vec<KeyAttribute>,
    pub projection: String,
}

#[derive(Debug, Clone)]
pub struct Template {
    pub routes: Vec<RouteDef>,
    pub table: TableDef,
    /// Every `AWS::Serverless::Function`, by logical id.
    pub functions: BTreeMap<String, FunctionDef>,
    /// Every parameter's `Default`, by name (`None` when it has none).
    pub parameters: BTreeMap<String, Option<String>>,
}

/// A function as `sam local invoke` would run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionDef {
    /// The cargo binary (`Metadata.BuildProperties.Binary`).
    pub binary: String,
    pub memory_mb: u32,
    pub timeout_secs: u32,
    /// `Globals.Function.Environment` and the function's own, the latter winning.
    pub environment: BTreeMap<String, EnvValue>,
    /// Its `DynamoDB` event source (the table's stream), if it has one.
    pub stream: Option<StreamSource>,
    /// The pattern of its `EventBridgeRule` event, as JSON, if it has one.
    pub event_rule: Option<serde_json::Value>,
}

/// A `Type: DynamoDB` event: how Lambda's poller hands the stream to the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSource {
    pub batch_size: usize,
    pub maximum_retry_attempts: u32,
    /// `FilterCriteria.Filters[].Pattern`, parsed: a record goes to the function when
    /// any matches (none: every record does).
    pub filters: Vec<serde_json::Value>,
}

/// A value in an `Environment.Variables` map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue {
    Literal(String),
    /// `!Ref Name`: a parameter (its default) or a resource (known once deployed).
    Ref(String),
    /// Any other intrinsic (`!GetAtt`, `!Sub`): known once deployed.
    Deployed,
}

impl Template {
    /// `value` as the template would set it with parameter defaults; `None` for what
    /// only a deployment knows (a resource's name, a parameter without a default).
    pub fn resolve(&self, value: &EnvValue) -> Option<String> {
        match value {
            EnvValue::Literal(s) => Some(s.clone()),
            EnvValue::Ref(name) => self.parameters.get(name).cloned().flatten(),
            EnvValue::Deployed => None,
        }
    }
}

impl Template {
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let doc: Value = serde_norway::from_str(text)?;
        let resources = doc
            .get("Resources")
            .and_then(Value::as_mapping)
            .ok_or_else(|| TemplateError::Shape("no Resources".into()))?;
        let mut routes = Vec::new();
        let mut tables = Vec::new();
        let mut functions = BTreeMap::new();
        let globals = at(&doc, &["Globals", "Function"]);
        for (id, resource) in resources {
            let id = id.as_str().unwrap_or_default().to_owned();
            match str_at(resource, &["Type"]) {
                Some("AWS::Serverless::Function") => {
                    routes.extend(function_routes(&id, resource)?);
                    functions.insert(id.clone(), function_def(&id, resource, globals)?);
                }
                Some("AWS::DynamoDB::Table") => tables.push(table_def(&id, resource)?),
                _ => {}
            }
        }
        let table = match tables.len() {
            1 => tables.remove(0),
            n => {
                return Err(TemplateError::Shape(format!(
                    "expected one DynamoDB table, found {n}"
                )));
            }
        };
        routes.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
        let parameters = doc
            .get("Parameters")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
            .map(|(name, p)| {
                let default = p.get("Default").and_then(scalar);
                (name.as_str().unwrap_or_default().to_owned(), default)
            })
            .collect();
        Ok(Self {
            routes,
            table,
            functions,
            parameters,
        })
    }
}

/// The logical id of the function in `functions/<dir>` and `events/<dir>`:
/// `local-info` → `LocalInfoFunction`.
pub fn function_logical_id(dir: &str) -> String {
    let camel: String = dir
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    format!("{camel}Function")
}

/// A scalar as text: YAML reads `Default: 5` as a number.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn env_value(v: &Value) -> EnvValue {
    match v {
        Value::Tagged(t) if t.tag == "Ref" => t
            .value
            .as_str()
            .map_or(EnvValue::Deployed, |name| EnvValue::Ref(name.to_owned())),
        Value::Tagged(_) => EnvValue::Deployed,
        other => scalar(other).map_or(EnvValue::Deployed, EnvValue::Literal),
    }
}

fn function_def(
    id: &str,
    resource: &Value,
    globals: Option<&Value>,
) -> Result<FunctionDef, TemplateError> {
    let binary = str_at(resource, &["Metadata", "BuildProperties", "Binary"])
        .ok_or_else(|| {
            TemplateError::Shape(format!("{id}: Metadata.BuildProperties.Binary is required"))
        })?
        .to_owned();
    let number = |key: &str, default: u32| {
        at(resource, &["Properties", key])
            .or_else(|| globals.and_then(|g| g.get(key)))
            .and_then(Value::as_u64)
            .map_or(default, |n| n as u32)
    };
    let mut environment = BTreeMap::new();
    for vars in [
        globals.and_then(|g| at(g, &["Environment", "Variables"])),
        at(resource, &["Properties", "Environment", "Variables"]),
    ]
    .into_iter()
    .flatten()
    .filter_map(Value::as_mapping)
    {
        for (name, value) in vars {
            if let Some(name) = name.as_str() {
                environment.insert(name.to_owned(), env_value(value));
            }
        }
    }
    Ok(FunctionDef {
        binary,
        memory_mb: number("MemorySize", 128),
        timeout_secs: number("Timeout", 3),
        environment,
        stream: stream_source(id, resource)?,
        event_rule: event_rule(id, resource)?,
    })
}

fn event_rule(id: &str, resource: &Value) -> Result<Option<serde_json::Value>, TemplateError> {
    let events = at(resource, &["Properties", "Events"]).and_then(Value::as_mapping);
    let Some(pattern) = events
        .into_iter()
        .flatten()
        .map(|(_, e)| e)
        .find(|e| str_at(e, &["Type"]) == Some("EventBridgeRule"))
        .and_then(|e| at(e, &["Properties", "Pattern"]))
    else {
        return Ok(None);
    };
    serde_json::to_value(pattern)
        .map(Some)
        .map_err(|e| TemplateError::Shape(format!("{id}: an EventBridgeRule pattern: {e}")))
}

fn stream_source(id: &str, resource: &Value) -> Result<Option<StreamSource>, TemplateError> {
    let events = at(resource, &["Properties", "Events"]).and_then(Value::as_mapping);
    let Some(event) = events
        .into_iter()
        .flatten()
        .map(|(_, e)| e)
        .find(|e| str_at(e, &["Type"]) == Some("DynamoDB"))
    else {
        return Ok(None);
    };
    let properties = event.get("Properties");
    let number = |key: &str, default: u64| {
        properties
            .and_then(|p| p.get(key))
            .and_then(Value::as_u64)
            .unwrap_or(default)
    };
    let filters = properties
        .and_then(|p| at(p, &["FilterCriteria", "Filters"]))
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .map(|f| {
            let pattern = str_at(f, &["Pattern"]).ok_or_else(|| {
                TemplateError::Shape(format!("{id}: a stream filter without a Pattern"))
            })?;
            serde_json::from_str(pattern).map_err(|e| {
                TemplateError::Shape(format!("{id}: a stream filter is not JSON: {e}"))
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Some(StreamSource {
        // Lambda's defaults for a DynamoDB stream: 100 records, retried until they expire.
        batch_size: number("BatchSize", 100) as usize,
        // -1: until the record expires.
        maximum_retry_attempts: properties
            .and_then(|p| p.get("MaximumRetryAttempts"))
            .and_then(Value::as_i64)
            .map_or(u32::MAX, |n| u32::try_from(n).unwrap_or(u32::MAX)),
        filters,
    }))
}

fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(*key))
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(value, path).and_then(Value::as_str)
}

fn function_routes(id: &str, resource: &Value) -> Result<Vec<RouteDef>, TemplateError> {
    let Some(events) = at(resource, &["Properties", "Events"]).and_then(Value::as_mapping) else {
        return Ok(Vec::new());
    };
    let mut routes = Vec::new();
    for (name, event) in events {
        if str_at(event, &["Type"]) != Some("HttpApi") {
            continue;
        }
        let field = |key: &str| {
            str_at(event, &["Properties", key])
                .map(str::to_owned)
                .ok_or_else(|| {
                    TemplateError::Shape(format!(
                        "{id}.Events.{}: Properties.{key} is required",
                        name.as_str().unwrap_or("?")
                    ))
                })
        };
        routes.push(RouteDef {
            function: id.to_owned(),
            method: field("Method")?.to_ascii_uppercase(),
            path: field("Path")?,
            public: str_at(event, &["Properties", "Auth", "Authorizer"]) == Some("NONE"),
            authorizer: str_at(event, &["Properties", "Auth", "Authorizer"]).map(str::to_owned),
        });
    }
    Ok(routes)
}

fn table_def(id: &str, resource: &Value) -> Result<TableDef, TemplateError> {
    let shape = |what: &str| TemplateError::Shape(format!("{id}: {what}"));
    let definitions = at(resource, &["Properties", "AttributeDefinitions"])
        .and_then(Value::as_sequence)
        .ok_or_else(|| shape("AttributeDefinitions missing"))?;
    let schema = at(resource, &["Properties", "KeySchema"])
        .and_then(Value::as_sequence)
        .ok_or_else(|| shape("KeySchema missing"))?;
    let key_attributes = |schema: &Vec<Value>| {
        schema
            .iter()
            .map(|key| {
                let name = str_at(key, &["AttributeName"])
                    .ok_or_else(|| shape("KeySchema entry without AttributeName"))?;
                let attribute_type = definitions
                    .iter()
                    .find(|d| str_at(d, &["AttributeName"]) == Some(name))
                    .and_then(|d| str_at(d, &["AttributeType"]))
                    .ok_or_else(|| shape(&format!("no AttributeDefinition for key {name}")))?;
                Ok(KeyAttribute {
                    name: name.to_owned(),
                    attribute_type: attribute_type.to_owned(),
                    key_type: str_at(key, &["KeyType"]).unwrap_or("HASH").to_owned(),
                })
            })
            .collect::<Result<Vec<_>, TemplateError>>()
    };
    let keys = key_attributes(schema)?;
    let indexes = at(resource, &["Properties", "GlobalSecondaryIndexes"])
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .map(|index| {
            let name =
                str_at(index, &["IndexName"]).ok_or_else(|| shape("an index without IndexName"))?;
            let schema = at(index, &["KeySchema"])
                .and_then(Value::as_sequence)
                .ok_or_else(|| shape("an index without KeySchema"))?;
            Ok(IndexDef {
                name: name.to_owned(),
                keys: key_attributes(schema)?,
                projection: str_at(index, &["Projection", "ProjectionType"])
                    .unwrap_or("ALL")
                    .to_owned(),
            })
        })
        .collect::<Result<Vec<_>, TemplateError>>()?;
    let ttl_attribute = (at(
        resource,
        &["Properties", "TimeToLiveSpecification", "Enabled"],
    )
    .and_then(Value::as_bool)
        == Some(true))
    .then(|| {
        str_at(
            resource,
            &["Properties", "TimeToLiveSpecification", "AttributeName"],
        )
        .map(str::to_owned)
    })
    .flatten();
    Ok(TableDef {
        logical_id: id.to_owned(),
        keys,
        ttl_attribute,
        indexes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_project_template() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
        let template = Template::load(&path).unwrap();
        assert!(
            template
                .routes
                .iter()
                .any(|r| r.key() == "GET /users/profile" && r.function == "ProfileFunction")
        );
        assert_eq!(template.table.keys.len(), 2);
        assert_eq!(
            template.table.ttl_attribute.as_deref(),
            Some(store::keys::TTL_ATTRIBUTE)
        );
        assert_eq!(template.table.keys[0].name, store::keys::PK);
        assert_eq!(template.table.keys[1].name, store::keys::SK);
    }

    #[test]
    fn public_routes_and_shape_errors() {
        let t = Template::parse(
            "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]\n      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n  F:\n    Type: AWS::Serverless::Function\n    Metadata: {BuildProperties: {Binary: f}}\n    Properties:\n      Events:\n        E:\n          Type: HttpApi\n          Properties: {Path: /local-info, Method: get, Auth: {Authorizer: NONE}, ApiId: !Ref Api}\n",
        )
        .unwrap();
        assert_eq!(t.routes[0].key(), "GET /local-info");
        assert!(t.routes[0].public);
        assert!(Template::parse("Resources: {}").is_err());
    }

    #[test]
    fn function_environments_resolve_parameter_defaults() {
        let template = Template::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml"),
        )
        .unwrap();
        let profile = &template.functions["ProfileFunction"];
        assert_eq!(profile.binary, "profile");
        let env = |name: &str| template.resolve(&profile.environment[name]);
        assert_eq!(
            env("RUST_LOG").as_deref(),
            Some("info"),
            "a global, by default"
        );
        assert_eq!(env("OTP_TTL_SECONDS").as_deref(), Some("180"));
        assert_eq!(env("TABLE_NAME"), None, "a resource: known once deployed");
    }
}
