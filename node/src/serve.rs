//! `GET`/`HEAD /blobs/{key}`: a blob's bytes, whole or one range.
//!
//! Bytes are read in whole blocks ([`BLOCK`]), each checked against its sum
//! before any of it is sent; a range is cut from the blocks it touches. A
//! block that fails its check ends the answer: before the status, if it is
//! the only block, with an error; else the body stops after the last good
//! block and the connection is cut, so the reader sees a short body, never
//! a wrong byte.
//!
//! File system calls block, so tokio's file type runs each on its blocking
//! pool: two thread switches per call, several calls per request (open,
//! stat, every read). For a small blob that costs more than the work.
//! So opening, measuring and, for a part within one block, reading and
//! checking that block are done right on the runtime's thread, as nginx
//! does on its event loop: from the page cache they take microseconds (and
//! the CRC32C of 64 KiB a few more). Only the reads of a larger part go to
//! the blocking pool, one block at a time: with 64 clients reading at once,
//! each read buffer costs the node 64 times its size.
//!
//! On a node whose blobs are mostly not in the page cache, a small read
//! can hold a runtime thread for one disk access; the measurements in the
//! README's "Benchmark" are why this trade was made.

use std::io;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use cdn_common::BlobKey;
use futures::Stream;

use crate::store::{BLOCK, BlobStore, OpenBlob};

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

/// Serves the blob `key`; `Ok(None)` when there is none.
pub async fn blob(
    store: &Arc<BlobStore>,
    key: &BlobKey,
    method: &Method,
    headers: &HeaderMap,
) -> io::Result<Option<Response>> {
    let range = headers
        .get(header::RANGE)
        .and_then(|value| value.to_str().ok());
    let blob = match store.open_blob(key) {
        Ok(blob) => blob,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    let len = blob.len();

    let mut response_headers = HeaderMap::new();
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    response_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let (status, first, last) = match portion(range, len) {
        Portion::Unsatisfiable => {
            response_headers.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{len}"))
                    .expect("digits are a valid header value"),
            );
            return Ok(Some(
                (StatusCode::RANGE_NOT_SATISFIABLE, response_headers).into_response(),
            ));
        }
        Portion::Whole => (StatusCode::OK, 0, len.checked_sub(1)),
        Portion::Range(first, last) => {
            response_headers.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes {first}-{last}/{len}"))
                    .expect("digits are a valid header value"),
            );
            (StatusCode::PARTIAL_CONTENT, first, Some(last))
        }
    };
    let count = last.map_or(0, |last| last - first + 1);
    response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    let body = match last {
        Some(last) if method != Method::HEAD => {
            if first / BLOCK == last / BLOCK {
                let index = first / BLOCK;
                Body::from(part_of(blob.read_block(index)?, index, first, last))
            } else {
                Body::from_stream(checked_blocks(blob, first, last))
            }
        }
        _ => Body::empty(),
    };
    Ok(Some((status, response_headers, body).into_response()))
}

/// The bytes `first..=last` of the blob, read and checked a block at a time
/// on the blocking pool. It ends after the first error, so no byte after a
/// bad block is ever sent in its place.
fn checked_blocks(
    blob: OpenBlob,
    first: u64,
    last: u64,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    let blob = Arc::new(blob);
    futures::stream::try_unfold(first / BLOCK, move |index| {
        let blob = blob.clone();
        async move {
            if index > last / BLOCK {
                return Ok(None);
            }
            let block = tokio::task::spawn_blocking(move || blob.read_block(index))
                .await
                .map_err(io::Error::other)??;
            Ok(Some((part_of(block, index, first, last), index + 1)))
        }
    })
}

/// What of block `index` lies within `first..=last`.
fn part_of(block: Bytes, index: u64, first: u64, last: u64) -> Bytes {
    let start = index * BLOCK;
    let from = first.saturating_sub(start) as usize;
    let to = ((last + 1 - start) as usize).min(block.len());
    block.slice(from..to)
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

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

    /// A store holding `blobs`, by name.
    async fn stored(dir: &std::path::Path, blobs: &[(&str, &[u8])]) -> Arc<BlobStore> {
        let store = Arc::new(BlobStore::open(dir, 1 << 30).await.unwrap());
        for (name, bytes) in blobs {
            let body = futures::stream::iter([Ok::<_, io::Error>(Bytes::copy_from_slice(bytes))]);
            store.write(&key(name), None, body).await.unwrap();
        }
        store
    }

    fn key(name: &str) -> BlobKey {
        BlobKey::parse(name).unwrap()
    }

    /// The answer's status and headers, the body bytes received, and
    /// whether the body ended with an error.
    async fn get_cut(
        store: &Arc<BlobStore>,
        name: &str,
        range: Option<&str>,
    ) -> io::Result<(StatusCode, HeaderMap, Vec<u8>, bool)> {
        let mut headers = HeaderMap::new();
        if let Some(range) = range {
            headers.insert(header::RANGE, HeaderValue::from_str(range).unwrap());
        }
        let response = blob(store, &key(name), &Method::GET, &headers)
            .await?
            .unwrap();
        let (parts, body) = response.into_parts();
        let mut body = body.into_data_stream();
        let mut received = Vec::new();
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(chunk) => received.extend_from_slice(&chunk),
                Err(_) => return Ok((parts.status, parts.headers, received, true)),
            }
        }
        Ok((parts.status, parts.headers, received, false))
    }

    async fn get(
        store: &Arc<BlobStore>,
        name: &str,
        range: Option<&str>,
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        let (status, headers, bytes, cut) = get_cut(store, name, range).await.unwrap();
        assert!(!cut, "the body of {name} {range:?} was cut");
        (status, headers, bytes)
    }

    /// Bytes that differ from block to block and within each.
    fn content(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    #[tokio::test]
    async fn serves_small_and_large_blobs_whole_and_in_part() {
        let dir = tempfile::tempdir().unwrap();
        let large = content(12 * BLOCK as usize + 5);
        let store = stored(
            dir.path(),
            &[("small", b"hello world"), ("large", &large), ("empty", b"")],
        )
        .await;
        let (status, headers, bytes) = get(&store, "small", None).await;
        assert_eq!((status, &bytes[..]), (StatusCode::OK, &b"hello world"[..]));
        assert_eq!(headers[header::CONTENT_LENGTH], "11");
        let (status, headers, bytes) = get(&store, "small", Some("bytes=6-")).await;
        assert_eq!(
            (status, &bytes[..]),
            (StatusCode::PARTIAL_CONTENT, &b"world"[..])
        );
        assert_eq!(headers[header::CONTENT_RANGE], "bytes 6-10/11");
        let (status, headers, _) = get(&store, "small", Some("bytes=20-")).await;
        assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(headers[header::CONTENT_RANGE], "bytes */11");

        let (status, _, bytes) = get(&store, "large", None).await;
        assert_eq!((status, bytes.len()), (StatusCode::OK, large.len()));
        assert_eq!(bytes, large);
        // Within one block, across a boundary, and over many blocks.
        for (first, last) in [
            (70_000, 70_010),
            (65_530, 65_545),
            (100_000, 700_000),
            (0, 65_535),
            (12 * BLOCK, 12 * BLOCK + 4),
        ] {
            let range = format!("bytes={first}-{last}");
            let (_, _, bytes) = get(&store, "large", Some(&range)).await;
            assert_eq!(bytes, &large[first as usize..=last as usize], "{range}");
        }

        let (status, headers, bytes) = get(&store, "empty", None).await;
        assert_eq!((status, bytes.len()), (StatusCode::OK, 0));
        assert_eq!(headers[header::CONTENT_LENGTH], "0");
    }

    #[tokio::test]
    async fn head_sends_the_length_only_and_a_missing_blob_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = stored(dir.path(), &[("blob", b"hello world")]).await;
        let response = blob(&store, &key("blob"), &Method::HEAD, &HeaderMap::new())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(response.headers()[header::CONTENT_LENGTH], "11");
        let missing = blob(&store, &key("nope"), &Method::GET, &HeaderMap::new()).await;
        assert!(missing.unwrap().is_none());
    }

    #[tokio::test]
    async fn no_byte_of_a_bad_block_is_sent_whole_or_in_part() {
        let dir = tempfile::tempdir().unwrap();
        let large = content(5 * BLOCK as usize + 100);
        let store = stored(dir.path(), &[("large", &large), ("small", b"hello")]).await;
        let bad = 3 * BLOCK as usize;
        for (name, at) in [("large", bad + 1000), ("small", 1)] {
            let path = dir.path().join("blobs").join(name);
            let mut bytes = std::fs::read(&path).unwrap();
            bytes[at] ^= 0x01;
            std::fs::write(path, bytes).unwrap();
        }

        // Parts that end before the bad block or start after it are whole.
        for (first, last) in [
            (0, bad - 1),
            (10, 20),
            (4 * BLOCK as usize, large.len() - 1),
        ] {
            let range = format!("bytes={first}-{last}");
            let (_, _, bytes) = get(&store, "large", Some(&range)).await;
            assert_eq!(bytes, &large[first..=last], "{range}");
        }
        // Parts that reach it stop after the last good block, cut.
        for (range, first) in [
            (None, 0),
            (Some("bytes=70000-"), 70_000),
            (Some("bytes=196608-"), bad),
        ] {
            let (_, headers, bytes, cut) = get_cut(&store, "large", range).await.unwrap();
            assert!(cut, "{range:?}");
            assert_eq!(bytes, &large[first..bad], "{range:?}");
            assert_ne!(
                headers[header::CONTENT_LENGTH],
                bytes.len().to_string().as_str()
            );
        }
        // A part within the bad block alone is refused before any byte.
        for (name, range) in [("large", Some("bytes=200000-200010")), ("small", None)] {
            let err = get_cut(&store, name, range).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{name}");
        }
        assert!(
            store
                .inventory()
                .await
                .unwrap()
                .iter()
                .all(|blob| blob.corrupt)
        );
    }

    /// What checking costs a read: GETs of a 4 KiB and a 1 MiB blob with
    /// block sums and without (a record from before they were kept), timed
    /// in the same build. Prints its figures; run with `--ignored
    /// --nocapture`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "a measurement, not a check"]
    async fn timing_of_checked_and_unchecked_reads() {
        let dir = tempfile::tempdir().unwrap();
        let (small, large) = (content(4096), content(1 << 20));
        let store = stored(
            dir.path(),
            &[
                ("small", &small),
                ("large", &large),
                ("small-old", &small),
                ("large-old", &large),
            ],
        )
        .await;
        for (name, bytes) in [("small-old", &small), ("large-old", &large)] {
            let digest = cdn_common::Sha256::of(bytes).to_hex();
            std::fs::write(dir.path().join("sums").join(name), digest).unwrap();
        }
        for (name, rounds) in [
            ("small", 20_000),
            ("small-old", 20_000),
            ("large", 500),
            ("large-old", 500),
        ] {
            let size = store.open_blob(&key(name)).unwrap().len() as f64;
            let started = std::time::Instant::now();
            for _ in 0..rounds {
                get(&store, name, None).await;
            }
            let took = started.elapsed().as_secs_f64();
            eprintln!(
                "{name:>9}: {:7.1} µs per GET, {:6.0} MiB/s",
                took * 1e6 / rounds as f64,
                size * rounds as f64 / took / (1 << 20) as f64
            );
        }
        let started = std::time::Instant::now();
        let mut sum = 0;
        for _ in 0..1000 {
            sum ^= crc32c::crc32c(&large);
        }
        let took = started.elapsed().as_secs_f64();
        eprintln!("CRC32C alone: {:.0} MiB/s ({sum})", 1000.0 / took);
    }
}
