//! Reads what the developer gateway needs from template.yaml: the HttpApi routes of
//! each function and the table definition. template.yaml stays the one source of truth.

use std::path::Path;

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
}

#[derive(Debug, Clone)]
pub struct Template {
    pub routes: Vec<RouteDef>,
    pub table: TableDef,
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
        for (id, resource) in resources {
            let id = id.as_str().unwrap_or_default().to_owned();
            match str_at(resource, &["Type"]) {
                Some("AWS::Serverless::Function") => routes.extend(function_routes(&id, resource)?),
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
        Ok(Self { routes, table })
    }
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
    let keys = schema
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
            "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]\n      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n        E:\n          Type: HttpApi\n          Properties: {Path: /local-info, Method: get, Auth: {Authorizer: NONE}, ApiId: !Ref Api}\n",
        )
        .unwrap();
        assert_eq!(t.routes[0].key(), "GET /local-info");
        assert!(t.routes[0].public);
        assert!(Template::parse("Resources: {}").is_err());
    }
}
