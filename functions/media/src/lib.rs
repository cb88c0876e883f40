//! Profile images: `POST /users/profile/image` takes `multipart/form-data`
//! with `image` (seed 000 calls it `avatar`) and optionally `cropped_image` (seed 002).
//! Each part must decode completely as a JPEG, PNG or WebP within the size limits, or
//! the answer is a 400 naming it and nothing is stored.

use adapters::images::S3Images;
use adapters::secrets::{OtpKeySource, otp_key_source};
use api::app::HttpApp;
use api::http::json;
use api::multipart;
use api::seed002::{self, AppKeys};
use api::{ApiError, Identity, Style};
use domain::avatar::UploadPolicy;
use domain::{Clock, FieldErrors};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use platform::{ConfigError, Platform};
use serde::Serialize;
use serde_json::json;
use store::ProfileStore;
use usecases::avatar_upload::{AvatarUpload, CROPPED_FIELD, Upload};

api::routes! {
    pub enum Route {
        UploadImage = "POST /users/profile/image",
        Seed002UploadImage = "POST /user/profile-image",
        // The URL seed 002's samples call; its heading writes the one above.
        Seed002UploadImageSample = "POST /user/profile/profile-image",
    }
}

pub struct MediaApp {
    app_keys: AppKeys,
    profiles: ProfileStore,
    images: S3Images,
    /// Keys the names of the owners' folders.
    folder_keys: OtpKeySource,
    policy: UploadPolicy,
    clock: Clock,
}

impl MediaApp {
    pub fn new(p: &Platform) -> Result<Self, ConfigError> {
        Ok(Self {
            app_keys: AppKeys::new(p.settings.app_keys.clone()),
            profiles: p.store()?,
            images: p.image_store()?,
            folder_keys: otp_key_source(p.secrets(), p.settings.require_otp_secret()?),
            policy: p.settings.upload_policy,
            clock: p.clock.clone(),
        })
    }

    /// An upload in the canonical or in seed 002's shape; `require_cropped`: seed 002
    /// requires both parts.
    pub async fn upload(&self, req: &Request, require_cropped: bool) -> Result<Uploaded, ApiError> {
        let user = Identity::from_request(req)?.require_user()?.clone();
        let upload = parse_upload(multipart::parts(req).await?, require_cropped)
            .map_err(ApiError::validation)?;
        let use_case = AvatarUpload {
            profiles: &self.profiles,
            images: &self.images,
            keys: &self.folder_keys,
            policy: &self.policy,
            clock: &self.clock,
        };
        let done = use_case.run(&user, &upload).await?;
        Ok(Uploaded {
            image_url: done.image_url,
            cropped_image_url: done.cropped_url,
        })
    }
}

/// What a stored upload answers.
#[derive(Debug, Serialize)]
pub struct Uploaded {
    pub image_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cropped_image_url: Option<String>,
}

const IMAGE_PARTS: &[&str] = &["image", "avatar"];

/// The parts an upload must have, judged before anything is counted or decoded: one
/// image (as `image` or `avatar`), a cropped one where required, nothing else.
fn parse_upload(
    mut parts: std::collections::BTreeMap<String, Vec<u8>>,
    require_cropped: bool,
) -> Result<Upload, FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut image_parts: Vec<(String, Vec<u8>)> = IMAGE_PARTS
        .iter()
        .filter_map(|name| parts.remove(*name).map(|b| (name.to_string(), b)))
        .collect();
    let cropped = parts.remove(CROPPED_FIELD);
    for name in parts.keys() {
        errors.add(name.as_str(), "is not a part of this upload");
    }
    if image_parts.len() > 1 {
        errors.add("avatar", "send image or avatar, not both");
    }
    let image = image_parts.pop();
    if image.is_none() {
        errors.add("image", "This field is required.");
    }
    if cropped.is_none() && require_cropped {
        errors.add(CROPPED_FIELD, "This field is required.");
    }
    errors.into_result()?;
    let (image_field, image) = image.expect("no errors means an image");
    Ok(Upload {
        image_field,
        image,
        cropped,
    })
}

impl HttpApp for MediaApp {
    type Route = Route;

    /// Seed 002's uploads answer in its envelope.
    fn style(route: Route) -> Style {
        match route {
            Route::UploadImage => Style::Problem,
            Route::Seed002UploadImage | Route::Seed002UploadImageSample => Style::Seed002,
        }
    }

    async fn route(&self, route: Route, req: Request) -> Result<Response<Body>, ApiError> {
        match route {
            Route::UploadImage => Ok(json(StatusCode::OK, &self.upload(&req, false).await?)),
            // Seed 002: its apikey, and both parts required.
            Route::Seed002UploadImage | Route::Seed002UploadImageSample => {
                self.app_keys.check(&req)?;
                let uploaded = self.upload(&req, true).await?;
                Ok(seed002::ok(json!({"image_url": uploaded.image_url})))
            }
        }
    }
}
