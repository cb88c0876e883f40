//! A route key a function does not serve gets one answer per API style: a 404 problem
//! from self-service functions, a 404 envelope from partner ones. (API Gateway never
//! sends one in AWS; a template edit that forgets the code would.)

use integration_tests::TestEnv;
use serde_json::{Value, json};

const PARTNER_FUNCTIONS: &[&str] = &["ProfilesApiFunction", "CiFunction"];

#[tokio::test]
async fn unknown_route_keys_get_the_404_of_their_api_style() {
    let env = TestEnv::new().await;
    let event = json!({
        "version": "2.0", "routeKey": "GET /nope", "rawPath": "/nope", "rawQueryString": "",
        "headers": {},
        "requestContext": {"http": {"method": "GET", "path": "/nope"}, "routeKey": "GET /nope",
            "requestId": "unknown-route",
            "authorizer": {"lambda": {"principal": "user", "user_id": "ada", "scope": ""}}},
        "isBase64Encoded": false
    });
    let handlers = local_api::wire(&env.platform).unwrap();
    assert!(handlers.len() >= 6);
    for (function, handler) in &handlers {
        let response = handler(lambda_http::request::from_str(&event.to_string()).unwrap()).await;
        assert_eq!(response.status(), 404, "{function}");
        let body: Value = serde_json::from_slice(response.body()).unwrap();
        if PARTNER_FUNCTIONS.contains(&function.as_str()) {
            assert_eq!(body["result_code"], 4040, "{function}: {body}");
            assert_eq!(body["result_msg"], "No such route.", "{function}");
            assert_eq!(body["result_data"], Value::Null, "{function}");
        } else {
            assert_eq!(body["code"], "route_not_found", "{function}: {body}");
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json",
                "{function}"
            );
        }
    }
}
