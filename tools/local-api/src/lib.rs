//! The developer gateway behind `make dev`, also used in-process by the integration tests.

pub mod dev_token;
pub mod functions;
pub mod gateway;
pub mod table;
pub mod template;

pub use functions::{Backends, wire};
pub use gateway::{Gateway, GatewayResponse, Handler};
pub use template::Template;

/// The authorizer as `make dev` runs it: the same code as in AWS, with the dev key.
pub fn dev_authorizer(backends: &Backends) -> authorizer::Authorizer {
    authorizer::Authorizer {
        users: authorizer::UserTokenVerifier::new(&dev_token::dev_token_config())
            .expect("the committed dev key is valid"),
        api_tokens: shared::store::ApiTokenStore::new(backends.dynamodb.clone(), &backends.table),
        clock: backends.clock.clone(),
    }
}
