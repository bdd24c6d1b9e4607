//! A file larger than 256 MiB streams through the distributor to a node
//! and back while every service's memory stays far below its size.

use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};

use testkit::services::{Children, Stack, StackConfig, node_index};

const SIZE: u64 = 320 * 1024 * 1024;
const CHUNK: usize = 1024 * 1024;
const MIB: f64 = 1024.0 * 1024.0;

/// Deterministic bytes, different in every chunk, made as they are sent.
fn generated() -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let chunks = SIZE as usize / CHUNK;
    futures::stream::iter(0..chunks).map(|index| {
        let mut chunk = vec![(index % 251) as u8; CHUNK];
        chunk[..8].copy_from_slice(&(index as u64).to_le_bytes());
        Ok(Bytes::from(chunk))
    })
}

#[tokio::test]
#[ignore = "long: scripts/test runs it"]
async fn a_large_file_streams_through_in_bounded_memory() {
    // Child processes: each has a peak memory of its own.
    let stack = Stack::start_with(StackConfig {
        children: Children::ALL,
        ..StackConfig::default()
    })
    .await;
    let mut expected = Sha256::new();
    let mut sent = generated();
    while let Some(chunk) = sent.next().await {
        expected.update(chunk.unwrap());
    }
    let expected = hex::encode(expected.finalize());

    let started = Instant::now();
    let content = stack
        .client
        .upload_stream(generated(), Some(SIZE), "large.bin", None)
        .await
        .unwrap();
    let upload_secs = started.elapsed().as_secs_f64();
    assert_eq!(content.size, SIZE);
    assert_eq!(content.sha256.to_hex(), expected);

    let started = Instant::now();
    let mut received = stack.client.download_stream(content.id).await.unwrap();
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = received.next().await {
        let chunk = chunk.unwrap();
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    let download_secs = started.elapsed().as_secs_f64();
    assert_eq!(size, SIZE);
    assert_eq!(hex::encode(hasher.finalize()), expected);

    let holder = node_index(content.replicas[0].node.as_str());
    let dist_peak = stack.dist.peak_rss();
    let node_peak = stack.nodes[holder].peak_rss();
    eprintln!(
        "streamed {} MiB: upload {:.0} MiB/s, download {:.0} MiB/s; peak RSS dist {:.1} MiB, {} {:.1} MiB",
        SIZE / (1024 * 1024),
        SIZE as f64 / MIB / upload_secs,
        SIZE as f64 / MIB / download_secs,
        dist_peak as f64 / MIB,
        content.replicas[0].node,
        node_peak as f64 / MIB,
    );
    // Far below the file's size: a tenth of it at most.
    for (service, peak) in [("dist", dist_peak), ("node", node_peak)] {
        assert!(peak < SIZE / 10, "{service} peaked at {peak} bytes");
    }
}
