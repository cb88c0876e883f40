//! template.yaml is the source of truth for routes: openapi.yaml and events/ must agree.

use std::collections::BTreeSet;

use integration_tests::{template, workspace_root};
use serde_norway::Value;

fn template_routes() -> BTreeSet<String> {
    template().routes.iter().map(|r| r.key()).collect()
}

/// The route a trailing-slash twin (`.../{proxy+}`) serves, or the key itself.
fn base(key: &str) -> &str {
    key.strip_suffix(api::http::TRAILING_SLASH).unwrap_or(key)
}

/// The template path an openapi.yaml path is served by: its own, or for a trailing-slash
/// twin the `<path>/{proxy+}` its `x-template-path` names. A twin is documented as the
/// literal path its clients call (`/users/profile/`, which no other path can match, so a
/// generated client gets a method for it), and an HTTP API route cannot end in `/`.
fn template_path(path: &str, item: &Value) -> String {
    match item["x-template-path"].as_str() {
        Some(routed) => {
            assert_eq!(
                path.strip_suffix('/')
                    .map(|stem| format!("{stem}{}", api::http::TRAILING_SLASH)),
                Some(routed.to_owned()),
                "{path}: x-template-path must be the path's twin route"
            );
            routed.to_owned()
        }
        None => {
            assert!(
                !path.ends_with('/'),
                "{path}: a twin names its x-template-path"
            );
            path.to_owned()
        }
    }
}

/// Every path a seed documents, with its trailing `/` as the seed writes it.
const SEED_SLASH_ROUTES: &[&str] = &[
    "GET /users/profile",
    "PATCH /users/profile",
    "GET /users/user",
    "GET /users/segments",
    "POST /users/segments/{segment_id}/set",
    "POST /api/v1/accounts/users",
    "GET /api/v1/accounts/users/{user_id}",
    "PATCH /api/v1/accounts/users/{user_id}",
    "GET /user/get/profile",
    "POST /user/update/profile",
    "POST /user/profile-image",
    "POST /user/profile/profile-image",
    "GET /get/local-info",
    "POST /users/register-with-loyalty",
    "GET /users/profile-with-loyalty",
    "PATCH /users/profile-with-loyalty",
];

#[test]
fn every_seed_path_has_its_trailing_slash_twin_and_only_those() {
    let routes = template_routes();
    let twins: BTreeSet<&str> = routes
        .iter()
        .filter(|k| k.ends_with(api::http::TRAILING_SLASH))
        .map(|k| base(k))
        .collect();
    let expected: BTreeSet<&str> = SEED_SLASH_ROUTES.iter().copied().collect();
    assert_eq!(twins, expected);
    for twin in &twins {
        assert!(routes.contains(*twin), "{twin} has a twin but no route");
    }
}

#[test]
fn openapi_documents_exactly_the_template_routes() {
    let text = std::fs::read_to_string(workspace_root().join("openapi.yaml"))
        .expect("openapi.yaml exists");
    let doc: Value = serde_norway::from_str(&text).expect("openapi.yaml is YAML");
    assert_eq!(
        doc["openapi"].as_str().map(|v| v.starts_with("3.1")),
        Some(true)
    );
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_mapping().expect("paths") {
        for (method, _) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            if ["get", "put", "post", "patch", "delete", "head", "options"].contains(&method) {
                let path = template_path(path.as_str().unwrap(), item);
                documented.insert(format!("{} {path}", method.to_ascii_uppercase()));
            }
        }
    }
    assert_eq!(
        documented,
        template_routes(),
        "openapi.yaml (left) and template.yaml (right) disagree"
    );
}

#[test]
fn every_template_route_has_an_event_payload() {
    let mut found = BTreeSet::new();
    for dir in std::fs::read_dir(workspace_root().join("events")).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir).unwrap() {
            let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
            let event: serde_json::Value = serde_json::from_str(&text).unwrap();
            if let Some(key) = event["routeKey"].as_str() {
                found.insert(key.to_owned());
            }
        }
    }
    let missing: Vec<_> = template_routes().difference(&found).cloned().collect();
    assert!(
        missing.is_empty(),
        "routes without an events/ payload: {missing:?}"
    );
}

#[test]
fn every_function_serves_exactly_its_template_routes() {
    let template = template();
    let functions = local_api::functions();
    for function in &functions {
        let declared: BTreeSet<String> = template
            .routes
            .iter()
            .filter(|r| r.function == function.logical_id)
            .map(|r| base(&r.key()).to_owned())
            .collect();
        let served: BTreeSet<String> = function.routes.iter().map(|k| k.to_string()).collect();
        assert_eq!(
            served, declared,
            "{}: its Route enum (left) and template.yaml (right) disagree",
            function.logical_id
        );
    }
    let wired: BTreeSet<&str> = functions.iter().map(|f| f.logical_id).collect();
    let with_routes: BTreeSet<&str> = template
        .routes
        .iter()
        .map(|r| r.function.as_str())
        .collect();
    assert_eq!(
        wired, with_routes,
        "functions wired (left) vs with routes in template.yaml (right)"
    );
}
