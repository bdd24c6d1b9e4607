//! The node is sealed: every route but `/healthz` needs the node secret as
//! a bearer token, which only the distributor holds. The one exception is
//! a read of one blob through a URL the distributor signed (`?redirect=1`):
//! it is served with the type and disposition the signature covers, and
//! with the headers that keep uploaded pages from running on this origin.

use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cdn_common::BlobKey;
use cdn_common::node_auth::{NodeSecret, SignedRead, unix_now};
use serde::Deserialize;

use crate::AppState;
use crate::error::NodeError;

/// The query of a signed read URL.
#[derive(Deserialize)]
struct SignedQuery {
    expires: Option<String>,
    #[serde(rename = "type")]
    content_type: Option<String>,
    disposition: Option<String>,
    signature: Option<String>,
}

/// Lets a request through when it carries the secret, or when it is a
/// signed read, whose answer it then dresses; refuses it otherwise.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.uri().path() == "/healthz" {
        return next.run(request).await;
    }
    let secret = &state.config.node_secret;
    if request
        .headers()
        .get(header::AUTHORIZATION)
        .is_some_and(|value| secret.accepts(value.as_bytes()))
    {
        return next.run(request).await;
    }
    match signed_read(&request, secret) {
        None => NodeError::Unauthorized.into_response(),
        Some(Err(err)) => err.into_response(),
        Some(Ok(signed)) => {
            let response = next.run(request).await;
            dress(response, &signed)
        }
    }
}

/// The signed read a request makes; `None` when it makes none (not a
/// `GET`/`HEAD` of one blob, or no signature), so it must show the secret.
fn signed_read(request: &Request, secret: &NodeSecret) -> Option<Result<SignedRead, NodeError>> {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return None;
    }
    let key = request.uri().path().strip_prefix("/blobs/")?;
    let query = Query::<SignedQuery>::try_from_uri(request.uri()).ok()?.0;
    let signature = query.signature?;
    let refused = |why: &str| NodeError::Forbidden(format!("signed URL refused: {why}"));
    let Ok(key) = BlobKey::parse(key) else {
        return Some(Err(refused("not a blob key")));
    };
    let (Some(expires), Some(content_type), Some(disposition)) =
        (query.expires, query.content_type, query.disposition)
    else {
        return Some(Err(refused("expires, type and disposition are all needed")));
    };
    let Ok(expires) = expires.parse() else {
        return Some(Err(refused("expires is not Unix seconds")));
    };
    // Both end up as headers: a value that cannot be one was never signed.
    if HeaderValue::from_str(&content_type).is_err() || HeaderValue::from_str(&disposition).is_err()
    {
        return Some(Err(refused("type or disposition is not a header value")));
    }
    let signed = SignedRead {
        key: key.to_string(),
        expires,
        content_type,
        disposition,
    };
    Some(
        signed
            .verify(secret, &signature, unix_now())
            .map(|()| signed)
            .map_err(|err| refused(&err.to_string())),
    )
}

/// Serves the bytes as the object they are, inert, and cached by nobody
/// but the reader, no longer than the signature lasts.
fn dress(mut response: Response, signed: &SignedRead) -> Response {
    let served = response.status().is_success();
    let headers = response.headers_mut();
    if served {
        let value = |text: &str| HeaderValue::from_str(text).expect("checked before serving");
        headers.insert(header::CONTENT_TYPE, value(&signed.content_type));
        headers.insert(header::CONTENT_DISPOSITION, value(&signed.disposition));
        let left = signed.expires.saturating_sub(unix_now());
        headers.insert(
            header::CACHE_CONTROL,
            value(&format!("private, max-age={left}")),
        );
        cdn_common::active::protect(headers, &signed.content_type);
    } else {
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
    }
    response
}
