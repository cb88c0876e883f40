//! `multipart/form-data` bodies: the named parts of an upload. Lambda hands the whole
//! body over at once, so it is parsed from memory; a part's name and bytes are all that
//! is kept (its file name and Content-Type say nothing the bytes do not).

use std::collections::BTreeMap;
use std::convert::Infallible;

use http::header::CONTENT_TYPE;
use lambda_http::Request;

use crate::ApiError;

/// Lambda's request payload limit (6 MB, base64 included) bounds a real request; this
/// bounds what the parser reads from anything else.
pub const MAX_MULTIPART_BYTES: usize = 12 * 1024 * 1024;

/// The parts of a `multipart/form-data` body by name; a name given twice is a 400.
pub async fn parts(req: &Request) -> Result<BTreeMap<String, Vec<u8>>, ApiError> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|_| {
        ApiError::malformed_body("the body must be multipart/form-data with a boundary")
    })?;
    let body = req.body().as_ref();
    if body.len() > MAX_MULTIPART_BYTES {
        return Err(ApiError::payload_too_large(MAX_MULTIPART_BYTES));
    }
    let body = bytes::Bytes::copy_from_slice(body);
    let stream = futures_util::stream::once(async move { Ok::<_, Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut parts = BTreeMap::new();
    let malformed = |e: multer::Error| ApiError::malformed_body(format!("multipart body: {e}"));
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_owned();
        let data = field.bytes().await.map_err(malformed)?;
        if parts.insert(name.clone(), data.to_vec()).is_some() {
            return Err(ApiError::field(&name, "is given more than once"));
        }
    }
    Ok(parts)
}
