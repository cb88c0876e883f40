//! Profile images in Amazon S3: the only module that knows S3 exists. A replaced object
//! is tagged `state=replaced`, which the bucket's lifecycle rule expires; objects are
//! fetched through a base URL: the CDN in front of the private bucket, or the
//! emulator's bucket under `make dev`.

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Tag, Tagging};
use domain::avatar::ValidImage;
use domain::ports::{ImageStore, ImageStoreFailed, StoredObject, UserObjects};

use crate::aws::LazyClient;

/// The tag the lifecycle rule matches.
pub const STATE_TAG: &str = "state";
pub const REPLACED: &str = "replaced";

#[derive(Clone, Debug)]
pub struct S3Images {
    client: LazyClient<aws_sdk_s3::Client>,
    bucket: String,
    base_url: String,
}

impl S3Images {
    pub fn new(
        client: LazyClient<aws_sdk_s3::Client>,
        bucket: impl Into<String>,
        base_url: impl Into<String>,
    ) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            base_url: base_url.into().trim_end_matches('/').to_owned(),
        }
    }
}

/// An S3 client; path-style when the endpoint is overridden (the emulator has no
/// virtual-host buckets).
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

fn failed<E: std::error::Error + 'static>(e: E) -> ImageStoreFailed {
    let reason = DisplayErrorContext(&e).to_string();
    tracing::warn!(%reason, "image store call failed");
    ImageStoreFailed(reason)
}

/// How long browsers and the CDN may keep a profile image.
pub const AVATAR_CACHE_CONTROL: &str = "public, max-age=86400";

impl ImageStore for S3Images {
    async fn put(&self, key: &str, image: &ValidImage) -> Result<(), ImageStoreFailed> {
        self.client
            .get()
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(image.kind().content_type())
            // A day at most, never `immutable`: an erased or replaced image stops being
            // served from caches within a day of its deletion.
            .cache_control(AVATAR_CACHE_CONTROL)
            .body(ByteStream::from(image.bytes().to_vec()))
            .send()
            .await
            .map(|_| ())
            .map_err(failed)
    }

    async fn retire(&self, key: &str) -> Result<(), ImageStoreFailed> {
        let tag = Tag::builder()
            .key(STATE_TAG)
            .value(REPLACED)
            .build()
            .map_err(failed)?;
        let tagging = Tagging::builder().tag_set(tag).build().map_err(failed)?;
        self.client
            .get()
            .put_object_tagging()
            .bucket(&self.bucket)
            .key(key)
            .tagging(tagging)
            .send()
            .await
            .map(|_| ())
            .map_err(failed)
    }

    async fn delete(&self, key: &str) -> Result<(), ImageStoreFailed> {
        self.client
            .get()
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(failed)
    }

    fn url(&self, key: &str) -> String {
        format!("{}/{key}", self.base_url)
    }
}

impl UserObjects for S3Images {
    async fn list(&self, prefix: &str) -> Result<Vec<StoredObject>, ImageStoreFailed> {
        let mut objects = Vec::new();
        let mut pages = self
            .client
            .get()
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for object in page.map_err(failed)?.contents.unwrap_or_default() {
                let Some(key) = object.key else { continue };
                objects.push(StoredObject {
                    key,
                    size: object.size.unwrap_or_default(),
                    last_modified: object
                        .last_modified
                        .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
                });
            }
        }
        Ok(objects)
    }

    async fn delete_all(&self, keys: &[String]) -> Result<(), ImageStoreFailed> {
        // One DeleteObject per key, concurrently: a user holds a handful of objects,
        // and S3 answers a missing key with success.
        let deletes = keys.iter().map(|key| ImageStore::delete(self, key));
        futures_util::future::try_join_all(deletes)
            .await
            .map(|_| ())
    }

    async fn put_json(&self, key: &str, body: Vec<u8>) -> Result<(), ImageStoreFailed> {
        self.client
            .get()
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .cache_control("private, no-store")
            .body(ByteStream::from(body))
            .send()
            .await
            .map(|_| ())
            .map_err(failed)
    }

    async fn download_url(
        &self,
        key: &str,
        lifetime_secs: u64,
    ) -> Result<String, ImageStoreFailed> {
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(
            std::time::Duration::from_secs(lifetime_secs),
        )
        .map_err(failed)?;
        let request = self
            .client
            .get()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(failed)?;
        Ok(request.uri().to_owned())
    }
}
