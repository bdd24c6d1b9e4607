//! Rot on a node's disk never reaches a client, whole or ranged: a node
//! checks every 64 KiB block against its sum before sending a byte of it,
//! and the distributor goes on from another copy where one is cut short.

use std::time::Duration;

use cdn_common::wire::{Content, Inventory};
use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::header::RANGE;

use testkit::fetch;
use testkit::services::{Children, Stack, StackConfig, node_index};

use crate::faults::{key_of, wait_fully_replicated};

const BLOCK: usize = 64 * 1024;

/// The block whose byte is flipped in these tests.
const BAD: usize = 3;

/// Eight and a bit blocks, each byte telling its position, so a byte out of
/// place shows.
fn object_bytes() -> Vec<u8> {
    (0..8 * BLOCK + 1000)
        .map(|i| (i % 251) as u8 ^ (i / BLOCK) as u8)
        .collect()
}

/// Flips one bit in the middle of block [`BAD`] of the copy on `node`.
async fn rot(stack: &Stack, content: &Content, node: &str) {
    let replica = content
        .replicas
        .iter()
        .find(|replica| replica.node.as_str() == node)
        .unwrap_or_else(|| panic!("no copy on {node}: {content:?}"));
    let key = key_of(replica).await.expect("the copy's key");
    let path = stack.blob_file(node_index(node), &key);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[BAD * BLOCK + 777] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
}

/// What a client got for a GET of the object's bytes (`first..=last`, if
/// given): the status, every body byte that arrived, and whether the body
/// was whole; an error when the connection was cut before the status.
async fn try_read(
    stack: &Stack,
    content: &Content,
    range: Option<(usize, usize)>,
) -> reqwest::Result<(StatusCode, Vec<u8>, bool)> {
    let mut request = stack.http.get(&content.uri);
    if let Some((first, last)) = range {
        request = request.header(RANGE, format!("bytes={first}-{last}"));
    }
    let response = request.send().await?;
    let status = response.status();
    let mut body = response.bytes_stream();
    let mut received = Vec::new();
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(chunk) => received.extend_from_slice(&chunk),
            Err(_) => return Ok((status, received, false)),
        }
    }
    Ok((status, received, true))
}

/// [`try_read`], for reads that must get an answer.
async fn read(
    stack: &Stack,
    content: &Content,
    range: Option<(usize, usize)>,
) -> (StatusCode, Vec<u8>, bool) {
    try_read(stack, content, range)
        .await
        .unwrap_or_else(|err| panic!("reading {range:?}: {err}"))
}

/// Ranges spanning the bad block, before it, after it, within it.
fn ranges(len: usize) -> [(usize, usize); 5] {
    [
        (2 * BLOCK + 5, 4 * BLOCK + 5),
        (0, BAD * BLOCK - 1),
        ((BAD + 1) * BLOCK, len - 1),
        (BAD * BLOCK + 700, BAD * BLOCK + 800),
        (BAD * BLOCK + 777, len - 1),
    ]
}

#[tokio::test]
async fn a_flipped_byte_in_one_copy_never_reaches_a_client_and_the_copy_is_repaired() {
    // The copies go to the emptiest nodes, node1 and node2, and reads go to
    // the least full first: node1, whose copies rot.
    let stack = Stack::start_with(StackConfig {
        replication: 2,
        prefill: [0, 1 << 20, 2 << 20],
        children: Children::default(),
        ..StackConfig::default()
    })
    .await;
    let bytes = object_bytes();
    let whole = stack.upload("whole.bin", &bytes).await;
    let ranged = stack.upload("ranged.bin", &bytes).await;
    for content in [&whole, &ranged] {
        rot(&stack, content, "node1").await;
    }

    for n in 0..20 {
        let (status, received, complete) = read(&stack, &whole, None).await;
        assert_eq!(status, StatusCode::OK, "whole read {n}");
        assert!(complete, "whole read {n} was cut");
        assert!(received == bytes, "whole read {n} got wrong bytes");
    }
    for (n, (first, last)) in ranges(bytes.len()).into_iter().cycle().take(20).enumerate() {
        let (status, received, complete) = read(&stack, &ranged, Some((first, last))).await;
        assert_eq!(
            status,
            StatusCode::PARTIAL_CONTENT,
            "read {n} of {first}-{last}"
        );
        assert!(complete, "read {n} of {first}-{last} was cut");
        assert!(
            received == bytes[first..=last],
            "read {n} of {first}-{last} got wrong bytes"
        );
    }

    // node1 marked both copies corrupt; the repair replaced them.
    wait_fully_replicated(&stack, 2, Duration::from_secs(30)).await;
    assert!(stack.client.stats().await.unwrap().repair.lost_copies >= 2);
    for content in [&whole, &ranged] {
        let (_, received, _) = read(&stack, content, None).await;
        assert!(received == bytes);
    }
}

#[tokio::test]
async fn a_flipped_byte_in_the_only_copy_is_never_sent() {
    // No repair round during the test: it would drop the only copy.
    let stack = Stack::start_with(StackConfig {
        dist_env: vec![("REPAIR_INTERVAL", "1h".to_owned())],
        ..StackConfig::default()
    })
    .await;
    let bytes = object_bytes();
    let content = stack.upload("object.bin", &bytes).await;
    let node = content.replicas[0].node.as_str().to_owned();
    rot(&stack, &content, &node).await;

    // Reads that reach the bad block end short: a client sees an error,
    // after nothing but right bytes from before the bad block.
    let touches_bad_block =
        |(first, last): &(usize, usize)| *first < (BAD + 1) * BLOCK && *last >= BAD * BLOCK;
    // Ranges first: a whole read is also checked against the SHA-256 by the
    // distributor, which would mark the copy corrupt and hide the node's part.
    let mut reaching: Vec<_> = ranges(bytes.len())
        .into_iter()
        .filter(touches_bad_block)
        .map(Some)
        .collect();
    reaching.push(None);
    for range in reaching {
        // The distributor may be cut off before its status was sent, too.
        let Ok((status, received, complete)) = try_read(&stack, &content, range).await else {
            continue;
        };
        let (first, last) = range.unwrap_or((0, bytes.len() - 1));
        if status.is_success() {
            assert!(!complete, "{range:?} was served whole");
            assert!(
                bytes[first..=last].starts_with(&received),
                "{range:?}: wrong bytes"
            );
            assert!(
                received.is_empty() || first + received.len() <= BAD * BLOCK,
                "{range:?}: bytes of the bad block"
            );
        } else {
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{range:?}");
        }
    }
    // A range entirely before the bad block (or after it) is still served.
    let untouched = [
        (0, BAD * BLOCK - 1),
        (BLOCK + 3, 2 * BLOCK + 50),
        ((BAD + 1) * BLOCK, bytes.len() - 1),
    ];
    for (first, last) in untouched {
        let (status, received, complete) = read(&stack, &content, Some((first, last))).await;
        assert_eq!((status, complete), (StatusCode::PARTIAL_CONTENT, true));
        assert!(
            received == bytes[first..=last],
            "{first}-{last}: wrong bytes"
        );
    }

    // The node reports the copy corrupt, for the repair to find.
    let node_url = &stack.nodes[node_index(&node)].url;
    let inventory: Inventory = fetch::json(stack.node_http.get(format!("{node_url}/blobs"))).await;
    assert!(
        inventory.blobs.iter().any(|blob| blob.corrupt),
        "{inventory:?}"
    );
}
