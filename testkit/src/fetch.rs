//! One request sent and its whole answer read, for tests that check what
//! came back rather than how it streamed. Every failure panics naming the
//! request, so a test needs no `unwrap` chain of its own.

use bytes::Bytes;
use reqwest::{RequestBuilder, Response};
use serde::de::DeserializeOwned;

/// Sends `request` and reads its answer as JSON, whatever its status.
pub async fn json<T: DeserializeOwned>(request: RequestBuilder) -> T {
    let (what, response) = send(request).await;
    response
        .json()
        .await
        .unwrap_or_else(|err| panic!("{what}: the answer is not the JSON expected: {err}"))
}

/// Sends `request` and reads its whole answer, whatever its status.
pub async fn bytes(request: RequestBuilder) -> Bytes {
    let (what, response) = send(request).await;
    response
        .bytes()
        .await
        .unwrap_or_else(|err| panic!("{what}: reading the answer: {err}"))
}

/// The response, and the method and URL to name in a panic.
async fn send(request: RequestBuilder) -> (String, Response) {
    let (client, request) = request.build_split();
    let request = request.expect("a well-formed request");
    let what = format!("{} {}", request.method(), request.url());
    let response = client
        .execute(request)
        .await
        .unwrap_or_else(|err| panic!("{what}: {err}"));
    (what, response)
}
