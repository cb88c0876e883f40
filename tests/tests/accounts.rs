//! The accounts function's public key documents.

use integration_tests::{TestEnv, dev_token};
use serde_json::Value;

#[tokio::test]
async fn the_key_set_and_discovery_document_are_public() {
    let env = TestEnv::new().await;
    let r = env.request("GET", "/.well-known/jwks.json").send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["cache-control"], "public, max-age=300");
    let jwks: Value = r.json();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], dev_token::DEV_KID);
    assert_eq!(keys[0]["x"], dev_token::DEV_PUBLIC_KEY.trim());
    assert_eq!(
        (
            &keys[0]["kty"],
            &keys[0]["crv"],
            &keys[0]["alg"],
            &keys[0]["use"]
        ),
        (
            &Value::from("OKP"),
            &Value::from("Ed25519"),
            &Value::from("EdDSA"),
            &Value::from("sig")
        )
    );

    let r = env
        .request("GET", "/.well-known/openid-configuration")
        .send()
        .await;
    assert_eq!(r.status, 200);
    let discovery: Value = r.json();
    assert_eq!(discovery["issuer"], dev_token::DEV_ISSUER);
    assert_eq!(
        discovery["jwks_uri"],
        "http://127.0.0.1/.well-known/jwks.json"
    );
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"][0],
        "EdDSA"
    );
}
