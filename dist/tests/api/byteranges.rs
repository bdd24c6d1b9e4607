//! Several ranges at once: a `multipart/byteranges` answer, checked byte
//! for byte, and range sets that cannot make one request cost many node
//! reads.

use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode};
use testkit::services::{Children, Stack, StackConfig, node_index};

use crate::observability::{sample, scrape_until};

/// Deterministic bytes that differ from one position to the next.
fn numbered(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 7 % 251) as u8).collect()
}

async fn ranged(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    range: &str,
    extra: &[(header::HeaderName, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = http.request(method, url).header(header::RANGE, range);
    for (name, value) in extra {
        request = request.header(name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

/// One part of a `multipart/byteranges` body.
#[derive(Debug, PartialEq, Eq)]
struct Part {
    content_type: String,
    /// `Content-Range`: first, last, size.
    range: (u64, u64, u64),
    bytes: Vec<u8>,
}

/// Reads a `multipart/byteranges` body strictly (RFC 9110 §14.6, RFC
/// 2046): every delimiter, header and line end where it must be, and
/// nothing after the closing delimiter.
fn parse_multipart(content_type: &str, body: &[u8]) -> Vec<Part> {
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("not multipart/byteranges: {content_type}"));
    let delimiter = format!("--{boundary}\r\n");
    let closing = format!("--{boundary}--\r\n");
    let mut rest = body;
    let mut parts = Vec::new();
    while !rest.starts_with(closing.as_bytes()) {
        rest = rest
            .strip_prefix(delimiter.as_bytes())
            .unwrap_or_else(|| panic!("no delimiter at {}", body.len() - rest.len()));
        let end = rest
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .expect("the part's headers end");
        let head = std::str::from_utf8(&rest[..end]).unwrap();
        rest = &rest[end + 4..];
        let mut content_type = None;
        let mut range = None;
        for line in head.split("\r\n") {
            let (name, value) = line.split_once(": ").expect("a header line");
            match name.to_ascii_lowercase().as_str() {
                "content-type" => content_type = Some(value.to_owned()),
                "content-range" => {
                    let spec = value.strip_prefix("bytes ").unwrap();
                    let (positions, size) = spec.split_once('/').unwrap();
                    let (first, last) = positions.split_once('-').unwrap();
                    range = Some((
                        first.parse().unwrap(),
                        last.parse().unwrap(),
                        size.parse().unwrap(),
                    ));
                }
                other => panic!("unexpected part header {other}"),
            }
        }
        let range: (u64, u64, u64) = range.expect("each part has a Content-Range");
        let length = (range.1 - range.0 + 1) as usize;
        let bytes = rest[..length].to_vec();
        rest = rest[length..]
            .strip_prefix(b"\r\n")
            .expect("a line end after the part's bytes");
        parts.push(Part {
            content_type: content_type.expect("each part has a Content-Type"),
            range,
            bytes,
        });
    }
    assert_eq!(
        rest,
        closing.as_bytes(),
        "nothing after the closing delimiter"
    );
    parts
}

fn part(content: &[u8], content_type: &str, first: u64, last: u64) -> Part {
    Part {
        content_type: content_type.to_owned(),
        range: (first, last, content.len() as u64),
        bytes: content[first as usize..=last as usize].to_vec(),
    }
}

#[tokio::test]
async fn several_ranges_come_as_multipart_byteranges() {
    let stack = Stack::start().await;
    let anonymous = reqwest::Client::new();
    let content = numbered(10_000);
    let stored = stack.upload("numbers.bin", &content).await;
    let range = "bytes=9990-,0-9,5000-5099";

    let (status, headers, body) = ranged(&anonymous, Method::GET, &stored.uri, range, &[]).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    let content_type = headers[header::CONTENT_TYPE].to_str().unwrap();
    assert!(!headers.contains_key(header::CONTENT_RANGE));
    assert_eq!(
        headers[header::CONTENT_LENGTH],
        body.len().to_string().as_str()
    );
    let octets = "application/octet-stream";
    assert_eq!(
        parse_multipart(content_type, &body),
        vec![
            part(&content, octets, 0, 9),
            part(&content, octets, 5000, 5099),
            part(&content, octets, 9990, 9999),
        ]
    );
    // The validators and the cache policy are those of the content.
    assert_eq!(
        headers[header::ETAG].to_str().unwrap(),
        format!("\"{}\"", stored.sha256)
    );
    assert_eq!(
        headers[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );

    // HEAD: the same headers, the same length, no body.
    let (status, head, body) = ranged(&anonymous, Method::HEAD, &stored.uri, range, &[]).await;
    assert_eq!((status, body.len()), (StatusCode::PARTIAL_CONTENT, 0));
    assert_eq!(
        head[header::CONTENT_LENGTH],
        headers[header::CONTENT_LENGTH]
    );
    assert!(
        head[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("multipart/byteranges; boundary=")
    );

    // Text: each part says its type, and nothing is compressed.
    let text = "Grüße, ".repeat(500);
    let stored = stack.upload("greetings.txt", &text).await;
    let gzip = [(header::ACCEPT_ENCODING, "gzip, br, zstd")];
    let (status, headers, body) =
        ranged(&anonymous, Method::GET, &stored.uri, "bytes=0-6,-7", &gzip).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert!(!headers.contains_key(header::CONTENT_ENCODING));
    let plain = "text/plain; charset=utf-8";
    let size = text.len() as u64;
    assert_eq!(
        parse_multipart(headers[header::CONTENT_TYPE].to_str().unwrap(), &body),
        vec![
            part(text.as_bytes(), plain, 0, 6),
            part(text.as_bytes(), plain, size - 7, size - 1),
        ]
    );

    // None of them within the content: 416, as for one range.
    let (status, headers, _) = ranged(
        &anonymous,
        Method::GET,
        &stored.uri,
        "bytes=99999-,88888-",
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        headers[header::CONTENT_RANGE],
        format!("bytes */{size}").as_str()
    );
}

/// Overlapping ranges are read once, ranges far apart each once up to a
/// limit, and past it the whole content once: counted on the node.
#[tokio::test]
async fn no_range_set_costs_more_than_sixteen_node_reads() {
    // Child processes: the node's metrics are its own. Without the
    // hot-object cache, which would read the object once whatever the
    // ranges: this is the bound of the streamed path.
    let stack = Stack::start_with(StackConfig {
        children: Children::ALL,
        dist_env: vec![("CACHE_SIZE", "0".to_owned())],
        ..StackConfig::default()
    })
    .await;
    let anonymous = reqwest::Client::new();
    let content = numbered(64 * 1024);
    let stored = stack.upload("numbers.bin", &content).await;

    let overlapping = format!("bytes={}", vec!["0-"; 1000].join(","));
    let (status, headers, body) =
        ranged(&anonymous, Method::GET, &stored.uri, &overlapping, &[]).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(headers[header::CONTENT_RANGE], "bytes 0-65535/65536");
    assert_eq!(body, content);

    // Ranges 2 KiB apart are not merged: sixteen parts, sixteen reads.
    let spread = |count: u64| {
        let specs: Vec<String> = (0..count)
            .map(|i| format!("{}-{}", i * 2048, i * 2048 + 9))
            .collect();
        format!("bytes={}", specs.join(","))
    };
    let (status, headers, body) =
        ranged(&anonymous, Method::GET, &stored.uri, &spread(16), &[]).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    let parts = parse_multipart(headers[header::CONTENT_TYPE].to_str().unwrap(), &body);
    assert_eq!(parts.len(), 16);
    for (i, got) in parts.iter().enumerate() {
        let first = i as u64 * 2048;
        assert_eq!(
            got,
            &part(&content, "application/octet-stream", first, first + 9)
        );
    }
    // Seventeen: the whole content, as for no range at all.
    let (status, headers, body) =
        ranged(&anonymous, Method::GET, &stored.uri, &spread(17), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!headers.contains_key(header::CONTENT_RANGE));
    assert_eq!(body, content);

    // The node saw 1 + 16 + 1 reads (the distributor always asks for a range).
    let node = &stack.nodes[node_index(stored.replicas[0].node.as_str())];
    let reads = r#"cdn_http_requests_total{method="GET",route="/blobs/{key}",status="206"}"#;
    let metrics = format!("{}/metrics", node.url);
    scrape_until(&stack.node_http, &metrics, |body| {
        sample(body, reads).is_some_and(|count| count >= 18.0)
    })
    .await;
    // A moment later, still no more.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let body = scrape_until(&stack.node_http, &metrics, |_| true).await;
    assert_eq!(sample(&body, reads), Some(18.0), "{body}");
}
