//! Every payload in events/ goes through its function against the emulator and must
//! produce the outcome its file name documents (see events/README.md).

use std::path::{Path, PathBuf};

use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use integration_tests::{TestEnv, workspace_root};
use serde_json::json;

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    out.sort();
    out
}

/// `get-profile.200.json` → ("get-profile", "200").
fn expectation(path: &Path) -> String {
    let stem = path.file_stem().unwrap().to_str().unwrap();
    stem.rsplit_once('.')
        .unwrap_or_else(|| panic!("{stem}: name it <case>.<outcome>.json"))
        .1
        .to_owned()
}

fn logical_id(dir_name: &str) -> String {
    local_api::template::function_logical_id(dir_name)
}

#[tokio::test]
async fn authorizer_events_allow_or_deny_as_named() {
    let env = TestEnv::new().await;
    let authorizer = authorizer::Authorizer::new(&env.platform).unwrap();
    let paths = files(&workspace_root().join("events/authorizer"));
    assert!(paths.len() >= 4);
    for path in paths {
        let event: ApiGatewayV2CustomAuthorizerV2Request =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let response = authorizer.authorize(&event).await;
        let expected = expectation(&path);
        assert_eq!(
            response.is_authorized,
            expected == "allow",
            "{}",
            path.display()
        );
        if response.is_authorized {
            assert_eq!(response.context.principal, "user");
            assert_eq!(response.context.user_id.as_deref(), Some("evt-user"));
        }
    }
}

#[tokio::test]
async fn function_events_answer_the_status_in_their_name() {
    let env = TestEnv::new().await;
    let seeded = env
        .request("PATCH", "/users/profile")
        .user("evt-user")
        .json(json!({"first_name": "Evt"}))
        .send()
        .await;
    assert_eq!(seeded.status, 200);
    let handlers = local_api::wire(&env.platform).unwrap();
    env.calls.take_leading_keys();
    let mut checked = 0;
    let mut outside_policy = Vec::new();
    for dir in std::fs::read_dir(workspace_root().join("events")).unwrap() {
        let dir = dir.unwrap().path();
        let name = dir.file_name().unwrap().to_str().unwrap().to_owned();
        // `schemas/` holds the change events' JSON Schemas, not payloads; the authorizer
        // and the stream consumer take other events than HTTP ones.
        if !dir.is_dir()
            || ["authorizer", "events", "loyalty-sync", "schemas"].contains(&name.as_str())
        {
            continue;
        }
        let handler = handlers
            .get(&logical_id(&name))
            .unwrap_or_else(|| panic!("events/{name}: no function {} is wired", logical_id(&name)));
        let grants = integration_tests::dynamodb_grants(&logical_id(&name));
        for path in files(&dir) {
            let text = std::fs::read_to_string(&path).unwrap();
            let request = lambda_http::request::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let response = handler(request).await;
            assert_eq!(
                response.status().as_str(),
                expectation(&path),
                "{}",
                path.display()
            );
            // Least privilege: each function's DynamoDB policy names the actions it may
            // take and the partitions it may take them on; no route needs another.
            for access in env.calls.take_leading_keys() {
                if !integration_tests::granted(&grants, &access) {
                    outside_policy.push(format!(
                        "{}: {} on {}",
                        path.display(),
                        access.action,
                        access.pk
                    ));
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} events ran");
    assert!(
        outside_policy.is_empty(),
        "partitions outside the function's dynamodb:LeadingKeys: {outside_policy:#?}"
    );
}

/// The test's platform with the stack's bus and its dead-letter queue on the emulator, as
/// the event functions are configured in AWS.
async fn with_bus(env: &TestEnv) -> platform::Platform {
    let sdk = integration_tests::sdk_config(&integration_tests::emulator_url()).await;
    let bus = local_api::events::ensure_bus(&sdk, &env.table)
        .await
        .unwrap();
    let mut settings = env.platform.settings.clone();
    settings.dead_letter_queue = Some(bus.dead_letter_url);
    platform::Platform::new(sdk, settings, domain::Clock::system())
}

/// Stream batches as Lambda hands them over: `delivered` when no record is reported
/// (published, or set aside in the dead-letter queue), `reported` when one is (Lambda
/// then retries from it).
#[tokio::test]
async fn stream_events_are_delivered_or_reported_as_named() {
    let env = TestEnv::new().await;
    let platform = with_bus(&env).await;
    let app = events::EventsApp::new(&platform).unwrap();
    let paths = files(&workspace_root().join("events/events"));
    assert!(paths.len() >= 2);
    let set_aside = paths
        .iter()
        .filter(|p| p.to_string_lossy().contains("set-aside"))
        .count();
    for path in paths {
        let batch: aws_lambda_events::event::dynamodb::Event =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let response = platform::EventFunction::handle(&app, batch).await;
        let outcome = if response.batch_item_failures.is_empty() {
            "delivered"
        } else {
            "reported"
        };
        assert_eq!(outcome, expectation(&path), "{}", path.display());
    }
    let waiting = aws_sdk_sqs::Client::new(
        &integration_tests::sdk_config(&integration_tests::emulator_url()).await,
    )
    .receive_message()
    .queue_url(platform.settings.dead_letter_queue.as_deref().unwrap())
    .max_number_of_messages(10)
    .send()
    .await
    .unwrap()
    .messages
    .unwrap_or_default()
    .len();
    assert_eq!(
        waiting, set_aside,
        "each *-set-aside payload's record is in the dead-letter queue"
    );
}

/// Change events as the rule hands them to the loyalty sync: the outcome named.
#[tokio::test]
async fn loyalty_sync_events_come_to_the_outcome_named() {
    let env = TestEnv::new().await;
    let platform = with_bus(&env).await;
    let sync = loyalty_sync::LoyaltySync::new(&platform).unwrap();
    let paths = files(&workspace_root().join("events/loyalty-sync"));
    assert!(!paths.is_empty());
    for path in paths {
        let event: aws_lambda_events::event::eventbridge::EventBridgeEvent<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let outcome =
            serde_json::to_value(platform::EventFunction::handle(&sync, event).await).unwrap();
        assert_eq!(outcome["outcome"], expectation(&path), "{}", path.display());
    }
}
