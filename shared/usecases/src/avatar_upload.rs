//! A profile image upload (issue 9): the day's count is reserved first (one conditional
//! write, so concurrent uploads cannot pass the limit), the objects are stored under a
//! fresh unguessable prefix, then the profile points at them and the image they
//! replace is retired. A failure gives the reservation back and deletes what was
//! stored, so nothing half-written stays behind.

use chrono::{DateTime, Duration, Utc};
use domain::avatar::{UploadPolicy, ValidImage, upload_day};
use domain::ports::ImageStore;
use domain::{Clock, UserId};
use futures_util::future::join_all;
use store::{ProfileStore, StoreError, UploadSlot};

pub struct AvatarUpload<'a, I> {
    pub profiles: &'a ProfileStore,
    pub images: &'a I,
    pub policy: &'a UploadPolicy,
    pub clock: &'a Clock,
}

/// The parts of one upload: the image and, optionally, its cropped version.
pub struct Upload {
    pub image: ValidImage,
    pub cropped: Option<ValidImage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    pub image_url: String,
    pub cropped_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
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

impl<I: ImageStore> AvatarUpload<'_, I> {
    pub async fn run(&self, user: &UserId, upload: &Upload) -> Result<Uploaded, Refusal> {
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
        let id = domain::opaque::random_id();
        // Under the owner's folder, so an erasure finds every object of theirs.
        let folder = domain::privacy::owner_folder(user);
        let mut parts = vec![("image", &upload.image)];
        if let Some(cropped) = &upload.cropped {
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
        let image_url = self.images.url(&keys[0]);
        let replaced = match self.profiles.set_avatar(user, &image_url, &keys, now).await {
            Ok(replaced) => replaced,
            Err(e) => {
                self.undo(user, day, &keys).await;
                return Err(e.into());
            }
        };
        for result in join_all(replaced.iter().map(|key| self.images.retire(key))).await {
            if let Err(e) = result {
                tracing::warn!(error = %e, "a replaced image was not retired; it stays stored");
            }
        }
        Ok(Uploaded {
            image_url,
            cropped_url: keys.get(1).map(|k| self.images.url(k)),
        })
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
