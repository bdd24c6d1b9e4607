//! Request ids: taken from the caller or made up, kept for the task that
//! handles the request, and passed on to the services it calls.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

/// The header that names one request across every service it touches.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id taken from a caller; longer ones are replaced.
const MAX_REQUEST_ID: usize = 128;

tokio::task_local! {
    /// The id of the request whose handler is running on this task.
    static CURRENT_REQUEST_ID: HeaderValue;
}

/// The id of the request being handled on this task, as headers to add to
/// a call made on its behalf; empty outside a request.
pub fn forward_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(id) = current_request_id() {
        headers.insert(REQUEST_ID.clone(), id);
    }
    headers
}

/// The id of the request being handled on this task, if any.
pub fn current_request_id() -> Option<HeaderValue> {
    CURRENT_REQUEST_ID.try_with(HeaderValue::clone).ok()
}

/// Runs `handler` with `id` as the current request id.
pub(super) async fn scope<F: Future>(id: HeaderValue, handler: F) -> F::Output {
    CURRENT_REQUEST_ID.scope(id, handler).await
}

/// The caller's id when it is a short run of visible ASCII (so it cannot
/// forge log lines or blow up a log store), else a new time-ordered UUID.
pub(super) fn take_or_make(headers: &HeaderMap) -> HeaderValue {
    headers
        .get(&REQUEST_ID)
        .filter(|value| is_sane(value.as_bytes()))
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
                .expect("a UUID is a valid header value")
        })
}

fn is_sane(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID).contains(&id.len())
        && id
            .iter()
            .all(|&byte| byte.is_ascii_graphic() && byte != b'"' && byte != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_sane_request_ids() {
        assert!(is_sane(b"0195c0de-7a4b-7c1e-9a39-1d1e2e3f4a5b"));
        assert!(is_sane(b"trace:abc/123+x=y"));
        assert!(!is_sane(b""));
        assert!(!is_sane(b"two words"));
        assert!(!is_sane(b"quote\"d"));
        assert!(!is_sane("é".as_bytes()));
        assert!(!is_sane(&[b'x'; MAX_REQUEST_ID + 1]));
    }

    #[test]
    fn a_missing_or_bad_id_is_replaced_by_a_uuid() {
        let mut headers = HeaderMap::new();
        let made = take_or_make(&headers);
        assert!(uuid::Uuid::try_parse(made.to_str().unwrap()).is_ok());
        headers.insert(
            REQUEST_ID.clone(),
            HeaderValue::from_static("from-client-1"),
        );
        assert_eq!(take_or_make(&headers), "from-client-1");
        headers.insert(REQUEST_ID.clone(), HeaderValue::from_static("has space"));
        assert_ne!(take_or_make(&headers), "has space");
    }

    #[tokio::test]
    async fn forwards_the_id_only_inside_a_request() {
        assert!(forward_headers().is_empty());
        let id = HeaderValue::from_static("abc");
        let inside = scope(id, async { forward_headers() }).await;
        assert_eq!(inside.get(&REQUEST_ID).unwrap(), "abc");
    }
}
