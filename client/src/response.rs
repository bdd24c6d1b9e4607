//! Reading the distributor's answers: success bodies as JSON, anything else
//! as an [`Error`].

use reqwest::Response;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The most of an error response that is read: enough for any JSON error,
/// bounded in case something sends a huge page instead.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Passes a success response through and turns any other into [`Error::Api`].
pub(crate) async fn success(response: Response) -> Result<Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = read_prefix(response, MAX_ERROR_BODY).await;
    Err(Error::from_response_body(status, &body))
}

/// The JSON body of a success response.
pub(crate) async fn json_body<T: DeserializeOwned>(response: Response) -> Result<T> {
    let response = success(response).await?;
    let url = response.url().to_string();
    let body = response.bytes().await?;
    serde_json::from_slice(&body).map_err(|source| Error::Decode { url, source })
}

/// A header's value, when it is present and readable text.
pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok()
}

/// Reads up to `limit` bytes of a body. A body that breaks off yields what
/// came: it only decorates an error that is already known.
async fn read_prefix(mut response: Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < limit {
        let Ok(Some(chunk)) = response.chunk().await else {
            break;
        };
        let room = limit - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    body
}
