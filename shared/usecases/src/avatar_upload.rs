//! A profile image upload: the day's count is reserved first (one conditional write, so
//! concurrent uploads cannot pass the limit, and a caller past it costs no decoding),
//! then each part is decoded and re-encoded without its metadata, stored under the
//! owner's keyed folder and a fresh unguessable prefix, and the profile points at them
//! while the image they replace is retired. A refusal or failure gives the reservation
//! back and deletes what was stored, so nothing half-written stays behind.

use chrono::{DateTime, Duration, Utc};
use domain::avatar::{UploadPolicy, ValidImage, upload_day};
use domain::ports::{ImageStore, OtpKeys};
use domain::{AvatarPointer, Clock, FieldErrors, UserId};
use futures_util::future::join_all;
use store::{ProfileStore, StoreError, UploadSlot};

pub struct AvatarUpload<'a, I, K> {
    pub profiles: &'a ProfileStore,
    pub images: &'a I,
    /// Keys the owner's folder name.
    pub keys: &'a K,
    pub policy: &'a UploadPolicy,
    pub clock: &'a Clock,
}

/// The parts of one upload as they arrived: the image (with the form field it came in,
/// `image` or `avatar`, which a refusal names) and, optionally, its cropped version.
/// Nothing is decoded before the day's count is reserved.
pub struct Upload {
    pub image_field: String,
    pub image: Vec<u8>,
    pub cropped: Option<Vec<u8>>,
}

/// The form field of the cropped version (seed 002).
pub const CROPPED_FIELD: &str = "cropped_image";

impl Upload {
    /// Each part decoded and re-encoded, or the refusal of each that is no image.
    fn decode(&self) -> Result<(ValidImage, Option<ValidImage>), FieldErrors> {
        let mut errors = FieldErrors::default();
        let image = ValidImage::parse(self.image.clone())
            .map_err(|m| errors.add(self.image_field.as_str(), m))
            .ok();
        let cropped = match &self.cropped {
            None => Some(None),
            Some(bytes) => ValidImage::parse(bytes.clone())
                .map_err(|m| errors.add(CROPPED_FIELD, m))
                .ok()
                .map(Some),
        };
        errors.into_result()?;
        Ok((
            image.expect("no errors means an image"),
            cropped.expect("no errors means a cropped part or none"),
        ))
    }
}

/// An upload's objects, stored and counted, that no profile points at yet.
#[derive(Debug)]
pub struct Stored {
    day: chrono::NaiveDate,
    keys: Vec<String>,
    pub uploaded: Uploaded,
}

impl Stored {
    /// What the profile's write sets to point at the image.
    pub fn pointer(&self) -> AvatarPointer {
        AvatarPointer {
            url: self.uploaded.image_url.clone(),
            keys: self.keys.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    pub image_url: String,
    pub cropped_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("a part is not an image")]
    Invalid(FieldErrors),
    #[error("the daily upload limit is spent")]
    LimitReached {
        now: DateTime<Utc>,
        available_at: DateTime<Utc>,
    },
    #[error("the image store is unavailable: {0}")]
    DependencyUnavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl<I: ImageStore, K: OtpKeys> AvatarUpload<'_, I, K> {
    /// The whole upload: stored, pointed at, the image it replaces retired.
    pub async fn run(&self, user: &UserId, upload: &Upload) -> Result<Uploaded, Refusal> {
        let stored = self.store(user, upload).await?;
        let pointer = stored.pointer();
        let now = self.clock.now();
        let replaced = match self
            .profiles
            .set_avatar(user, &pointer.url, &pointer.keys, now)
            .await
        {
            Ok(replaced) => replaced,
            Err(e) => {
                self.abandon(user, &stored).await;
                return Err(e.into());
            }
        };
        self.retire(&replaced).await;
        Ok(stored.uploaded)
    }

    /// The day's count reserved, the parts decoded and stored; nothing points at them
    /// yet. The caller points the profile at them (`Stored::pointer`) or `abandon`s them.
    pub async fn store(&self, user: &UserId, upload: &Upload) -> Result<Stored, Refusal> {
        let now = self.clock.now();
        let (day, next_day) = upload_day(now);
        // The count lives a day past its own, then DynamoDB TTL removes it.
        let expires = (next_day + Duration::days(1)).timestamp();
        match self
            .profiles
            .reserve_upload(user, day, self.policy.daily_limit, expires)
            .await?
        {
            UploadSlot::Reserved => {}
            UploadSlot::Spent => {
                return Err(Refusal::LimitReached {
                    now,
                    available_at: next_day,
                });
            }
        }
        let (image, cropped) = match upload.decode() {
            Ok(parts) => parts,
            Err(errors) => {
                self.undo(user, day, &[]).await;
                return Err(Refusal::Invalid(errors));
            }
        };
        // Under the owner's folder, so an erasure finds every object of theirs.
        let folder = match self.keys.key().await {
            Ok(key) => key.object_folder(user),
            Err(e) => {
                self.undo(user, day, &[]).await;
                return Err(Refusal::DependencyUnavailable(e.0));
            }
        };
        let id = domain::opaque::random_id();
        let mut parts = vec![("image", &image)];
        if let Some(cropped) = &cropped {
            parts.push(("cropped", cropped));
        }
        let keys: Vec<String> = parts
            .iter()
            .map(|(name, image)| {
                format!("avatars/{folder}/{id}/{name}.{}", image.kind().extension())
            })
            .collect();
        let stored = join_all(
            parts
                .iter()
                .zip(&keys)
                .map(|((_, image), key)| self.images.put(key, image)),
        )
        .await;
        if let Some(Err(e)) = stored.iter().find(|r| r.is_err()) {
            let reason = e.to_string();
            self.undo(user, day, &keys).await;
            return Err(Refusal::DependencyUnavailable(reason));
        }
        Ok(Stored {
            day,
            uploaded: Uploaded {
                image_url: self.images.url(&keys[0]),
                cropped_url: keys.get(1).map(|k| self.images.url(k)),
            },
            keys,
        })
    }

    /// Stored objects nothing will point at, after a failure of ours: the reservation
    /// back, the objects gone.
    pub async fn abandon(&self, user: &UserId, stored: &Stored) {
        self.undo(user, stored.day, &stored.keys).await;
    }

    /// Stored objects nothing will point at, after the caller's request was refused (a
    /// stale version, a code sent instead): the objects go, the upload stays counted, so
    /// refused requests cannot decode and store images past the day's limit.
    pub async fn discard(&self, stored: &Stored) {
        for result in join_all(stored.keys.iter().map(|key| self.images.delete(key))).await {
            if let Err(e) = result {
                tracing::warn!(error = %e, "an unused upload was not deleted");
            }
        }
    }

    /// Marks a replaced image's objects for the lifecycle rule; one that stays is
    /// logged, never an error (an erasure still finds it in the owner's folder).
    pub async fn retire(&self, keys: &[String]) {
        for result in join_all(keys.iter().map(|key| self.images.retire(key))).await {
            if let Err(e) = result {
                tracing::warn!(error = %e, "a replaced image was not retired; it stays stored");
            }
        }
    }

    /// After a failed upload: the reservation back, the stored objects gone.
    async fn undo(&self, user: &UserId, day: chrono::NaiveDate, keys: &[String]) {
        if let Err(e) = self.profiles.release_upload(user, day).await {
            tracing::warn!(error = %e, "an upload reservation was not released");
        }
        for result in join_all(keys.iter().map(|key| self.images.delete(key))).await {
            if let Err(e) = result {
                tracing::warn!(error = %e, "an unused upload was not deleted");
            }
        }
    }
}
