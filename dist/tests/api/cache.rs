//! The hot-object cache and the memory of metadata: a change is seen by the
//! very next read on the distributor that made it, and within the NOTIFY
//! latency on a second distributor sharing the database; concurrent misses
//! read a node once; only objects small enough, and only bytes that match
//! their SHA-256, are kept.

use std::time::{Duration, Instant};

use cdn_common::wire::{ClusterStats, Content, Visibility};
use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, RANGE};
use testkit::fetch;
use testkit::services::{
    Children, Mode, NODE_IDS, Program, Service, Stack, StackConfig, body, node_index,
};
use uuid::Uuid;

use crate::faults::key_of;

/// What a client is shown of one object through one distributor.
#[derive(Debug, PartialEq)]
struct Seen {
    whole: (StatusCode, Vec<u8>),
    /// Bytes 1 to 4.
    ranged: (StatusCode, Vec<u8>),
    /// The status and `Content-Length` of a `HEAD`.
    head: (StatusCode, Option<u64>),
    /// The name the bytes are offered under.
    disposition: Option<String>,
    /// The status of `GET /content/{id}`, and the object when found.
    meta: (StatusCode, Option<Content>),
}

async fn look(http: &reqwest::Client, base: &str, id: Uuid) -> Seen {
    let data = format!("{base}/content/{id}/data");
    let response = http.get(&data).send().await.unwrap();
    let disposition = response
        .headers()
        .get(CONTENT_DISPOSITION)
        .map(|value| value.to_str().unwrap().to_owned());
    let whole = (response.status(), response.bytes().await.unwrap().to_vec());
    let response = http
        .get(&data)
        .header(RANGE, "bytes=1-4")
        .send()
        .await
        .unwrap();
    let ranged = (response.status(), response.bytes().await.unwrap().to_vec());
    let response = http.head(&data).send().await.unwrap();
    let length = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse().ok());
    let head = (response.status(), length);
    let response = http
        .get(format!("{base}/content/{id}"))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let content = match status {
        StatusCode::OK => Some(response.json().await.unwrap()),
        _ => None,
    };
    Seen {
        whole,
        ranged,
        head,
        disposition,
        meta: (status, content),
    }
}

/// Whether `seen` is all of `bytes`, offered as `name`.
fn shows(seen: &Seen, bytes: &[u8], name: &str) -> bool {
    let len = bytes.len() as u64;
    seen.whole == (StatusCode::OK, bytes.to_vec())
        && seen.ranged == (StatusCode::PARTIAL_CONTENT, bytes[1..=4].to_vec())
        && seen.head == (StatusCode::OK, Some(len))
        && seen
            .disposition
            .as_deref()
            .is_some_and(|value| value.contains(name))
        && seen.meta.1.as_ref().is_some_and(|content| {
            content.size == len
                && content.filename == name
                && content.sha256 == cdn_common::Sha256::of(bytes)
        })
}

/// Whether every part of `seen` was refused with `status`.
fn refused(seen: &Seen, status: StatusCode) -> bool {
    seen.whole.0 == status
        && seen.ranged.0 == status
        && seen.head.0 == status
        && seen.meta.0 == status
}

/// Looks until `expect` holds, for up to 2 s: another distributor hears of
/// a change when PostgreSQL delivers the NOTIFY, a moment after the commit.
async fn within_two_seconds(
    http: &reqwest::Client,
    base: &str,
    id: Uuid,
    what: &str,
    expect: impl Fn(&Seen) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let seen = look(http, base, id).await;
        if expect(&seen) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {base} still shows {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A second distributor on the stack's database and nodes.
async fn second_distributor(stack: &Stack) -> Service {
    let nodes = NODE_IDS
        .iter()
        .zip(&stack.nodes)
        .map(|(id, node)| format!("{id}={}", node.url))
        .collect::<Vec<_>>()
        .join(",");
    let settings = [
        ("DATABASE_URL", stack.database_url.clone()),
        ("NODES", nodes),
        ("POLL_INTERVAL", "200ms".to_owned()),
        ("ADMIN_TOKEN", stack.admin_token().to_owned()),
    ];
    Service::start(Program::Dist, settings, Mode::InProcess).await
}

async fn stats(http: &reqwest::Client, base: &str) -> ClusterStats {
    fetch::json(http.get(format!("{base}/stats"))).await
}

#[tokio::test]
async fn every_change_is_seen_by_the_next_read_here_and_soon_on_another_distributor() {
    let stack = Stack::start().await;
    let other = second_distributor(&stack).await;
    let anonymous = reqwest::Client::new();
    let bases = [stack.dist.url.as_str(), other.url.as_str()];
    let first = b"the first version of the object".as_slice();
    let content = stack.upload("first.txt", first).await;
    let id = content.id;

    // Both distributors keep the object: the second read is from memory.
    for base in bases {
        for http in [&stack.http, &anonymous] {
            look(http, base, id).await;
            assert!(shows(&look(http, base, id).await, first, "first.txt"));
        }
    }
    let other_stats = stats(&stack.http, &other.url).await.cache;
    assert!(
        other_stats.hits > 0 && other_stats.objects == 1,
        "{other_stats:?}"
    );

    let second = b"a second, longer version of the same object".as_slice();
    stack
        .client
        .replace_stream(id, body(second), Some(second.len() as u64), None, None)
        .await
        .unwrap();
    let here = look(&stack.http, &stack.dist.url, id).await;
    assert!(shows(&here, second, "first.txt"), "after PUT: {here:?}");
    within_two_seconds(&stack.http, &other.url, id, "after PUT", |seen| {
        shows(seen, second, "first.txt")
    })
    .await;

    stack.client.rename(id, "renamed.txt").await.unwrap();
    let here = look(&stack.http, &stack.dist.url, id).await;
    assert!(
        shows(&here, second, "renamed.txt"),
        "after rename: {here:?}"
    );
    within_two_seconds(&stack.http, &other.url, id, "after rename", |seen| {
        shows(seen, second, "renamed.txt")
    })
    .await;

    // Anonymous readers had it in memory too; now it is not theirs to read.
    for base in bases {
        assert!(shows(
            &look(&anonymous, base, id).await,
            second,
            "renamed.txt"
        ));
    }
    stack
        .client
        .set_visibility(id, Visibility::Private)
        .await
        .unwrap();
    let here = look(&anonymous, &stack.dist.url, id).await;
    assert!(
        !here.whole.0.is_success() && refused(&here, here.whole.0),
        "private: {here:?}"
    );
    within_two_seconds(&anonymous, &other.url, id, "private", |seen| {
        !seen.whole.0.is_success() && refused(seen, seen.whole.0)
    })
    .await;
    for base in bases {
        assert!(shows(
            &look(&stack.http, base, id).await,
            second,
            "renamed.txt"
        ));
    }

    stack.client.delete(id).await.unwrap();
    let here = look(&stack.http, &stack.dist.url, id).await;
    assert!(
        refused(&here, StatusCode::NOT_FOUND),
        "after DELETE: {here:?}"
    );
    within_two_seconds(&stack.http, &other.url, id, "after DELETE", |seen| {
        refused(seen, StatusCode::NOT_FOUND)
    })
    .await;
}

/// The `GET`s of blobs node `index` has answered, by its own metrics.
async fn blob_reads(stack: &Stack, index: usize) -> u64 {
    let url = format!("{}/metrics", stack.nodes[index].url);
    let text = stack
        .node_http
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = r#"cdn_http_requests_total{method="GET",route="/blobs/{key}","#;
    text.lines()
        .filter_map(|line| line.strip_prefix(series)?.rsplit_once(' '))
        .map(|(_, value)| value.trim().parse::<f64>().unwrap() as u64)
        .sum()
}

#[tokio::test]
async fn a_hundred_concurrent_misses_of_one_object_read_the_node_once() {
    // Nodes as child processes: each counts its own requests.
    let stack = Stack::start_with(StackConfig {
        children: Children::NODES,
        ..StackConfig::default()
    })
    .await;
    let bytes: Vec<u8> = (0..200_000).map(|i| (i % 253) as u8).collect();
    let content = stack.upload("cold.bin", &bytes).await;
    let holder = node_index(content.replicas[0].node.as_str());
    assert_eq!(blob_reads(&stack, holder).await, 0);

    let data = stack.url(&format!("/content/{}/data", content.id));
    let reads = (0..100).map(|_| fetch::bytes(stack.http.get(&data)));
    for received in futures::future::join_all(reads).await {
        assert!(received == bytes, "a reader got other bytes");
    }
    let ranged = fetch::bytes(stack.http.get(&data).header(RANGE, "bytes=1000-1999")).await;
    assert!(ranged == bytes[1000..2000]);

    // The node records a request once its body is sent, a moment after
    // the distributor has it all.
    let deadline = Instant::now() + Duration::from_secs(5);
    while blob_reads(&stack, holder).await == 0 {
        assert!(Instant::now() < deadline, "the node never counted its read");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let counted: Vec<u64> = futures::future::join_all((0..3).map(|i| blob_reads(&stack, i))).await;
    assert_eq!(
        counted.iter().sum::<u64>(),
        1,
        "node reads per node: {counted:?}"
    );
    let cache = stack.client.stats().await.unwrap().cache;
    assert_eq!(
        (cache.misses, cache.hits, cache.objects),
        (1, 100, 1),
        "{cache:?}"
    );
    assert!(cache.resident_bytes >= bytes.len() as u64, "{cache:?}");
    assert!((cache.hit_ratio - 100.0 / 101.0).abs() < 1e-9, "{cache:?}");
}

#[tokio::test]
async fn objects_larger_than_the_limit_are_never_kept() {
    let stack = Stack::start_with(StackConfig {
        dist_env: vec![("CACHE_MAX_OBJECT", "1KiB".to_owned())],
        ..StackConfig::default()
    })
    .await;
    let small = stack.upload("small.bin", [7u8; 1024]).await;
    let large = stack.upload("large.bin", [8u8; 1025]).await;
    for content in [&small, &large, &small, &large, &small, &large] {
        let received = fetch::bytes(stack.http.get(&content.uri)).await;
        assert_eq!(received.len() as u64, content.size);
    }
    let cache = stack.client.stats().await.unwrap().cache;
    // Reads of objects too large to keep are neither hits nor misses.
    assert_eq!(
        (cache.objects, cache.misses, cache.hits),
        (1, 1, 2),
        "{cache:?}"
    );
    assert_eq!(cache.capacity_bytes, 256 << 20);
    assert!((1024..2048).contains(&cache.resident_bytes), "{cache:?}");
}

#[tokio::test]
async fn a_cache_size_of_zero_keeps_nothing() {
    let stack = Stack::start_with(StackConfig {
        dist_env: vec![("CACHE_SIZE", "0".to_owned())],
        ..StackConfig::default()
    })
    .await;
    let content = stack.upload("small.txt", b"not kept").await;
    for _ in 0..3 {
        assert_eq!(
            &fetch::bytes(stack.http.get(&content.uri)).await[..],
            b"not kept"
        );
    }
    let cache = stack.client.stats().await.unwrap().cache;
    assert_eq!(cache, Default::default(), "{cache:?}");
}

/// Flips one bit in the middle of the copy of `content` on its node; with
/// `unchecked`, also spoils the node's record of the blob's sums, so the
/// node sends the rotten bytes unchecked, as it does for blobs stored
/// before sums were kept. Returns the bytes now on disk.
async fn rot(stack: &Stack, content: &Content, unchecked: bool) -> Vec<u8> {
    let replica = &content.replicas[0];
    let key = key_of(replica).await.expect("the copy's key");
    let index = node_index(replica.node.as_str());
    let path = stack.blob_file(index, &key);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    if unchecked {
        let sums = stack.node_dir(index).join("sums").join(&key);
        std::fs::write(sums, b"\x00not a record").unwrap();
    }
    bytes
}

#[tokio::test]
async fn kept_bytes_outlive_rot_but_rotten_bytes_are_never_kept() {
    // No repair round: it would drop the only copies.
    let stack = Stack::start_with(StackConfig {
        dist_env: vec![("REPAIR_INTERVAL", "1h".to_owned())],
        ..StackConfig::default()
    })
    .await;
    let bytes: Vec<u8> = (0..100_000).map(|i| (i % 249) as u8).collect();
    let kept = stack.upload("kept.bin", &bytes).await;
    let rotten = stack.upload("rotten.bin", &bytes).await;

    assert!(fetch::bytes(stack.http.get(&kept.uri)).await == bytes);
    rot(&stack, &kept, false).await;
    assert!(fetch::bytes(stack.http.get(&kept.uri)).await == bytes);
    let ranged = fetch::bytes(stack.http.get(&kept.uri).header(RANGE, "bytes=49000-51000")).await;
    assert!(ranged == bytes[49_000..=51_000]);

    let on_disk = rot(&stack, &rotten, true).await;
    for attempt in 0..3 {
        // Cut before its head is as good an end as cut mid-body: no byte
        // of the rotten copy reached the client as whole.
        let Ok(response) = stack.http.get(&rotten.uri).send().await else {
            continue;
        };
        if !response.status().is_success() {
            continue;
        }
        let mut body = response.bytes_stream();
        let mut received = Vec::new();
        let mut complete = true;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(chunk) => received.extend_from_slice(&chunk),
                Err(_) => complete = false,
            }
        }
        assert!(
            !complete,
            "read {attempt} of rotten bytes ended as if whole"
        );
        assert!(
            received != on_disk,
            "read {attempt} got all the rotten bytes"
        );
    }
    let cache = stack.client.stats().await.unwrap().cache;
    assert_eq!(cache.objects, 1, "rotten bytes were kept: {cache:?}");
    assert_eq!(cache.hits, 2, "{cache:?}");
}
