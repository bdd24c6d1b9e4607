//! `cdn bench`: one large upload and its download through the distributor,
//! timed each way. `scripts/bench` runs it beside an HTTP load generator
//! for the small requests.
//!
//! The bytes are made on the fly, so neither the local disk nor the
//! client's memory limits what is measured: one buffer of [`CHUNK`] bytes
//! is sent again and again. The download is counted but not hashed, which
//! would spend on this side the CPU that the servers share with it; the
//! upload's SHA-256, checked by the distributor and the node, must match
//! the one computed here before the timing starts.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use bytes::Bytes;
use cdn_client::Client;
use cdn_common::{ByteSize, Hasher, Sha256};
use futures::StreamExt;
use serde::Serialize;

use super::Output;
use super::render::human_size;

/// Bytes per chunk of the upload body: what the client library reads from
/// a file at a time.
const CHUNK: usize = 256 * 1024;

/// What one run measured; `--json` prints it as is.
#[derive(Debug, Serialize)]
pub struct Transfer {
    pub bytes: u64,
    pub upload_seconds: f64,
    /// Megabytes (10^6 bytes) per second.
    pub upload_mb_per_s: f64,
    pub download_seconds: f64,
    pub download_mb_per_s: f64,
}

pub async fn run(client: &Client, out: &Output, size: ByteSize, keep: bool) -> anyhow::Result<()> {
    let bytes = size.bytes();
    ensure!(bytes > 0, "--size must be at least one byte");
    let chunk = pattern(CHUNK);
    let expected_sha256 = digest_of(&chunk, bytes);

    let started = Instant::now();
    let content = client
        .upload_stream(body(chunk, bytes), Some(bytes), "cdn-bench.bin", None)
        .await
        .context("uploading")?;
    let upload = started.elapsed();
    if content.size != bytes || content.sha256 != expected_sha256 {
        bail!(
            "the upload was stored as {} bytes with SHA-256 {}, not {bytes} with {expected_sha256}",
            content.size,
            content.sha256
        );
    }

    let started = Instant::now();
    let mut stream = client
        .download_stream(content.id)
        .await
        .context("downloading")?;
    let mut received = 0u64;
    while let Some(chunk) = stream.next().await {
        received += chunk.context("downloading")?.len() as u64;
    }
    let download = started.elapsed();
    ensure!(
        received == bytes,
        "the download gave {received} bytes, not {bytes}"
    );
    if !keep {
        client.delete(content.id).await.context("deleting")?;
    }

    let transfer = Transfer {
        bytes,
        upload_seconds: upload.as_secs_f64(),
        upload_mb_per_s: rate(bytes, upload),
        download_seconds: download.as_secs_f64(),
        download_mb_per_s: rate(bytes, download),
    };
    if out.json {
        return out.json(&transfer);
    }
    let size = human_size(bytes);
    out.line(format!(
        "upload    {size} in {:.2} s: {:.0} MB/s",
        transfer.upload_seconds, transfer.upload_mb_per_s
    ))?;
    out.line(format!(
        "download  {size} in {:.2} s: {:.0} MB/s",
        transfer.download_seconds, transfer.download_mb_per_s
    ))
}

/// Bytes that do not compress or repeat within a chunk (a simple
/// xorshift sequence), so no layer can take a shortcut.
fn pattern(len: usize) -> Bytes {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut bytes = Vec::with_capacity(len);
    while bytes.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(len);
    Bytes::from(bytes)
}

/// `total` bytes: `chunk` repeated, the last one cut short.
fn body(
    chunk: Bytes,
    total: u64,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let mut left = total;
    futures::stream::iter(std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let len = left.min(chunk.len() as u64) as usize;
        left -= len as u64;
        Some(Ok(chunk.slice(..len)))
    }))
}

/// The SHA-256 of what [`body`] sends.
fn digest_of(chunk: &Bytes, total: u64) -> Sha256 {
    let mut hasher = Hasher::default();
    let mut left = total;
    while left > 0 {
        let len = left.min(chunk.len() as u64) as usize;
        hasher.update(&chunk[..len]);
        left -= len as u64;
    }
    hasher.finish().sha256
}

/// Megabytes (10^6 bytes) per second.
fn rate(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_body_has_the_asked_length_and_the_digest_matches_it() {
        let chunk = pattern(1000);
        let sent: Vec<Bytes> = body(chunk.clone(), 2500)
            .map(Result::unwrap)
            .collect()
            .await;
        assert_eq!(
            sent.iter().map(Bytes::len).collect::<Vec<_>>(),
            [1000, 1000, 500]
        );
        let all: Vec<u8> = sent.concat();
        assert_eq!(digest_of(&chunk, 2500), Sha256::of(&all));
    }

    #[test]
    fn rates_are_in_megabytes_per_second() {
        assert_eq!(rate(500_000_000, Duration::from_secs(2)), 250.0);
    }
}
