//! How the bytes are served: ranges, conditional requests, HEAD, headers,
//! redirects.

use bytes::Bytes;
use cdn_common::wire::Content;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};

use testkit::fetch;
use testkit::services::{self, Stack};

async fn get(
    stack: &Stack,
    content: &Content,
    headers: &[(header::HeaderName, &str)],
) -> (StatusCode, HeaderMap, Bytes) {
    let mut request = stack.http.get(&content.uri);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap())
}

#[tokio::test]
async fn serves_whole_content_with_its_headers() {
    let stack = Stack::start().await;
    let content = stack.upload("menu café.txt", b"0123456789").await;
    let (status, headers, body) = get(&stack, &content, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], b"0123456789");
    assert_eq!(headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    assert_eq!(headers[header::CONTENT_LENGTH], "10");
    assert_eq!(headers[header::ACCEPT_RANGES], "bytes");
    assert_eq!(
        headers[header::ETAG].to_str().unwrap(),
        format!("\"{}\"", content.sha256)
    );
    assert!(headers.contains_key(header::LAST_MODIFIED));
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "inline; filename=\"menu caf_.txt\"; filename*=UTF-8''menu%20caf%C3%A9.txt"
    );

    let attachment = stack
        .http
        .get(format!("{}&download=1", content.uri))
        .send()
        .await
        .unwrap();
    assert!(
        attachment.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
}

#[tokio::test]
async fn honours_ranges() {
    let stack = Stack::start().await;
    let content = stack.upload("digits.txt", b"0123456789").await;

    let (status, headers, body) = get(&stack, &content, &[(header::RANGE, "bytes=2-5")]).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(&body[..], b"2345");
    assert_eq!(headers[header::CONTENT_RANGE], "bytes 2-5/10");
    assert_eq!(headers[header::CONTENT_LENGTH], "4");

    let (status, _, body) = get(&stack, &content, &[(header::RANGE, "bytes=-3")]).await;
    assert_eq!(
        (status, &body[..]),
        (StatusCode::PARTIAL_CONTENT, &b"789"[..])
    );
    let (status, _, body) = get(&stack, &content, &[(header::RANGE, "bytes=7-")]).await;
    assert_eq!(
        (status, &body[..]),
        (StatusCode::PARTIAL_CONTENT, &b"789"[..])
    );

    for unsatisfiable in ["bytes=10-", "bytes=5-2", "pages=1-2"] {
        let (status, headers, body) =
            get(&stack, &content, &[(header::RANGE, unsatisfiable)]).await;
        assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE, "{unsatisfiable}");
        assert_eq!(headers[header::CONTENT_RANGE], "bytes */10");
        let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(error["error"]["code"], "range_not_satisfiable");
    }

    // A range of an older version is not mixed with the new bytes.
    let etag = format!("\"{}\"", content.sha256);
    let (status, _, body) = get(
        &stack,
        &content,
        &[(header::RANGE, "bytes=0-1"), (header::IF_RANGE, &etag)],
    )
    .await;
    assert_eq!(
        (status, &body[..]),
        (StatusCode::PARTIAL_CONTENT, &b"01"[..])
    );
    let (status, _, body) = get(
        &stack,
        &content,
        &[
            (header::RANGE, "bytes=0-1"),
            (header::IF_RANGE, "\"stale\""),
        ],
    )
    .await;
    assert_eq!((status, body.len()), (StatusCode::OK, 10));
}

#[tokio::test]
async fn answers_conditional_requests_with_304() {
    let stack = Stack::start().await;
    let content = stack.upload("a.txt", b"cache me").await;
    let (_, headers, _) = get(&stack, &content, &[]).await;
    let etag = headers[header::ETAG].to_str().unwrap().to_owned();
    let last_modified = headers[header::LAST_MODIFIED].to_str().unwrap().to_owned();

    let (status, headers, body) = get(&stack, &content, &[(header::IF_NONE_MATCH, &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(headers[header::ETAG].to_str().unwrap(), etag);

    let (status, _, _) = get(
        &stack,
        &content,
        &[(header::IF_MODIFIED_SINCE, &last_modified)],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, _, _) = get(
        &stack,
        &content,
        &[(header::IF_NONE_MATCH, "\"something-else\"")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // New bytes, new tag: the old one no longer matches.
    stack
        .client
        .replace_stream(content.id, services::body("fresh"), Some(5), None, None)
        .await
        .unwrap();
    let (status, _, body) = get(&stack, &content, &[(header::IF_NONE_MATCH, &etag)]).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"fresh"[..]));
}

#[tokio::test]
async fn head_gives_the_headers_alone() {
    let stack = Stack::start().await;
    let content = stack.upload("a.bin", b"12345678").await;
    let response = stack.http.head(&content.uri).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_LENGTH], "8");
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/octet-stream"
    );
    assert!(response.bytes().await.unwrap().is_empty());

    let ranged = stack
        .http
        .head(&content.uri)
        .header(header::RANGE, "bytes=0-2")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged.headers()[header::CONTENT_LENGTH], "3");
}

#[tokio::test]
async fn redirects_to_a_copy_on_its_node() {
    let stack = Stack::start().await;
    let content = stack.upload("a.txt", b"straight from the node").await;
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_follow
        .get(format!("{}&redirect=1", content.uri))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    let location = response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    // A node URL, signed (see `sealed` for what the node checks).
    let holder = &stack.nodes[services::node_index(content.replicas[0].node.as_str())];
    assert!(
        location.starts_with(&format!("{}/blobs/", holder.url)),
        "{location}"
    );
    let bytes = fetch::bytes(stack.http.get(&location)).await;
    assert_eq!(&bytes[..], b"straight from the node");
}
