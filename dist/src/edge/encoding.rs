//! Negotiated compression (RFC 9110 §8.4, §12.5.3): gzip, br or zstd by
//! the client's `Accept-Encoding` and its q-values, done by tower-http's
//! layer, for text-like types only: images, video and archives are
//! compressed already, and a range is a range of the stored bytes.
//!
//! A compressed body is another representation of the same bytes, so it
//! gets a weak `ETag` (`W/"sha256"`): `If-None-Match` compares tags weakly
//! and still matches it, while `If-Range`, which needs a strong tag, never
//! takes it for the stored bytes. `Vary: Accept-Encoding` goes on every
//! answer whose body could have been compressed, `304` and `HEAD` included,
//! so they describe what a `GET` would send.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use tower_http::compression::predicate::Predicate;
use tower_http::compression::{CompressionLayer, CompressionLevel};

/// Bodies smaller than this go as they are: they fit in a packet either way.
pub const MIN_SIZE: u64 = 256;

/// Set on an answer by a handler that knows better than its headers
/// whether its body may be compressed (a `304` has no type to go by).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MayCompress(pub bool);

/// The compression layer, at level 3 of each coding: zstd's default, and
/// brotli's last level with small hash tables. Streaming 320 MiB of text,
/// it sent 16 MiB of gzip, 5 MiB of br or 3 MiB of zstd, and a brotli
/// stream cost the distributor 8 MiB more memory than a gzip one (17 MiB at
/// level 4). Brotli's default, 11, is for files compressed once ahead of
/// time, at a few MB/s.
pub fn layer() -> CompressionLayer<WorthIt> {
    CompressionLayer::new()
        .quality(CompressionLevel::Precise(3))
        .compress_when(WorthIt)
}

/// Whether a body of `content_type` and `size` (when known) is worth
/// compressing.
pub fn worth_compressing(content_type: &str, size: Option<u64>) -> bool {
    compressible(content_type) && size.is_none_or(|size| size >= MIN_SIZE)
}

/// Text and the types that are text underneath: JSON, JavaScript, XML and
/// SVG, and a few more. Everything else is taken as compressed already or
/// as not worth the time.
pub fn compressible(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    if subtype.ends_with("+json") || subtype.ends_with("+xml") {
        return true;
    }
    match kind {
        "text" => true,
        "application" => matches!(
            subtype,
            "json"
                | "javascript"
                | "x-javascript"
                | "ecmascript"
                | "xml"
                | "x-ndjson"
                | "yaml"
                | "x-yaml"
                | "toml"
                | "wasm"
                | "x-sh"
        ),
        "font" => matches!(subtype, "ttf" | "otf"),
        _ => false,
    }
}

/// The layer's predicate: a handler's [`MayCompress`] if it set one, else
/// the answer's type and size. A range is never compressed (the layer
/// itself skips any answer with `Content-Range` or `Content-Encoding`).
#[derive(Clone, Copy, Debug, Default)]
pub struct WorthIt;

impl Predicate for WorthIt {
    fn should_compress<B>(&self, response: &Response<B>) -> bool
    where
        B: axum::body::HttpBody,
    {
        if let Some(MayCompress(decided)) = response.extensions().get() {
            return *decided;
        }
        let size = content_length(response.headers()).or(response.body().size_hint().exact());
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        response.status() != StatusCode::PARTIAL_CONTENT && worth_compressing(content_type, size)
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Runs outside the compression layer and finishes what it started: an
/// encoded answer's tag is weakened, and a `304`, which describes the
/// stored answer, keeps no `Content-Encoding`. (Neither a `304` nor a
/// `HEAD` answer sends a body: hyper and axum drop it, and its unknown
/// length keeps a `Content-Length: 0` off both.)
pub async fn after_compression(mut response: Response<Body>) -> Response<Body> {
    let not_modified = response.status() == StatusCode::NOT_MODIFIED;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_ENCODING) {
        return response;
    }
    if let Some(weak) = headers.get(header::ETAG).and_then(weakened) {
        headers.insert(header::ETAG, weak);
    }
    if not_modified {
        headers.remove(header::CONTENT_ENCODING);
    }
    response
}

/// `"tag"` as `W/"tag"`; a weak tag stays as it is.
fn weakened(tag: &HeaderValue) -> Option<HeaderValue> {
    let text = tag.to_str().ok()?;
    if text.starts_with("W/") {
        return None;
    }
    HeaderValue::from_str(&format!("W/{text}")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_like_types_are_compressed_and_packed_ones_are_not() {
        for text in [
            "text/plain; charset=utf-8",
            "text/html",
            "text/css",
            "text/csv",
            "text/javascript; charset=utf-8",
            "application/json",
            "application/ld+json",
            "application/javascript",
            "application/xml",
            "image/svg+xml; charset=utf-8",
            "application/wasm",
        ] {
            assert!(compressible(text), "{text}");
        }
        for packed in [
            "image/png",
            "image/jpeg",
            "image/webp",
            "video/mp4",
            "audio/mpeg",
            "application/zip",
            "application/gzip",
            "application/zstd",
            "application/pdf",
            "application/octet-stream",
            "font/woff2",
            "multipart/byteranges; boundary=x",
            "nonsense",
            "",
        ] {
            assert!(!compressible(packed), "{packed}");
        }
    }

    #[test]
    fn tiny_bodies_go_as_they_are() {
        assert!(!worth_compressing("text/plain", Some(MIN_SIZE - 1)));
        assert!(worth_compressing("text/plain", Some(MIN_SIZE)));
        assert!(worth_compressing("text/plain", None));
        assert!(!worth_compressing("image/png", Some(1 << 20)));
    }

    #[test]
    fn the_predicate_prefers_what_the_handler_decided() {
        let response = |status, content_type: &str, len: usize, decided: Option<bool>| {
            let mut response = Response::builder()
                .status(status)
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(vec![b'a'; len]))
                .unwrap();
            if let Some(decided) = decided {
                response.extensions_mut().insert(MayCompress(decided));
            }
            WorthIt.should_compress(&response)
        };
        assert!(response(StatusCode::OK, "application/json", 1000, None));
        assert!(!response(StatusCode::OK, "application/json", 10, None));
        assert!(!response(StatusCode::OK, "image/png", 1000, None));
        assert!(!response(
            StatusCode::PARTIAL_CONTENT,
            "text/plain",
            1000,
            None
        ));
        assert!(response(StatusCode::NOT_MODIFIED, "", 0, Some(true)));
        assert!(!response(StatusCode::OK, "text/plain", 1000, Some(false)));
    }

    #[test]
    fn strong_tags_are_weakened_once() {
        let weak = weakened(&HeaderValue::from_static("\"abc\"")).unwrap();
        assert_eq!(weak, "W/\"abc\"");
        assert_eq!(weakened(&weak), None);
    }
}
