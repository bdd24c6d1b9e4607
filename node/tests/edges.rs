//! The node's HTTP edges over raw sockets: the same serve loop and limits
//! as the distributor's, with short timeouts so each test takes seconds.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::fetch;
use testkit::raw;
use testkit::services::{Mode, NODE_SECRET, Program, Service, node_http};
use tokio::io::AsyncWriteExt;

async fn start(storage: &Path, extra: &[(&str, &str)]) -> Service {
    let mut settings = vec![
        ("NODE_ID".to_owned(), "edge-node".to_owned()),
        ("STORAGE_DIR".to_owned(), storage.display().to_string()),
        ("MAX_STORAGE".to_owned(), "64MiB".to_owned()),
    ];
    settings.extend(
        extra
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
    );
    Service::start(Program::Node, settings, Mode::InProcess).await
}

async fn storage(node: &Service) -> u64 {
    let stats: Value = fetch::json(node_http().get(format!("{}/stats", node.url))).await;
    stats["storage"].as_u64().expect("storage in /stats")
}

fn put_head(key: &str, len: u64) -> String {
    format!(
        "PUT /blobs/{key} HTTP/1.1\r\nHost: node\r\nAuthorization: Bearer {NODE_SECRET}\r\n\
Content-Length: {len}\r\n\r\n"
    )
}

#[tokio::test]
async fn a_dribbled_put_is_cut_and_its_reservation_and_temp_file_go() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), &[("BODY_STALL_TIMEOUT", "1s")]).await;
    let mut stream = raw::connect(node.addr()).await;
    stream
        .write_all(put_head("dribbled", 1_000_000).as_bytes())
        .await
        .unwrap();
    stream.write_all(b"x").await.unwrap();
    // The whole declared length is reserved while the body arrives.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(storage(&node).await, 1_000_000);
    let started = Instant::now();
    let answer = raw::read_head(&mut stream, Duration::from_secs(5)).await;
    assert!(
        matches!(answer.status, Some(400 | 408)) || (answer.status.is_none() && answer.closed),
        "{answer:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(storage(&node).await, 0);
    let temp = std::fs::read_dir(dir.path().join("tmp")).unwrap().count();
    assert_eq!(temp, 0, "a temp file was left behind");
    let blob = node_http()
        .get(format!("{}/blobs/dribbled", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(blob.status(), 404);
}

#[tokio::test]
async fn slow_heads_are_closed_and_large_heads_get_431() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), &[("HEADER_TIMEOUT", "1s")]).await;
    let mut slow = raw::connect(node.addr()).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: no")
        .await
        .unwrap();
    let started = Instant::now();
    assert!(raw::closes_within(&mut slow, Duration::from_secs(4)).await);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: node\r\nX-Filler: {}\r\n\r\n",
        "a".repeat(20 << 10)
    );
    let answer = raw::send(node.addr(), big.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(answer.status, Some(431), "{answer:?}");
}

#[tokio::test]
async fn requests_past_the_in_flight_cap_get_503_but_healthz_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), &[("MAX_REQUESTS_IN_FLIGHT", "1")]).await;
    // One request held open: a PUT whose body has not all arrived.
    let mut held = raw::connect(node.addr()).await;
    held.write_all(put_head("held", 10).as_bytes())
        .await
        .unwrap();
    held.write_all(b"12345").await.unwrap();
    // The held request takes the one slot as soon as the server reads it.
    let deadline = Instant::now() + Duration::from_secs(5);
    let busy = loop {
        let answer = node_http()
            .get(format!("{}/stats", node.url))
            .send()
            .await
            .unwrap();
        if answer.status() == 503 || Instant::now() >= deadline {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(busy.status(), 503);
    assert_eq!(busy.headers()["retry-after"], "1");
    let health = reqwest::get(format!("{}/healthz", node.url)).await.unwrap();
    assert_eq!(health.status(), 200);

    held.write_all(b"67890").await.unwrap();
    let stored = raw::read_head(&mut held, Duration::from_secs(5)).await;
    assert_eq!(stored.status, Some(200), "{stored:?}");
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = node_http()
            .get(format!("{}/stats", node.url))
            .send()
            .await
            .unwrap();
        if answer.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the in-flight slot was never freed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn connections_past_the_cap_are_turned_away_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), &[("MAX_CONNECTIONS", "2")]).await;
    // Two connections the server has surely taken: each was answered, and
    // stays open (keep-alive).
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut connection = raw::connect(node.addr()).await;
        connection
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: node\r\n\r\n")
            .await
            .unwrap();
        let answer = raw::read_head(&mut connection, Duration::from_secs(5)).await;
        assert_eq!(answer.status, Some(200), "{answer:?}");
        held.push(connection);
    }
    let started = Instant::now();
    let answer = raw::send(
        node.addr(),
        b"GET /healthz HTTP/1.1\r\nHost: node\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(
        answer.status == Some(503) || (answer.status.is_none() && answer.closed),
        "{answer:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    drop(held);
    // Once they close, new connections are served again.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = raw::send(
            node.addr(),
            b"GET /healthz HTTP/1.1\r\nHost: node\r\n\r\n",
            Duration::from_secs(2),
        )
        .await;
        if answer.status == Some(200) {
            break;
        }
        assert!(Instant::now() < deadline, "never served again: {answer:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
