//! Which content types a browser could run as a page on our origin.
//!
//! Stored bytes are the uploader's, so anything a browser might execute
//! (HTML, SVG, XML with stylesheets, scripts, and whatever we cannot name)
//! is served with `Content-Security-Policy: sandbox`: the page gets an
//! opaque origin and no scripts, so it cannot call the API as the origin.
//! Only types known to be passive go without it: the sandbox would break
//! nothing for most of them, but it keeps browsers from showing PDFs.

use axum::http::{HeaderMap, HeaderValue, header};

/// The sandbox every active type is served with.
pub const SANDBOX: HeaderValue = HeaderValue::from_static("sandbox");

/// Whether content of `content_type` must be sandboxed: all but a list of
/// passive types. A type that does not parse counts as active.
pub fn needs_sandbox(content_type: &str) -> bool {
    // A value a browser might split or unquote otherwise than we do.
    if content_type.contains([',', '"', '\\']) {
        return true;
    }
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return true;
    };
    // `image/svg+xml`, `application/xhtml+xml`, `application/rss+xml`, …
    if subtype.ends_with("+xml") || subtype.ends_with("xml") {
        return true;
    }
    let passive = match kind {
        "image" | "audio" | "video" | "font" => true,
        "text" => matches!(subtype, "plain" | "csv" | "css" | "markdown"),
        "application" => matches!(
            subtype,
            "octet-stream"
                | "json"
                | "pdf"
                | "zip"
                | "gzip"
                | "x-gzip"
                | "x-tar"
                | "zstd"
                | "x-7z-compressed"
                | "wasm"
        ),
        _ => false,
    };
    !passive
}

/// Adds what keeps uploaded bytes inert to a response serving them:
/// `nosniff` always, and the sandbox for an active `content_type`.
pub fn protect(headers: &mut HeaderMap, content_type: &str) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if needs_sandbox(content_type) {
        headers.insert(header::CONTENT_SECURITY_POLICY, SANDBOX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_images_of_code_and_the_unknown_are_sandboxed() {
        for active in [
            "text/html",
            "TEXT/HTML; charset=utf-8",
            "application/xhtml+xml",
            "image/svg+xml",
            "text/xml",
            "application/xml",
            "application/rss+xml",
            "text/xsl",
            "text/javascript",
            "application/javascript",
            "multipart/x-mixed-replace",
            "application/x-shockwave-flash",
            "",
            "nonsense",
        ] {
            assert!(needs_sandbox(active), "{active}");
        }
        for passive in [
            "text/plain; charset=utf-8",
            "image/png",
            "video/mp4",
            "application/octet-stream",
            "application/json",
            "application/pdf",
        ] {
            assert!(!needs_sandbox(passive), "{passive}");
        }
    }

    #[test]
    fn every_response_gets_nosniff_and_active_ones_the_sandbox() {
        let mut headers = HeaderMap::new();
        protect(&mut headers, "image/png");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(!headers.contains_key(header::CONTENT_SECURITY_POLICY));
        protect(&mut headers, "text/html");
        assert_eq!(headers[header::CONTENT_SECURITY_POLICY], "sandbox");
    }
}
