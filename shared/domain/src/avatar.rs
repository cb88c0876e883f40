//! Profile images: what an upload must be, and how many a user may make a day.
//! An image is what its bytes decode as, never what its file name or Content-Type say:
//! the header picks the decoder, and the whole image is decoded under limits, so a text
//! file named `.png`, a truncated JPEG or a decompression bomb is refused before
//! anything is stored.

use std::io::Cursor;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// Lambda's request payload is 6 MB, base64 included: about 4.5 MB of binary.
pub const MAX_IMAGE_BYTES: usize = 4 * 1024 * 1024;
pub const MAX_IMAGE_SIDE: u32 = 4096;
/// What decoding may allocate: a 4096×4096 RGBA image and the decoder's working set.
const MAX_DECODE_ALLOC: u64 = 96 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Jpeg,
    Png,
    WebP,
}

impl ImageKind {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::WebP => "image/webp",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::WebP => "webp",
        }
    }
}

/// The pixels alone, written anew in the upload's format: whatever the file carried
/// beside them (EXIF with GPS position and device serials, XMP, comments, ICC profiles)
/// is not published. The orientation it recorded is applied first, so the picture
/// stands as it did.
fn reencode(image: &DynamicImage, kind: ImageKind) -> image::ImageResult<Vec<u8>> {
    let mut out = Vec::new();
    let has_alpha = image.color().has_alpha();
    match kind {
        ImageKind::Jpeg => {
            let rgb = DynamicImage::ImageRgb8(image.to_rgb8());
            rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY))?
        }
        ImageKind::Png => image.write_with_encoder(PngEncoder::new(&mut out))?,
        ImageKind::WebP if has_alpha => DynamicImage::ImageRgba8(image.to_rgba8())
            .write_with_encoder(WebPEncoder::new_lossless(&mut out))?,
        ImageKind::WebP => DynamicImage::ImageRgb8(image.to_rgb8())
            .write_with_encoder(WebPEncoder::new_lossless(&mut out))?,
    }
    Ok(out)
}

/// Close to what phones write; the visible loss of one more generation is nil.
const JPEG_QUALITY: u8 = 90;

/// An uploaded image that decoded completely within the limits, re-encoded without its
/// metadata.
#[derive(Clone, PartialEq, Eq)]
pub struct ValidImage {
    kind: ImageKind,
    width: u32,
    height: u32,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for ValidImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ValidImage({:?}, {}x{}, {} bytes)",
            self.kind,
            self.width,
            self.height,
            self.bytes.len()
        )
    }
}

/// The message seed 002 answers for anything that is not a valid image.
pub const NOT_AN_IMAGE: &str =
    "Upload a valid image. The file you uploaded was either not an image or a corrupted image.";

impl ValidImage {
    pub fn parse(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.is_empty() {
            return Err("This field is required.".into());
        }
        if bytes.len() > MAX_IMAGE_BYTES {
            return Err(format!(
                "The image is larger than {} MiB.",
                MAX_IMAGE_BYTES / (1024 * 1024)
            ));
        }
        let mut reader = ImageReader::new(Cursor::new(&bytes))
            .with_guessed_format()
            .map_err(|_| NOT_AN_IMAGE.to_owned())?;
        let kind = match reader.format() {
            Some(ImageFormat::Jpeg) => ImageKind::Jpeg,
            Some(ImageFormat::Png) => ImageKind::Png,
            Some(ImageFormat::WebP) => ImageKind::WebP,
            _ => return Err(NOT_AN_IMAGE.into()),
        };
        let mut limits = Limits::default();
        limits.max_image_width = Some(MAX_IMAGE_SIDE);
        limits.max_image_height = Some(MAX_IMAGE_SIDE);
        limits.max_alloc = Some(MAX_DECODE_ALLOC);
        reader.limits(limits);
        let refused = |e: image::ImageError| match e {
            image::ImageError::Limits(_) => {
                format!("The image is larger than {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE} pixels.")
            }
            _ => NOT_AN_IMAGE.to_owned(),
        };
        let mut decoder = reader.into_decoder().map_err(refused)?;
        let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
        let mut decoded = DynamicImage::from_decoder(decoder).map_err(refused)?;
        decoded.apply_orientation(orientation);
        let bytes = reencode(&decoded, kind).map_err(|_| NOT_AN_IMAGE.to_owned())?;
        Ok(Self {
            kind,
            width: decoded.width(),
            height: decoded.height(),
            bytes,
        })
    }

    pub fn kind(&self) -> ImageKind {
        self.kind
    }

    pub fn dimensions(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// How many images a user may upload per UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadPolicy {
    pub daily_limit: u32,
}

impl Default for UploadPolicy {
    fn default() -> Self {
        Self { daily_limit: 5 }
    }
}

/// The UTC day an upload counts against, and when the next day starts.
pub fn upload_day(now: DateTime<Utc>) -> (NaiveDate, DateTime<Utc>) {
    let day = now.date_naive();
    let next = (day + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    (day, next)
}

/// Seed 002's words for a spent daily limit, counting down to `available_at`.
pub fn daily_limit_message(now: DateTime<Utc>, available_at: DateTime<Utc>) -> String {
    let secs = (available_at - now).num_seconds().max(0);
    format!(
        "Your daily profile update limit exceeded. Expected available in {:02} hours {} minutes and {:02} seconds.",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        image::RgbImage::new(width, height)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn images_are_what_they_decode_as() {
        let ok = ValidImage::parse(png(8, 4)).unwrap();
        assert_eq!(ok.kind(), ImageKind::Png);
        assert_eq!(ok.dimensions(), (8, 4));
        assert_eq!(
            ValidImage::parse(b"just some text, named .png".to_vec()).unwrap_err(),
            NOT_AN_IMAGE
        );
        let mut truncated = png(64, 64);
        truncated.truncate(truncated.len() / 2);
        assert_eq!(ValidImage::parse(truncated).unwrap_err(), NOT_AN_IMAGE);
        assert!(
            ValidImage::parse(png(4097, 1))
                .unwrap_err()
                .contains("4096x4096")
        );
        assert!(
            ValidImage::parse(vec![0; MAX_IMAGE_BYTES + 1])
                .unwrap_err()
                .contains("MiB")
        );
        assert!(ValidImage::parse(Vec::new()).is_err());
    }

    #[test]
    fn the_limit_message_counts_down_to_the_next_utc_day() {
        let now = "2026-11-24T21:56:51Z".parse::<DateTime<Utc>>().unwrap();
        let (day, next) = upload_day(now);
        assert_eq!(day.to_string(), "2026-11-24");
        assert_eq!(next.to_rfc3339(), "2026-11-25T00:00:00+00:00");
        assert_eq!(
            daily_limit_message(now, next),
            "Your daily profile update limit exceeded. Expected available in 02 hours 3 minutes and 09 seconds."
        );
    }
}
