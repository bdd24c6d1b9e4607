//! The web dashboard, as the distributor serves it: its files (`assets`,
//! embedded at build time: a page of plain HTML, CSS and JavaScript that
//! uses only the public API) and the few pages made on the server
//! (`pages`), which work without JavaScript. Pure: the routes that need
//! the catalogue live in `api`.

pub mod assets;
pub mod pages;

use axum::http::{HeaderMap, HeaderValue, header};

/// The dashboard's pages run only their own files: no inline script or
/// style, nothing from elsewhere, never framed.
pub const CONTENT_SECURITY_POLICY: HeaderValue = HeaderValue::from_static(
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
     frame-src 'self'; object-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
);

/// Whether the request comes from a browser that wants a page back (a
/// form it submitted), rather than from a program that wants JSON.
pub fn wants_page(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|media| media.split(';').next().unwrap_or("").trim() == "text/html")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_navigating_want_pages_programs_do_not() {
        let accept = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_static(value));
            wants_page(&headers)
        };
        assert!(accept(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        ));
        assert!(!accept("*/*"));
        assert!(!accept("application/json"));
        assert!(!wants_page(&HeaderMap::new()));
    }
}
