//! Cross-origin requests: a web app on any origin may read public bytes and
//! metadata; only the origins in `CORS_ORIGINS` may write (with a bearer
//! token). Credentials (cookies) are never allowed: the API takes tokens in
//! `Authorization`, which a page must add itself.

use std::sync::Arc;
use std::time::Duration;

use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// What a page on another origin may read of an answer, beyond the
/// headers every browser shows.
const EXPOSED: [HeaderName; 6] = [
    header::ETAG,
    header::CONTENT_RANGE,
    header::CONTENT_LENGTH,
    header::ACCEPT_RANGES,
    header::CONTENT_DISPOSITION,
    header::LOCATION,
];

/// The request headers a page may send: the token, ranges and validators,
/// and how an upload names itself.
fn allowed_headers() -> [HeaderName; 9] {
    [
        header::AUTHORIZATION,
        header::CONTENT_TYPE,
        header::RANGE,
        header::IF_NONE_MATCH,
        header::IF_MODIFIED_SINCE,
        header::IF_RANGE,
        HeaderName::from_static("x-filename"),
        HeaderName::from_static("x-visibility"),
        HeaderName::from_static("x-request-id"),
    ]
}

/// Reads `CORS_ORIGINS`: `https://app.example,http://localhost:3000`.
pub fn parse_origins(text: &str) -> Result<Vec<String>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            let origin = origin.trim_end_matches('/');
            let authority = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            let valid = authority.is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
                && HeaderValue::from_str(origin).is_ok();
            if valid {
                Ok(origin.to_owned())
            } else {
                Err(format!(
                    "{origin:?} is not an origin (scheme://host[:port], no path)"
                ))
            }
        })
        .collect()
}

/// The method a request makes, or, for a preflight, the one it asks about.
fn intended_method(parts: &Parts) -> Option<Method> {
    if parts.method != Method::OPTIONS {
        return Some(parts.method.clone());
    }
    let asked = parts.headers.get(header::ACCESS_CONTROL_REQUEST_METHOD)?;
    Method::from_bytes(asked.as_bytes()).ok()
}

/// Whether a page on `origin` may make this request: any origin may read,
/// only the listed ones may write.
fn allowed(origin: &HeaderValue, parts: &Parts, writers: &[String]) -> bool {
    match intended_method(parts) {
        Some(Method::GET | Method::HEAD) => true,
        Some(_) => writers
            .iter()
            .any(|writer| writer.as_bytes().eq_ignore_ascii_case(origin.as_bytes())),
        None => false,
    }
}

/// The CORS layer of the distributor's router.
pub fn layer(write_origins: &[String]) -> CorsLayer {
    let writers: Arc<[String]> = write_origins.into();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, parts| {
            allowed(origin, parts, &writers)
        }))
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers(allowed_headers())
        .expose_headers(EXPOSED)
        .allow_credentials(false)
        .max_age(Duration::from_secs(600))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(method: Method, preflight_for: Option<&str>) -> Parts {
        let mut request = Request::builder().method(method).uri("/content");
        if let Some(asked) = preflight_for {
            request = request.header(header::ACCESS_CONTROL_REQUEST_METHOD, asked);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn any_origin_reads_and_listed_ones_write() {
        let writers = parse_origins("https://app.example, http://localhost:3000/").unwrap();
        assert_eq!(writers, ["https://app.example", "http://localhost:3000"]);
        let app = HeaderValue::from_static("https://app.example");
        let stranger = HeaderValue::from_static("https://evil.example");
        for origin in [&app, &stranger] {
            assert!(allowed(origin, &parts(Method::GET, None), &writers));
            assert!(allowed(
                origin,
                &parts(Method::OPTIONS, Some("GET")),
                &writers
            ));
        }
        for (method, asked) in [
            (Method::POST, None),
            (Method::OPTIONS, Some("PUT")),
            (Method::OPTIONS, Some("DELETE")),
        ] {
            assert!(allowed(&app, &parts(method.clone(), asked), &writers));
            assert!(!allowed(&stranger, &parts(method, asked), &writers));
        }
        assert!(!allowed(&app, &parts(Method::OPTIONS, None), &writers));
    }

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        for bad in ["app.example", "https://app.example/path", "ftp://x"] {
            assert!(parse_origins(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_origins("").unwrap(), Vec::<String>::new());
    }
}
