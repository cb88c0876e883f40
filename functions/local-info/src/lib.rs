//! `GET /local-info`: public, cacheable, no DynamoDB. The body and its ETag
//! are built once per container from the same catalog that validates profiles. Seed
//! 002's `GET /get/local-info` is the same lists in its envelope, behind the authorizer
//! and its `apikey`, as that API documents it.

use api::app::HttpApp;
use api::seed002::AppKeys;
use api::{ApiError, Style};
use domain::LocaleCatalog;
use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use platform::{ConfigError, Platform, Settings};
use serde::Serialize;
use sha2::{Digest, Sha256};

api::routes! {
    pub enum Route {
        LocalInfo = "GET /local-info",
        Seed002LocalInfo = "GET /get/local-info",
    }
}

/// A day: the lists change only with a deployment.
pub const CACHE_CONTROL: &str = "public, max-age=86400";

pub struct LocalInfoApp {
    canonical: Cached,
    seed002: Cached,
    app_keys: AppKeys,
}

/// A body built once, and its entity tag.
struct Cached {
    body: Vec<u8>,
    etag: HeaderValue,
}

impl Cached {
    fn new(body: Vec<u8>) -> Self {
        let digest = Sha256::digest(&body);
        use base64::Engine;
        let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..12]);
        let etag =
            HeaderValue::from_str(&format!("\"{tag}\"")).expect("base64url is a valid header");
        Self { body, etag }
    }
}

#[derive(Serialize)]
struct Entry<'a> {
    key: &'a str,
    name: String,
}

#[derive(Serialize)]
struct LocalInfo<'a> {
    languages: Vec<Entry<'a>>,
    currencies: Vec<Entry<'a>>,
    timezones: Vec<Entry<'a>>,
}

impl LocalInfoApp {
    pub fn new(p: &Platform) -> Result<Self, ConfigError> {
        Self::from_settings(&p.settings)
    }

    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let mut app = Self::from_catalog(&settings.locales()?);
        app.app_keys = AppKeys::new(settings.app_keys.clone());
        Ok(app)
    }

    pub fn from_catalog(catalog: &LocaleCatalog) -> Self {
        fn entries<T>(items: Vec<T>, entry: impl Fn(&T) -> Entry<'static>) -> Vec<Entry<'static>> {
            items.iter().map(entry).collect()
        }
        let info = LocalInfo {
            languages: entries(catalog.languages(), |l| Entry {
                key: l.code(),
                name: l.name().to_owned(),
            }),
            currencies: entries(catalog.currencies(), |c| Entry {
                key: c.code(),
                name: c.name().to_owned(),
            }),
            timezones: entries(catalog.timezones(), |t| Entry {
                key: t.name(),
                name: t.name().replace('_', " "),
            }),
        };
        let canonical = Cached::new(serde_json::to_vec(&info).expect("local info serializes"));
        // Seed 002's body wraps the same bytes: no second serialization at init.
        let mut seed002 = br#"{"status_code":200,"errors":{},"data":"#.to_vec();
        seed002.extend_from_slice(&canonical.body);
        seed002.push(b'}');
        let seed002 = Cached {
            body: seed002,
            etag: HeaderValue::from_str(&format!(
                "\"s2-{}",
                canonical
                    .etag
                    .to_str()
                    .unwrap_or_default()
                    .trim_start_matches('"')
            ))
            .expect("an entity tag stays a valid header"),
        };
        Self {
            canonical,
            seed002,
            app_keys: AppKeys::default(),
        }
    }
}

impl HttpApp for LocalInfoApp {
    type Route = Route;

    fn style(route: Route) -> Style {
        match route {
            Route::LocalInfo => Style::Problem,
            Route::Seed002LocalInfo => Style::Seed002,
        }
    }

    async fn route(&self, route: Route, req: Request) -> Result<Response<Body>, ApiError> {
        match route {
            Route::LocalInfo => Ok(local_info(&self.canonical, &req)),
            Route::Seed002LocalInfo => {
                self.app_keys.check(&req)?;
                Ok(local_info(&self.seed002, &req))
            }
        }
    }
}

fn local_info(app: &Cached, req: &Request) -> Response<Body> {
    let not_modified = req
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag.as_bytes() == app.etag.as_bytes());
    let (status, body) = if not_modified {
        (StatusCode::NOT_MODIFIED, Body::Empty)
    } else {
        (StatusCode::OK, Body::from(app.body.clone()))
    };
    let mut response = Response::builder()
        .status(status)
        .header(header::ETAG, app.etag.clone())
        .header(header::CACHE_CONTROL, CACHE_CONTROL)
        .body(body)
        .expect("valid response parts");
    if !not_modified {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    response
}
