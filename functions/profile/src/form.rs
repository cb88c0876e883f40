//! A profile PATCH as a form: seed 000's Django REST framework view takes
//! `PATCH /users/profile/` as JSON, as an HTML form or as `multipart/form-data`, an
//! `avatar` image beside the other fields. The image goes through the same checks and
//! daily limit as `POST /users/profile/image`, and the profile points at it in the same
//! write as the other fields, so a refusal of either changes nothing.

use api::ApiError;
use domain::{Actor, ExpectedVersion, FieldErrors, ProfilePatch, UserId};
use lambda_http::Request;
use serde_json::{Map, Value};
use usecases::avatar_upload::{AvatarUpload, Upload};
use usecases::profile_update::Outcome;

use crate::{ProfileApp, apply};

/// The multipart part that carries the image, as seed 000 names it.
const AVATAR_PART: &str = "avatar";

/// A PATCH's fields, in JSON's types whatever the encoding, and its image if any.
pub(crate) struct PatchBody {
    pub fields: Map<String, Value>,
    pub avatar: Option<Vec<u8>>,
}

pub(crate) async fn patch_body(req: &Request) -> Result<PatchBody, ApiError> {
    let mut body = api::form::read(req, &[AVATAR_PART]).await?;
    let fields = if body.is_form {
        api::form::typed(body.fields)?
    } else {
        body.fields
    };
    Ok(PatchBody {
        fields,
        avatar: body.files.remove(AVATAR_PART),
    })
}

/// The fields as a patch; with an image, the fields may be none.
pub(crate) fn parse(
    app: &ProfileApp,
    body: &PatchBody,
    today: chrono::NaiveDate,
) -> Result<ProfilePatch, FieldErrors> {
    if body.fields.is_empty() && body.avatar.is_some() {
        return Ok(ProfilePatch::default());
    }
    ProfilePatch::parse(&body.fields, today, &app.locales)
}

/// `apply`, with the image stored first and pointed at by the same write. A write that
/// does not happen deletes the objects; a failure of ours gives the day's upload back, a
/// refusal or a code sent instead keeps it counted (else a refused request would be a
/// free decode and store, past the limit).
pub(crate) async fn apply_with_avatar(
    app: &ProfileApp,
    user: &UserId,
    actor: &Actor,
    mut patch: ProfilePatch,
    expected: ExpectedVersion,
    avatar: Option<Vec<u8>>,
) -> Result<Outcome, ApiError> {
    let Some(image) = avatar else {
        return Ok(apply(app, user, actor, patch, expected).await?);
    };
    let Some(images) = &app.images else {
        return Err(ApiError::field(
            AVATAR_PART,
            "images are not configured on this deployment",
        ));
    };
    let upload = AvatarUpload {
        profiles: &app.profiles,
        images,
        keys: &app.codes.keys,
        policy: &app.upload_policy,
        clock: &app.clock,
    };
    let parts = Upload {
        image_field: AVATAR_PART.to_owned(),
        image,
        cropped: None,
    };
    let stored = upload.store(user, &parts).await?;
    let replaced = match app.profiles.avatar_keys(user).await {
        Ok(keys) => keys,
        Err(e) => {
            upload.abandon(user, &stored).await;
            return Err(e.into());
        }
    };
    patch.avatar = Some(stored.pointer());
    match apply(app, user, actor, patch, expected)
        .await
        .map_err(ApiError::from)
    {
        Ok(Outcome::Applied(profile)) => {
            upload.retire(&replaced).await;
            Ok(Outcome::Applied(profile))
        }
        Err(e) if e.status().is_server_error() => {
            upload.abandon(user, &stored).await;
            Err(e)
        }
        other => {
            upload.discard(&stored).await;
            other
        }
    }
}
