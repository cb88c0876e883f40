//! Who is calling: the one place that reads the authorizer context.
//!
//! Functions never verify tokens; API Gateway ran an authorizer first. Two shapes are
//! accepted so a deployment can swap the Lambda authorizer for a JWT authorizer (Cognito):
//! `requestContext.authorizer.lambda.{principal,user_id,token_id,scope}` and
//! `requestContext.authorizer.jwt.claims.{sub,scope}`.

use std::collections::BTreeSet;

use aws_lambda_events::apigw::ApiGatewayRequestAuthorizer;
use lambda_http::{Request, RequestExt, request::RequestContext};
use serde_json::Value;

use crate::error::ApiError;
use domain::{Actor, UserId};

/// Context keys the authorizer hands on; the authorizer writes them, this module reads them.
pub mod context_keys {
    pub const PRINCIPAL: &str = "principal";
    pub const USER_ID: &str = "user_id";
    pub const TOKEN_ID: &str = "token_id";
    pub const SESSION_ID: &str = "session_id";
    pub const SCOPE: &str = "scope";
    pub const AUTH_TIME: &str = "auth_time";
    pub const ACR: &str = "acr";
    pub const PRINCIPAL_USER: &str = "user";
    pub const PRINCIPAL_API_TOKEN: &str = "api_token";
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An end user; always acts on their own profile.
    User(UserId),
    /// A server-to-server client holding an API token.
    ApiToken { token_id: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub principal: Principal,
    pub scopes: BTreeSet<String>,
    /// The `iss` of a token an API Gateway JWT authorizer verified (another identity
    /// provider's); `None` for what our own authorizer admitted (our issuer, or an API
    /// token).
    pub issuer: Option<String>,
    /// The session a user's access token belongs to (its `sid`), when it names one.
    pub session: Option<String>,
    /// When the token's holder last proved who they are (`auth_time`), and how strongly
    /// (`acr`): what `require_recent` judges.
    pub auth_time: Option<i64>,
    pub acr: Option<String>,
}

impl Identity {
    pub fn from_request(req: &Request) -> Result<Self, ApiError> {
        let authorizer = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.authorizer.as_ref(),
            _ => None,
        }
        .ok_or_else(ApiError::unauthorized)?;
        Self::from_authorizer(authorizer)
    }

    pub fn from_authorizer(authorizer: &ApiGatewayRequestAuthorizer) -> Result<Self, ApiError> {
        use context_keys::*;
        if let Some(jwt) = &authorizer.jwt {
            let sub = jwt.claims.get("sub").ok_or_else(ApiError::unauthorized)?;
            let user = UserId::parse(sub).map_err(|_| ApiError::unauthorized())?;
            let mut scopes = parse_scopes(jwt.claims.get("scope").map(String::as_str));
            scopes.extend(jwt.scopes.iter().flatten().cloned());
            return Ok(Self {
                principal: Principal::User(user),
                scopes,
                issuer: Some(jwt.claims.get("iss").cloned().unwrap_or_default()),
                session: None,
                auth_time: jwt.claims.get("auth_time").and_then(|t| t.parse().ok()),
                acr: jwt.claims.get("acr").cloned(),
            });
        }
        let field = |key: &str| authorizer.fields.get(key).and_then(Value::as_str);
        let scopes = parse_scopes(field(SCOPE));
        let principal = match field(PRINCIPAL) {
            Some(PRINCIPAL_USER) => {
                let id = field(USER_ID).ok_or_else(ApiError::unauthorized)?;
                Principal::User(UserId::parse(id).map_err(|_| ApiError::unauthorized())?)
            }
            Some(PRINCIPAL_API_TOKEN) => Principal::ApiToken {
                token_id: field(TOKEN_ID)
                    .ok_or_else(ApiError::unauthorized)?
                    .to_owned(),
            },
            _ => return Err(ApiError::unauthorized()),
        };
        Ok(Self {
            principal,
            scopes,
            issuer: None,
            session: field(SESSION_ID)
                .filter(|sid| domain::session::is_session_id(sid))
                .map(str::to_owned),
            auth_time: authorizer.fields.get(AUTH_TIME).and_then(Value::as_i64),
            acr: field(ACR).map(str::to_owned),
        })
    }

    /// `require_recent`, reading whether the account has a second factor (one GetItem).
    pub async fn require_step_up(
        &self,
        mfa: &store::MfaStore,
        now: i64,
        max_age: i64,
    ) -> Result<(), ApiError> {
        let user = self.require_user()?;
        let has_factor = mfa.has_factor(user).await?;
        self.require_recent(now, max_age, has_factor)
    }

    /// A sensitive change (a password or an email, a factor, an erasure, signing out
    /// everywhere): the token must come from a login at most `max_age` seconds ago and,
    /// on an account with a second factor, one that used it (`aal2`). Otherwise 403
    /// `reauthentication_required`, saying what would do.
    pub fn require_recent(&self, now: i64, max_age: i64, has_factor: bool) -> Result<(), ApiError> {
        let recent = self
            .auth_time
            .is_some_and(|at| at <= now + 60 && now - at <= max_age);
        let strong = !has_factor || self.acr.as_deref() == Some(domain::session::AAL2);
        match recent && strong {
            true => Ok(()),
            false => Err(ApiError::reauthentication_required(
                has_factor.then_some(domain::session::AAL2),
                max_age,
            )),
        }
    }

    /// Whether the caller holds `scope` from a source trusted to grant it: our own
    /// authorizer, or another identity provider's issuer named in `trusted_issuers`. An
    /// operator grants `users:admin` on the account and our login writes it; a scope an
    /// outside provider lets its clients request must not make anyone an administrator.
    pub fn has_trusted_scope(&self, scope: &str, trusted_issuers: &[String]) -> bool {
        self.scopes.contains(scope)
            && self
                .issuer
                .as_ref()
                .is_none_or(|iss| trusted_issuers.iter().any(|t| t == iss))
    }

    /// The end user behind a self-service route; API tokens are refused.
    pub fn require_user(&self) -> Result<&UserId, ApiError> {
        match &self.principal {
            Principal::User(id) => Ok(id),
            Principal::ApiToken { .. } => Err(ApiError::forbidden(
                "this route is for end users; API tokens cannot call it",
            )),
        }
    }

    /// Who acts, for the consent audit trail: the user id or the API token id, with the
    /// request id. `source` names the API: `self` (self-service) or `api` (partner).
    pub fn actor(&self, req: &Request, source: domain::Source) -> Actor {
        Actor {
            source,
            actor: match &self.principal {
                Principal::User(user) => user.to_string(),
                Principal::ApiToken { token_id } => token_id.clone(),
            },
            request_id: crate::http::request_id(req),
        }
    }

    /// A server-to-server route: the caller must be an API token holding `scope`. A
    /// user token never passes, whatever scopes its issuer put in it.
    pub fn require_server_scope(&self, scope: &str) -> Result<(), ApiError> {
        match self.principal {
            Principal::ApiToken { .. } => self.require_scope(scope),
            Principal::User(_) => Err(ApiError::forbidden(
                "this route is for server-to-server API tokens; user tokens cannot call it",
            )),
        }
    }

    pub fn require_scope(&self, scope: &str) -> Result<(), ApiError> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("scope {scope} is required")))
        }
    }
}

fn parse_scopes(raw: Option<&str>) -> BTreeSet<String> {
    raw.unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn authorizer(value: serde_json::Value) -> ApiGatewayRequestAuthorizer {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn lambda_authorizer_user_context() {
        let id = Identity::from_authorizer(&authorizer(json!({
            "lambda": {"principal": "user", "user_id": "u-1", "scope": "a b"}
        })))
        .unwrap();
        assert_eq!(id.principal, Principal::User(UserId::parse("u-1").unwrap()));
        assert!(id.scopes.contains("a") && id.scopes.contains("b"));
    }

    #[test]
    fn jwt_authorizer_claims() {
        let id = Identity::from_authorizer(&authorizer(json!({
            "jwt": {"claims": {"sub": "cognito-sub", "scope": "profiles:read"}, "scopes": null}
        })))
        .unwrap();
        assert_eq!(id.require_user().unwrap().as_str(), "cognito-sub");
        assert!(id.require_scope("profiles:read").is_ok());
        assert_eq!(
            id.require_scope("ci:write").unwrap_err().status().as_u16(),
            403
        );
    }

    #[test]
    fn api_token_is_not_a_user() {
        let id = Identity::from_authorizer(&authorizer(json!({
            "lambda": {"principal": "api_token", "token_id": "t1", "scope": "ci:read"}
        })))
        .unwrap();
        assert_eq!(id.require_user().unwrap_err().status().as_u16(), 403);
    }

    #[test]
    fn missing_or_unknown_principal_is_unauthorized() {
        for ctx in [
            json!({"lambda": {}}),
            json!({"lambda": {"principal": "root"}}),
            json!({"lambda": {"principal": "user"}}),
            json!({"jwt": {"claims": {}}}),
        ] {
            let err = Identity::from_authorizer(&authorizer(ctx)).unwrap_err();
            assert_eq!(err.status().as_u16(), 401);
        }
    }
}
