//! `GET`/`HEAD /blobs/{key}`: a blob's bytes, whole or one range.
//!
//! File system calls block, so tokio's file type runs each on its blocking
//! pool: two thread switches per call, several calls per request (open,
//! stat, every read). For a small blob that costs more than the work.
//! So opening, measuring and, for a part up to [`READ_AT_ONCE`] bytes,
//! reading it are done right on the runtime's thread, as nginx does on its
//! event loop: from the page cache they take microseconds. Only the reads
//! of a larger part go to the blocking pool, [`CHUNK`] bytes at a time.
//!
//! On a node whose blobs are mostly not in the page cache, a small read
//! can hold a runtime thread for one disk access; the measurements in the
//! README's "Benchmark" are why this trade was made.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

/// A part of a blob up to this size is read whole in the hop that opens it.
const READ_AT_ONCE: u64 = 64 * 1024;

/// Bytes per read of a larger part: with 64 clients reading at once, each
/// read buffer costs the node 64 times its size.
const CHUNK: usize = 64 * 1024;

/// What the `Range` header asks of a blob of `len` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Portion {
    Whole,
    /// Inclusive byte positions.
    Range(u64, u64),
    Unsatisfiable,
}

/// One range is served as asked; several at once get the whole blob, which
/// RFC 9110 allows; a header that does not parse cannot be satisfied.
fn portion(range: Option<&str>, len: u64) -> Portion {
    let Some(range) = range else {
        return Portion::Whole;
    };
    let Ok(parsed) = http_range_header::parse_range_header(range) else {
        return Portion::Unsatisfiable;
    };
    match parsed.validate(len).as_deref() {
        Ok([one]) => Portion::Range(*one.start(), *one.end()),
        Ok(_) => Portion::Whole,
        Err(_) => Portion::Unsatisfiable,
    }
}

/// An open blob, positioned at the first byte to send.
struct Opened {
    file: std::fs::File,
    len: u64,
    portion: Portion,
    /// The bytes to send, when they were few enough to read at once.
    bytes: Option<Bytes>,
}

/// Serves the blob at `path`; `Ok(None)` when there is none.
pub async fn blob(
    path: PathBuf,
    method: &Method,
    headers: &HeaderMap,
) -> io::Result<Option<Response>> {
    let range = headers
        .get(header::RANGE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let head = method == Method::HEAD;
    let opened = match open(path, range.as_deref(), head) {
        Ok(opened) => opened,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };

    let mut response_headers = HeaderMap::new();
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    response_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let (status, first, last) = match opened.portion {
        Portion::Unsatisfiable => {
            response_headers.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{}", opened.len))
                    .expect("digits are a valid header value"),
            );
            return Ok(Some(
                (StatusCode::RANGE_NOT_SATISFIABLE, response_headers).into_response(),
            ));
        }
        Portion::Whole => (StatusCode::OK, 0, opened.len.checked_sub(1)),
        Portion::Range(first, last) => {
            response_headers.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes {first}-{last}/{}", opened.len))
                    .expect("digits are a valid header value"),
            );
            (StatusCode::PARTIAL_CONTENT, first, Some(last))
        }
    };
    let count = last.map_or(0, |last| last - first + 1);
    response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    let body = if head || count == 0 {
        Body::empty()
    } else if let Some(bytes) = opened.bytes {
        Body::from(bytes)
    } else {
        let file = tokio::fs::File::from_std(opened.file).take(count);
        Body::from_stream(ReaderStream::with_capacity(file, CHUNK))
    };
    Ok(Some((status, response_headers, body).into_response()))
}

/// Opens the blob, works out the portion asked for and, when it is small,
/// reads it.
fn open(path: PathBuf, range: Option<&str>, head: bool) -> io::Result<Opened> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let portion = portion(range, len);
    let (first, count) = match portion {
        Portion::Whole => (0, len),
        Portion::Range(first, last) => (first, last - first + 1),
        Portion::Unsatisfiable => (0, 0),
    };
    if first > 0 {
        file.seek(SeekFrom::Start(first))?;
    }
    let mut bytes = None;
    if !head && count > 0 && count <= READ_AT_ONCE {
        let mut buffer = vec![0; count as usize];
        file.read_exact(&mut buffer)?;
        bytes = Some(Bytes::from(buffer));
    }
    Ok(Opened {
        file,
        len,
        portion,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_range_and_refuses_what_cannot_be_served() {
        assert_eq!(portion(None, 10), Portion::Whole);
        assert_eq!(portion(Some("bytes=2-4"), 10), Portion::Range(2, 4));
        assert_eq!(portion(Some("bytes=6-"), 10), Portion::Range(6, 9));
        assert_eq!(portion(Some("bytes=-3"), 10), Portion::Range(7, 9));
        assert_eq!(portion(Some("bytes=0-1,4-5"), 10), Portion::Whole);
        assert_eq!(portion(Some("bytes=10-"), 10), Portion::Unsatisfiable);
        assert_eq!(portion(Some("lines=1-2"), 10), Portion::Unsatisfiable);
    }

    async fn get(path: &std::path::Path, range: Option<&str>) -> (StatusCode, HeaderMap, Bytes) {
        let mut headers = HeaderMap::new();
        if let Some(range) = range {
            headers.insert(header::RANGE, HeaderValue::from_str(range).unwrap());
        }
        let response = blob(path.to_owned(), &Method::GET, &headers)
            .await
            .unwrap()
            .unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        (parts.status, parts.headers, bytes)
    }

    #[tokio::test]
    async fn serves_small_and_large_blobs_whole_and_in_part() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small");
        std::fs::write(&small, b"hello world").unwrap();
        let (status, headers, bytes) = get(&small, None).await;
        assert_eq!((status, &bytes[..]), (StatusCode::OK, &b"hello world"[..]));
        assert_eq!(headers[header::CONTENT_LENGTH], "11");
        let (status, headers, bytes) = get(&small, Some("bytes=6-")).await;
        assert_eq!(
            (status, &bytes[..]),
            (StatusCode::PARTIAL_CONTENT, &b"world"[..])
        );
        assert_eq!(headers[header::CONTENT_RANGE], "bytes 6-10/11");
        let (status, headers, _) = get(&small, Some("bytes=20-")).await;
        assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(headers[header::CONTENT_RANGE], "bytes */11");

        let large = dir.path().join("large");
        let content: Vec<u8> = (0..12 * CHUNK + 5).map(|i| (i % 251) as u8).collect();
        std::fs::write(&large, &content).unwrap();
        let (status, _, bytes) = get(&large, None).await;
        assert_eq!((status, bytes.len()), (StatusCode::OK, content.len()));
        assert_eq!(&bytes[..], &content[..]);
        let (_, _, bytes) = get(&large, Some("bytes=100000-700000")).await;
        assert_eq!(&bytes[..], &content[100_000..=700_000]);

        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        let (status, headers, bytes) = get(&empty, None).await;
        assert_eq!((status, bytes.len()), (StatusCode::OK, 0));
        assert_eq!(headers[header::CONTENT_LENGTH], "0");
    }

    #[tokio::test]
    async fn head_sends_the_length_only_and_a_missing_blob_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        std::fs::write(&path, b"hello world").unwrap();
        let response = blob(path, &Method::HEAD, &HeaderMap::new())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(response.headers()[header::CONTENT_LENGTH], "11");
        let missing = blob(dir.path().join("nope"), &Method::GET, &HeaderMap::new()).await;
        assert!(missing.unwrap().is_none());
    }
}
