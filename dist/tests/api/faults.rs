//! What happens when things die: nodes, the distributor, PostgreSQL, and
//! bytes on disk. Every test keeps two copies of each object.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cdn_client::Client;
use cdn_common::wire::{Content, NodeStatus, Replica, ReplicaStatus};
use futures::StreamExt;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use testkit::fetch;
use testkit::postgres::{PgOptions, PgServer};
use testkit::services::{Children, Stack, StackConfig, body, node_index};

/// Three nodes keeping two copies of each object, `children` run as child
/// processes, the distributor given `dist_env` too.
fn replicated(children: Children, dist_env: &[(&'static str, &str)]) -> StackConfig {
    StackConfig {
        replication: 2,
        dist_env: dist_env
            .iter()
            .map(|(key, value)| (*key, value.to_string()))
            .collect(),
        children,
        ..StackConfig::default()
    }
}

/// The key of a copy: the last segment of the signed node URL its `uri`
/// redirects to; `None` while the distributor cannot send there.
pub(crate) async fn key_of(replica: &Replica) -> Option<String> {
    // A client per call: a pooled connection must not outlive its test's
    // runtime.
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_follow.get(&replica.uri).send().await.ok()?;
    let location = response.headers().get(reqwest::header::LOCATION)?;
    let url = reqwest::Url::parse(location.to_str().ok()?).ok()?;
    Some(url.path_segments()?.next_back()?.to_owned())
}

/// Reads the whole object and checks it against its SHA-256.
async fn read_verified(client: &Client, content: &Content) -> Result<(), String> {
    let mut stream = client
        .download_stream(content.id)
        .await
        .map_err(|err| err.to_string())?;
    let mut hasher = Sha256::new();
    while let Some(chunk) = stream.next().await {
        hasher.update(chunk.map_err(|err| err.to_string())?);
    }
    let actual = hex::encode(hasher.finalize());
    if actual == content.sha256.to_hex() {
        Ok(())
    } else {
        Err(format!("got bytes hashing to {actual}"))
    }
}

fn sha256_file(path: &std::path::Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// Waits until every object has `copies` good copies on nodes that are up,
/// each on disk with the right bytes. Returns how long that took.
pub(crate) async fn wait_fully_replicated(
    stack: &Stack,
    copies: usize,
    limit: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        let nodes = stack.client.nodes().await.unwrap().nodes;
        let up = |id: &str| {
            nodes
                .iter()
                .any(|node| node.id.as_str() == id && node.status == NodeStatus::Up)
        };
        let items = stack.client.list_all().await.unwrap();
        let mut healthy = true;
        'objects: for content in &items {
            let good: Vec<_> = content
                .replicas
                .iter()
                .filter(|replica| replica.status == ReplicaStatus::Ok && up(replica.node.as_str()))
                .collect();
            if good.len() != copies {
                healthy = false;
                break;
            }
            for replica in good {
                let Some(key) = key_of(replica).await else {
                    healthy = false;
                    break 'objects;
                };
                let path = stack.blob_file(node_index(replica.node.as_str()), &key);
                if !path.exists() || sha256_file(&path) != content.sha256.to_hex() {
                    healthy = false;
                    break 'objects;
                }
            }
        }
        if healthy {
            return started.elapsed();
        }
        if started.elapsed() > limit {
            let log = if stack.dist.is_child() {
                stack.dist.log()
            } else {
                String::new()
            };
            let tail: Vec<&str> = log
                .lines()
                .skip(log.lines().count().saturating_sub(40))
                .collect();
            panic!(
                "not repaired within {limit:?}; {items:#?}\ndistributor's log ends:\n{}",
                tail.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
#[ignore = "long: scripts/test runs it"]
async fn reads_never_fail_when_a_node_dies_under_load() {
    let mut stack = Stack::start_with(replicated(Children::NODES, &[])).await;
    let mut objects = Vec::new();
    for n in 0..300u32 {
        let mut bytes = vec![(n % 256) as u8; 4096];
        bytes[..4].copy_from_slice(&n.to_le_bytes());
        objects.push(stack.upload("object.bin", bytes).await);
    }
    assert!(objects.iter().all(|content| content.replicas.len() == 2));

    let objects = Arc::new(objects);
    let reads = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
    let started = Instant::now();
    let stop_at = started + Duration::from_secs(30);
    let mut readers = Vec::new();
    for reader in 0..8usize {
        let (client, objects) = (stack.client.clone(), objects.clone());
        let (reads, failures) = (reads.clone(), failures.clone());
        readers.push(tokio::spawn(async move {
            let mut next = reader;
            while Instant::now() < stop_at {
                let content = &objects[next % objects.len()];
                next += 8;
                match read_verified(&client, content).await {
                    Ok(()) => reads.fetch_add(1, Ordering::Relaxed),
                    Err(err) => {
                        failures.lock().unwrap().push(err);
                        0
                    }
                };
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let before = reads.load(Ordering::Relaxed);
    let killed_at = Instant::now();
    stack.nodes[1].kill();
    for reader in readers {
        reader.await.unwrap();
    }
    let after = reads.load(Ordering::Relaxed) - before;
    let failures = failures.lock().unwrap();
    eprintln!(
        "reads/s with 3 nodes up: {:.0}; after SIGKILL of node2: {:.0}; failed reads: {}",
        before as f64 / killed_at.duration_since(started).as_secs_f64(),
        after as f64 / killed_at.elapsed().as_secs_f64(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} reads failed, e.g. {:?}",
        failures.len(),
        failures.first()
    );
    assert!(after > 0);
}

#[tokio::test]
#[ignore = "long: scripts/test runs it"]
async fn a_node_back_with_an_empty_volume_is_refilled() {
    let mut stack = Stack::start_with(replicated(Children::NODES, &[])).await;
    for n in 0..200u32 {
        stack
            .upload("object.bin", n.to_le_bytes().repeat(512))
            .await;
    }
    let held_by_node1 = stack.blobs_on_disk(0).len();
    assert!(held_by_node1 > 0);

    stack.nodes[0].kill();
    std::fs::remove_dir_all(stack.node_dir(0)).unwrap();
    stack.nodes[0].restart().await;
    let took = wait_fully_replicated(&stack, 2, Duration::from_secs(60)).await;
    let stats = stack.client.stats().await.unwrap();
    eprintln!(
        "{held_by_node1} lost copies restored in {:.1} s ({:.0} objects/s); repair stats {:?}",
        took.as_secs_f64(),
        held_by_node1 as f64 / took.as_secs_f64(),
        stats.repair
    );
    assert!(stats.repair.repaired >= held_by_node1 as u64);
    assert!(stats.repair.lost_copies >= held_by_node1 as u64);
    assert_eq!(stats.repair.under_replicated, 0);
}

#[tokio::test]
async fn a_node_down_past_the_grace_period_is_repaired_around() {
    let mut stack = Stack::start_with(replicated(Children::NODES, &[("REPAIR_GRACE", "1s")])).await;
    for n in 0..50u32 {
        stack
            .upload("object.bin", n.to_le_bytes().repeat(256))
            .await;
    }
    stack.nodes[2].kill();
    stack.wait_for_node("node3", NodeStatus::Down).await;
    wait_fully_replicated(&stack, 2, Duration::from_secs(30)).await;

    // Back again, it holds copies nobody needs now: they are trimmed.
    stack.nodes[2].restart().await;
    stack.wait_for_node("node3", NodeStatus::Up).await;
    let started = Instant::now();
    loop {
        let on_disk: usize = (0..3).map(|node| stack.blobs_on_disk(node).len()).sum();
        if on_disk == 100 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{on_disk} copies on disk, 100 wanted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_fully_replicated(&stack, 2, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn a_flipped_byte_is_never_served_and_is_repaired() {
    let stack = Stack::start_with(replicated(Children::default(), &[])).await;
    let content = stack
        .upload("object.bin", b"precious bytes, kept twice".repeat(1000))
        .await;
    let victim = node_index(content.replicas[0].node.as_str());
    let key = key_of(&content.replicas[0]).await.unwrap();
    let path = stack.blob_file(victim, &key);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[1234] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();

    let scrub = stack
        .node_http
        .post(format!("{}/scrub", stack.nodes[victim].url));
    let report: serde_json::Value = fetch::json(scrub).await;
    assert_eq!(report["corrupt"], serde_json::json!([key]));
    // Whichever copy a read picks, it gets the right bytes or an error.
    for _ in 0..10 {
        if let Err(err) = read_verified(&stack.client, &content).await {
            assert!(!err.starts_with("got bytes"), "{err}");
        }
    }

    wait_fully_replicated(&stack, 2, Duration::from_secs(30)).await;
    for _ in 0..10 {
        read_verified(&stack.client, &content).await.unwrap();
    }
    assert!(stack.client.stats().await.unwrap().repair.lost_copies >= 1);
}

#[tokio::test]
async fn a_distributor_killed_mid_upload_leaves_nothing_behind() {
    let mut stack = Stack::start_with(replicated(Children::DIST, &[("ORPHAN_GRACE", "0s")])).await;
    let kept = stack
        .upload("object.bin", b"acknowledged before the crash")
        .await;

    // An upload that trickles in, cut short by SIGKILL of the distributor.
    let slow = futures::stream::iter(0..1000).then(|_| async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok::<_, std::io::Error>(Bytes::from(vec![7u8; 64 * 1024]))
    });
    let client = stack.client.clone();
    let upload_task =
        tokio::spawn(async move { client.upload_stream(slow, None, "cut.bin", None).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    stack.dist.kill();
    assert!(upload_task.await.unwrap().is_err());

    // A blob that no metadata will ever point at.
    let orphan = format!("{}/blobs/orphan-from-a-crash", stack.nodes[1].url);
    assert!(
        stack
            .node_http
            .put(&orphan)
            .body("debris")
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );

    stack.dist.restart().await;
    let items = stack.client.list_all().await.unwrap();
    assert_eq!(items.iter().map(|c| c.id).collect::<Vec<_>>(), [kept.id]);
    read_verified(&stack.client, &kept).await.unwrap();
    let started = Instant::now();
    loop {
        let on_disk: Vec<Vec<String>> = (0..3).map(|node| stack.blobs_on_disk(node)).collect();
        let temp: usize = (0..3)
            .map(|node| stack.temp_files_on_disk(node).len())
            .sum();
        if on_disk.iter().map(Vec::len).sum::<usize>() == 2 && temp == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "left behind: {on_disk:?}, {temp} temp files"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(stack.client.stats().await.unwrap().repair.orphans >= 1);
}

#[tokio::test]
async fn requests_fail_fast_while_postgres_restarts_and_recover_after() {
    let postgres = PgServer::start_own(PgOptions::default()).await;
    let stack = Stack::start_with(StackConfig {
        database_url: Some(postgres.fresh_database().await),
        ..replicated(Children::default(), &[])
    })
    .await;
    let content = stack
        .upload("object.bin", b"survives a database restart")
        .await;

    postgres.stop().await;
    for _ in 0..5 {
        let asked = Instant::now();
        let response = stack.http.get(&content.uri).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            asked.elapsed() < Duration::from_secs(6),
            "took {:?}",
            asked.elapsed()
        );
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "unavailable");
    }
    assert_eq!(
        stack.status_of("/readyz").await,
        StatusCode::SERVICE_UNAVAILABLE
    );

    postgres.start().await;
    let started = Instant::now();
    while read_verified(&stack.client, &content).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the distributor did not reconnect"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stack.upload("object.bin", b"and takes new uploads").await;
    assert_eq!(stack.status_of("/readyz").await, 200);
}

#[tokio::test]
async fn concurrent_replacements_leave_one_whole_version() {
    let stack = Stack::start_with(replicated(Children::default(), &[])).await;
    let content = stack.upload("object.bin", b"version one").await;
    let versions = [vec![b'a'; 3 << 20], vec![b'b'; 3 << 20]];
    let hashes: Vec<String> = versions
        .iter()
        .map(|bytes| hex::encode(Sha256::digest(bytes)))
        .collect();
    let replace = |bytes: Vec<u8>| {
        let client = stack.client.clone();
        async move {
            client
                .replace_stream(content.id, body(bytes), Some(3 << 20), None, None)
                .await
        }
    };
    let (first, second) = tokio::join!(replace(versions[0].clone()), replace(versions[1].clone()));
    first.unwrap();
    second.unwrap();

    let last = stack.client.info(content.id).await.unwrap();
    assert_eq!(last.version, 3);
    assert!(hashes.contains(&last.sha256.to_hex()));
    read_verified(&stack.client, &last).await.unwrap();
    wait_fully_replicated(&stack, 2, Duration::from_secs(10)).await;
    let started = Instant::now();
    while (0..3)
        .map(|node| stack.blobs_on_disk(node).len())
        .sum::<usize>()
        != 2
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "old versions left on disk"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_upload_to_a_node_that_just_died_still_gets_two_copies() {
    // node1 is the emptiest, so it is chosen; it dies before the
    // distributor notices (DOWN_AFTER is long).
    let mut stack = Stack::start_with(StackConfig {
        prefill: [0, 1000, 2000],
        ..replicated(Children::NODES, &[("DOWN_AFTER", "60s")])
    })
    .await;
    stack.nodes[0].kill();
    let content = stack
        .upload("object.bin", b"written around a dead node")
        .await;
    let mut holders: Vec<&str> = content
        .replicas
        .iter()
        .map(|replica| replica.node.as_str())
        .collect();
    holders.sort();
    assert_eq!(holders, ["node2", "node3"]);
    read_verified(&stack.client, &content).await.unwrap();
}
