//! Negotiated compression: text-like answers in the coding the client
//! prefers, with a weak `ETag` and `Vary: Accept-Encoding`; never a range,
//! never an image or an archive; streamed, in bounded memory.

use std::io::{Read, Write};
use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};
use testkit::services::{Children, Stack, StackConfig};

/// Some text, long and repetitive enough to compress well.
fn text() -> String {
    (0..400)
        .map(|i| format!("line {i}: Grüße aus dem Netz, the quick brown fox.\n"))
        .collect()
}

async fn get(
    method: Method,
    url: &str,
    headers: &[(header::HeaderName, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = reqwest::Client::new().request(method, url);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

/// The body as sent, decoded by its `Content-Encoding`.
fn decoded(headers: &HeaderMap, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap())
    {
        None => out.extend_from_slice(body),
        Some("gzip") => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap();
        }
        Some("br") => {
            brotli_decompressor::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        Some("zstd") => out = zstd::decode_all(body).unwrap(),
        Some(other) => panic!("unexpected coding {other}"),
    }
    out
}

fn encoding(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_ENCODING)
        .map(|value| value.to_str().unwrap())
}

fn varies_by_encoding(headers: &HeaderMap) -> bool {
    headers.get_all(header::VARY).iter().any(|value| {
        value
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("accept-encoding")
    })
}

#[tokio::test]
async fn text_goes_in_the_coding_the_client_prefers() {
    let stack = Stack::start().await;
    let text = text();
    let content = stack.upload("notes.txt", &text).await;
    let strong = format!("\"{}\"", content.sha256);
    let weak = format!("W/{strong}");

    for (accepted, expected) in [
        (None, None),
        (Some("gzip"), Some("gzip")),
        (Some("br"), Some("br")),
        (Some("zstd"), Some("zstd")),
        (Some("gzip;q=0.5, br;q=0.9, zstd;q=0.1"), Some("br")),
        (Some("gzip;q=1.0, br;q=0.2"), Some("gzip")),
        (Some("zstd, gzip;q=0"), Some("zstd")),
        (Some("br;q=0, gzip;q=0, zstd;q=0"), None),
        (Some("identity"), None),
        (Some("compress, deflate"), None),
    ] {
        let headers: Vec<_> = accepted
            .map(|value| (header::ACCEPT_ENCODING, value))
            .into_iter()
            .collect();
        let (status, got, body) = get(Method::GET, &content.uri, &headers).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(encoding(&got), expected, "{accepted:?}");
        assert_eq!(decoded(&got, &body), text.as_bytes(), "{accepted:?}");
        assert!(varies_by_encoding(&got), "{accepted:?}");
        assert_eq!(got[header::CONTENT_TYPE], "text/plain; charset=utf-8");
        assert_eq!(
            got[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        if expected.is_some() {
            // Another representation: a weak tag, and a length unknown ahead.
            assert_eq!(got[header::ETAG], weak.as_str(), "{accepted:?}");
            assert!(body.len() < text.len() / 2, "{accepted:?}: {}", body.len());
            assert!(!got.contains_key(header::CONTENT_LENGTH));
        } else {
            assert_eq!(got[header::ETAG], strong.as_str(), "{accepted:?}");
            assert_eq!(got[header::CONTENT_LENGTH], text.len().to_string().as_str());
        }

        // HEAD says what GET says, without a body.
        let (status, head, body) = get(Method::HEAD, &content.uri, &headers).await;
        assert_eq!((status, body.len()), (StatusCode::OK, 0));
        for name in [
            header::CONTENT_ENCODING,
            header::ETAG,
            header::VARY,
            header::CONTENT_TYPE,
            header::CACHE_CONTROL,
            header::CONTENT_LENGTH,
        ] {
            assert_eq!(head.get(&name), got.get(&name), "HEAD {name} {accepted:?}");
        }

        // Either tag the client holds revalidates; the 304 carries the
        // headers of this representation.
        for held in [&strong, &weak] {
            let mut conditional = headers.clone();
            conditional.push((header::IF_NONE_MATCH, held));
            let (status, unchanged, body) = get(Method::GET, &content.uri, &conditional).await;
            assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0));
            assert_eq!(unchanged.get(header::ETAG), got.get(header::ETAG));
            assert_eq!(
                unchanged.get(header::CACHE_CONTROL),
                got.get(header::CACHE_CONTROL)
            );
            assert!(varies_by_encoding(&unchanged), "304 {accepted:?}");
            assert!(!unchanged.contains_key(header::CONTENT_ENCODING));
        }
    }
}

#[tokio::test]
async fn ranges_images_archives_and_tiny_bodies_go_as_stored() {
    let stack = Stack::start().await;
    let gzip = [(header::ACCEPT_ENCODING, "gzip, br, zstd")];
    let text = text();
    let notes = stack.upload("notes.txt", &text).await;

    // A range is of the stored bytes, with their strong tag.
    let mut ranged = gzip.to_vec();
    ranged.push((header::RANGE, "bytes=0-99"));
    let (status, headers, body) = get(Method::GET, &notes.uri, &ranged).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(encoding(&headers), None);
    assert_eq!(&body[..], &text.as_bytes()[..100]);
    assert_eq!(
        headers[header::ETAG].to_str().unwrap(),
        format!("\"{}\"", notes.sha256)
    );
    // A weak tag in If-Range never names the stored bytes: the whole comes.
    let weak = format!("W/\"{}\"", notes.sha256);
    ranged.push((header::IF_RANGE, &weak));
    let (status, headers, body) = get(Method::GET, &notes.uri, &ranged).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(decoded(&headers, &body), text.as_bytes());

    let packed = text.repeat(4);
    for name in [
        "photo.png",
        "clip.mp4",
        "bundle.zip",
        "notes.txt.gz",
        "blob.bin",
    ] {
        let content = stack.upload(name, &packed).await;
        let (status, headers, body) = get(Method::GET, &content.uri, &gzip).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            encoding(&headers),
            None,
            "{name} ({})",
            content.content_type
        );
        assert!(!varies_by_encoding(&headers), "{name}");
        assert_eq!(body, packed.as_bytes(), "{name}");
    }
    let tiny = stack.upload("tiny.txt", "hello").await;
    let (_, headers, body) = get(Method::GET, &tiny.uri, &gzip).await;
    assert_eq!((encoding(&headers), &body[..]), (None, &b"hello"[..]));
}

#[tokio::test]
async fn json_answers_are_compressed_too() {
    let stack = Stack::start().await;
    for i in 0..10 {
        stack.upload(&format!("file-{i}.txt"), "x").await;
    }
    let listing = stack.url("/content");
    let (status, headers, body) = {
        let response = stack
            .http
            .get(&listing)
            .header(header::ACCEPT_ENCODING, "gzip")
            .send()
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        (status, headers, response.bytes().await.unwrap().to_vec())
    };
    assert_eq!(status, StatusCode::OK);
    assert_eq!(encoding(&headers), Some("gzip"));
    assert!(varies_by_encoding(&headers));
    let list: serde_json::Value = serde_json::from_slice(&decoded(&headers, &body)).unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 10);
    // Without Accept-Encoding, plain JSON.
    let (_, headers, body) = get(Method::GET, &stack.url("/nodes"), &[]).await;
    assert_eq!(encoding(&headers), None);
    serde_json::from_slice::<serde_json::Value>(&body).unwrap();
}

const LARGE: u64 = 320 * 1024 * 1024;
const CHUNK: usize = 1024 * 1024;

/// Text made as it is sent: numbered lines, one chunk at a time.
fn large_text() -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    futures::stream::iter(0..LARGE as usize / CHUNK).map(|chunk| {
        let mut text = String::with_capacity(CHUNK);
        let mut line = 0;
        while text.len() < CHUNK {
            text.push_str(&format!(
                "chunk {chunk} line {line}: Grüße, the quick brown fox.\n"
            ));
            line += 1;
        }
        text.truncate(CHUNK);
        Ok(Bytes::from(text))
    })
}

/// Hashes and counts what is written to it.
#[derive(Default)]
struct Digesting {
    hasher: Sha256,
    size: u64,
}

impl Write for Digesting {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Decodes a body as it arrives, into a [`Digesting`] writer.
enum Decoding {
    Gzip(flate2::write::GzDecoder<Digesting>),
    Br(Box<brotli_decompressor::DecompressorWriter<Digesting>>),
    Zstd(zstd::stream::write::Decoder<'static, Digesting>),
}

impl Decoding {
    fn new(coding: &str) -> Self {
        match coding {
            "gzip" => Decoding::Gzip(flate2::write::GzDecoder::new(Digesting::default())),
            "br" => Decoding::Br(Box::new(brotli_decompressor::DecompressorWriter::new(
                Digesting::default(),
                64 * 1024,
            ))),
            "zstd" => {
                Decoding::Zstd(zstd::stream::write::Decoder::new(Digesting::default()).unwrap())
            }
            other => panic!("no decoder for {other}"),
        }
    }

    fn write(&mut self, chunk: &[u8]) {
        match self {
            Decoding::Gzip(decoder) => decoder.write_all(chunk),
            Decoding::Br(decoder) => decoder.write_all(chunk),
            Decoding::Zstd(decoder) => decoder.write_all(chunk),
        }
        .unwrap()
    }

    fn finish(self) -> Digesting {
        match self {
            Decoding::Gzip(decoder) => decoder.finish().unwrap(),
            Decoding::Br(mut decoder) => {
                decoder.flush().unwrap();
                decoder
                    .into_inner()
                    .unwrap_or_else(|_| panic!("brotli ended early"))
            }
            Decoding::Zstd(decoder) => decoder.finish().unwrap(),
        }
    }
}

#[tokio::test]
#[ignore = "long: scripts/test runs it"]
async fn a_large_text_streams_compressed_in_bounded_memory() {
    let stack = Stack::start_with(StackConfig {
        children: Children::ALL,
        ..StackConfig::default()
    })
    .await;
    let mut expected = Sha256::new();
    let mut sent = large_text();
    while let Some(chunk) = sent.next().await {
        expected.update(chunk.unwrap());
    }
    let expected = expected.finalize();
    let content = stack
        .client
        .upload_stream(large_text(), Some(LARGE), "large.txt", None)
        .await
        .unwrap();

    for coding in ["gzip", "br", "zstd"] {
        let started = Instant::now();
        let response = reqwest::Client::new()
            .get(&content.uri)
            .header(header::ACCEPT_ENCODING, coding)
            .send()
            .await
            .unwrap();
        assert_eq!(encoding(response.headers()), Some(coding));
        let mut decoder = Decoding::new(coding);
        let mut compressed = 0u64;
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.unwrap();
            compressed += chunk.len() as u64;
            decoder.write(&chunk);
        }
        let received = decoder.finish();
        assert_eq!(received.size, LARGE, "{coding}");
        assert_eq!(received.hasher.finalize(), expected, "{coding}");
        let peak = stack.dist.peak_rss();
        eprintln!(
            "{} MiB of text as {} MiB of {coding} in {:.1} s; distributor peak RSS so far {:.1} MiB",
            LARGE >> 20,
            compressed >> 20,
            started.elapsed().as_secs_f64(),
            peak as f64 / (1024.0 * 1024.0)
        );
        assert!(compressed < LARGE / 4, "{coding}: {compressed} bytes");
        // Far below the text's size: each coding's window and tables only.
        assert!(
            peak < LARGE / 6,
            "{coding}: the distributor peaked at {peak} bytes"
        );
    }
}

/// On the wire, a `HEAD` and a `304` send a head and nothing else, compressed
/// representation or not: the next answer on the connection starts right
/// after them.
#[tokio::test]
async fn head_and_304_answers_carry_no_body_on_the_wire() {
    let stack = Stack::start().await;
    let text = text();
    let content = stack.upload("notes.txt", &text).await;
    let path = format!("/content/{}/data", content.id);
    let etag = format!("\"{}\"", content.sha256);
    let requests = format!(
        "HEAD {path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n\
         GET {path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nIf-None-Match: {etag}\r\n\r\n\
         GET {path} HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\n\r\n\
         GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let (head, rest) = testkit::raw::exchange(
        stack.dist.addr(),
        requests.as_bytes(),
        std::time::Duration::from_secs(10),
    )
    .await;
    let mut heads = vec![head.head];
    let mut rest = rest.as_str();
    for _ in 0..3 {
        let end = rest.find("\r\n\r\n").expect("another answer") + 4;
        heads.push(rest[..end].to_owned());
        rest = &rest[end..];
    }
    assert_eq!(rest, text, "{heads:#?}");
    let header = |head: &str, name: &str| {
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    let statuses: Vec<&str> = heads
        .iter()
        .map(|head| head.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(statuses, ["200", "304", "304", "200"], "{heads:#?}");
    assert_eq!(
        header(&heads[0], "content-encoding").as_deref(),
        Some("gzip")
    );
    for head in &heads[..3] {
        assert_eq!(header(head, "transfer-encoding"), None, "{head}");
        assert!(
            header(head, "content-length").is_none_or(|length| length != "0"),
            "{head}"
        );
    }
    assert_eq!(header(&heads[1], "etag"), Some(format!("W/{etag}")));
    assert_eq!(header(&heads[2], "etag"), Some(etag));
}
