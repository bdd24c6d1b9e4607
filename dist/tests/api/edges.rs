//! The distributor's HTTP edges under attack, over raw sockets: trickled
//! heads (slowloris), idle keep-alive, dribbled upload bodies, uploads that
//! claim a node's whole room and dribble, oversized heads and JSON bodies,
//! and request smuggling. Timeouts are set short so each test takes seconds.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use testkit::fetch;
use testkit::raw::{self, Answer};
use testkit::services::{Children, Stack, StackConfig};
use tokio::io::AsyncWriteExt;

async fn stack_with(dist_env: &[(&'static str, &str)], max_storage: &'static str) -> Stack {
    Stack::start_with(StackConfig {
        max_storage: [max_storage; 3],
        dist_env: dist_env
            .iter()
            .map(|(name, value)| (*name, (*value).to_owned()))
            .collect(),
        ..StackConfig::default()
    })
    .await
}

/// Every node's `storage` (stored plus reserved bytes), as it reports it.
async fn node_storage(stack: &Stack) -> Vec<u64> {
    let mut used = Vec::new();
    for node in &stack.nodes {
        let stats: Value = fetch::json(stack.node_http.get(format!("{}/stats", node.url))).await;
        used.push(stats["storage"].as_u64().expect("storage in /stats"));
    }
    used
}

/// Waits (up to 10 s) until no node holds a byte, a blob or a temp file.
async fn assert_nodes_left_empty(stack: &Stack) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let storage = node_storage(stack).await;
        let files: Vec<Vec<String>> = (0..3)
            .map(|node| {
                let mut files = stack.blobs_on_disk(node);
                files.extend(stack.temp_files_on_disk(node));
                files
            })
            .collect();
        if storage.iter().all(|&bytes| bytes == 0) && files.iter().all(Vec::is_empty) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "nodes still hold something: storage {storage:?}, files {files:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn upload_head(stack: &Stack, len: u64) -> String {
    format!(
        "POST /content?filename=probe.bin HTTP/1.1\r\nHost: cdn\r\nAuthorization: Bearer {}\r\n\
Content-Type: application/octet-stream\r\nContent-Length: {len}\r\n\r\n",
        stack.admin_token()
    )
}

#[tokio::test]
async fn slowloris_connections_are_closed_within_the_header_timeout_while_healthz_stays_fast() {
    let stack = stack_with(&[("HEADER_TIMEOUT", "2s")], "64MiB").await;
    let addr = stack.dist.addr();
    let started = Instant::now();
    let mut trickles = Vec::new();
    for _ in 0..50 {
        let mut stream = raw::connect(addr).await;
        trickles.push(tokio::spawn(async move {
            let head = b"GET /healthz HTTP/1.1\r\nHost: cdn\r\nX-Slow: ";
            for byte in head.iter().chain(b"a".repeat(100).iter()) {
                if stream.write_all(&[*byte]).await.is_err() {
                    return Instant::now();
                }
                // One byte every 500 ms: never a whole head, always traffic.
                if raw::closes_within(&mut stream, Duration::from_millis(500)).await {
                    return Instant::now();
                }
            }
            panic!("a trickled head was never cut");
        }));
    }
    // Meanwhile honest requests are answered at once.
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let asked = Instant::now();
        assert_eq!(stack.status_of("/healthz").await, StatusCode::OK);
        slowest = slowest.max(asked.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        slowest < Duration::from_millis(500),
        "/healthz took {slowest:?}"
    );
    for trickle in trickles {
        let closed_after = trickle.await.unwrap() - started;
        assert!(
            closed_after >= Duration::from_millis(1500) && closed_after < Duration::from_secs(5),
            "a trickled head was cut after {closed_after:?} (header timeout 2s)"
        );
    }
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let stack = stack_with(&[("HEADER_TIMEOUT", "1s"), ("IDLE_TIMEOUT", "3s")], "64MiB").await;
    let mut stream = raw::connect(stack.dist.addr()).await;
    let ask = b"GET /healthz HTTP/1.1\r\nHost: cdn\r\n\r\n";
    stream.write_all(ask).await.unwrap();
    assert_eq!(
        raw::read_head(&mut stream, Duration::from_secs(5))
            .await
            .status,
        Some(200)
    );
    // Past the header timeout, the idle connection is still usable...
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stream.write_all(ask).await.unwrap();
    let again = raw::read_head(&mut stream, Duration::from_secs(5)).await;
    assert_eq!(again.status, Some(200), "{again:?}");
    // ...and closed once it has been idle for IDLE_TIMEOUT.
    let idle_since = Instant::now();
    assert!(raw::closes_within(&mut stream, Duration::from_secs(6)).await);
    let idle = idle_since.elapsed();
    assert!(
        idle >= Duration::from_millis(2500) && idle < Duration::from_millis(4500),
        "closed after {idle:?} idle (IDLE_TIMEOUT 3s)"
    );
}

#[tokio::test]
async fn a_dribbled_upload_body_is_cut_and_leaves_no_row_no_bytes_and_no_reservation() {
    let stack = stack_with(&[("BODY_STALL_TIMEOUT", "2s")], "64MiB").await;
    let mut stream = raw::connect(stack.dist.addr()).await;
    stream
        .write_all(upload_head(&stack, 1_000_000).as_bytes())
        .await
        .unwrap();
    let started = Instant::now();
    // One byte a second: far below BODY_MIN_RATE (512 B/s by default).
    let answer = loop {
        if stream.write_all(b"x").await.is_err() {
            break raw::read_head(&mut stream, Duration::from_secs(1)).await;
        }
        let answer = raw::read_head(&mut stream, Duration::from_secs(1)).await;
        if answer.status.is_some() || answer.closed {
            break answer;
        }
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "the dribble was never cut"
        );
    };
    let cut_after = started.elapsed();
    assert!(
        answer.status == Some(408) || (answer.status.is_none() && answer.closed),
        "{answer:?}"
    );
    assert!(
        cut_after < Duration::from_secs(5),
        "cut after {cut_after:?}"
    );
    assert!(stack.client.list_all().await.unwrap().is_empty());
    assert_nodes_left_empty(&stack).await;
}

#[tokio::test]
async fn uploads_that_claim_a_node_and_dribble_do_not_block_an_honest_upload() {
    let stack = stack_with(
        &[
            ("BODY_STALL_TIMEOUT", "20s"),
            ("MAX_UPLOAD_RESERVATION_PER_CLIENT", "8MiB"),
        ],
        "8MiB",
    )
    .await;
    let attacker = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let mut dribblers = Vec::new();
    let mut refused = Vec::new();
    for _ in 0..4 {
        let mut stream = raw::connect_from(attacker, stack.dist.addr()).await;
        stream
            .write_all(upload_head(&stack, 8 << 20).as_bytes())
            .await
            .unwrap();
        stream.write_all(b"x").await.unwrap();
        let answer = raw::read_head(&mut stream, Duration::from_millis(500)).await;
        match answer.status {
            None if !answer.closed => dribblers.push(stream),
            _ => refused.push(answer),
        }
    }
    assert_eq!(dribblers.len(), 1, "refused: {refused:?}");
    for answer in &refused {
        assert_eq!(answer.status, Some(429), "{answer:?}");
        assert!(answer.header("retry-after").is_some(), "{answer:?}");
    }
    // Once the poll has seen the node the dribbler holds, an honest upload
    // from another address goes elsewhere.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let honest = vec![7u8; 1 << 20];
    let stored = stack
        .try_upload("honest.bin", &honest)
        .await
        .expect("the honest upload is stored");
    assert_eq!(stored.size, 1 << 20);
    drop(dribblers);
}

#[tokio::test]
async fn oversized_request_heads_get_431() {
    let stack = stack_with(&[], "64MiB").await;
    let head = |filler: usize| {
        format!(
            "GET /healthz HTTP/1.1\r\nHost: cdn\r\nX-Filler: {}\r\n\r\n",
            "a".repeat(filler)
        )
    };
    let big = raw::send(
        stack.dist.addr(),
        head(20 << 10).as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(big.status, Some(431), "{big:?}");
    let fine = raw::send(
        stack.dist.addr(),
        head(8 << 10).as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(fine.status, Some(200), "{fine:?}");
}

#[tokio::test]
async fn json_bodies_past_the_limit_get_413_and_memory_stays_flat() {
    let stack = Stack::start_with(StackConfig {
        children: Children::DIST,
        ..StackConfig::default()
    })
    .await;
    let stored = stack.upload("target.txt", "bytes").await;
    let path = format!("/content/{}", stored.id);
    let small = stack
        .http
        .patch(stack.url(&path))
        .json(&serde_json::json!({"filename": "renamed.txt"}))
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), StatusCode::OK);
    let before = stack.dist.peak_rss();

    let huge = serde_json::json!({ "filename": "n".repeat(2 << 20) }).to_string();
    let patch = |framing: &str| {
        format!(
            "PATCH {path} HTTP/1.1\r\nHost: cdn\r\nAuthorization: Bearer {}\r\n\
Content-Type: application/json\r\n{framing}\r\n",
            stack.admin_token()
        )
    };
    for _ in 0..5 {
        let request = patch(&format!("Content-Length: {}\r\n", huge.len())) + &huge;
        let answer = raw::send(
            stack.dist.addr(),
            request.as_bytes(),
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(answer.status, Some(413), "{answer:?}");
    }
    // Without a length the limit holds while reading: 8 MiB, chunked.
    let mut chunked = patch("Transfer-Encoding: chunked\r\n");
    for _ in 0..8 {
        chunked.push_str(&format!("100000\r\n{}\r\n", " ".repeat(1 << 20)));
    }
    chunked.push_str("0\r\n\r\n");
    let answer = raw::send(
        stack.dist.addr(),
        chunked.as_bytes(),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(answer.status, Some(413), "{answer:?}");

    let after = stack.dist.peak_rss();
    eprintln!(
        "distributor peak RSS: {} KiB before, {} KiB after the oversized JSON bodies",
        before >> 10,
        after >> 10
    );
    assert!(
        after < before + (8 << 20),
        "peak RSS grew from {before} to {after} bytes"
    );
    let kept = stack.client.info(stored.id).await.unwrap();
    assert_eq!(kept.filename, "renamed.txt");
}

#[tokio::test]
async fn smuggling_probes_fail_and_store_nothing() {
    let stack = stack_with(&[], "64MiB").await;
    let target = stack.upload("target.txt", "keep me").await;
    let token = stack.admin_token().to_owned();
    // Were any probe's tail read as a request of its own, it would delete
    // the target.
    let smuggled = format!(
        "DELETE /content/{} HTTP/1.1\r\nHost: cdn\r\nAuthorization: Bearer {token}\r\n\r\n",
        target.id
    );
    let post = format!(
        "POST /content?filename=smuggled HTTP/1.1\r\nHost: cdn\r\nAuthorization: Bearer {token}\r\n"
    );
    let probes = [
        (
            "double Content-Length",
            format!("{post}Content-Length: 5\r\nContent-Length: 40\r\n\r\nhello{smuggled}"),
        ),
        (
            "xchunked",
            format!("{post}Transfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n{smuggled}"),
        ),
        (
            "chunked, then another coding",
            format!(
                "{post}Transfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n{smuggled}"
            ),
        ),
        (
            "obs-fold",
            format!("{post}Content-Length: 5\r\nX-Filename: a\r\n b.txt\r\n\r\nhello{smuggled}"),
        ),
        (
            "space before the colon",
            format!("{post}Content-Length : 5\r\n\r\nhello{smuggled}"),
        ),
    ];
    for (name, request) in &probes {
        let (answer, rest) = raw::exchange(
            stack.dist.addr(),
            request.as_bytes(),
            Duration::from_secs(3),
        )
        .await;
        refused(name, &answer);
        assert!(!rest.contains("HTTP/1."), "{name}: a second answer: {rest}");
    }
    // CL+TE: hyper follows RFC 9112 §6.3: the chunked framing wins (here an
    // empty body, on a read-only route) and the connection is closed after
    // the answer, so the tail is never read as a request.
    let cl_te = format!(
        "GET /healthz HTTP/1.1\r\nHost: cdn\r\nContent-Length: 60\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"
    );
    let (answer, rest) =
        raw::exchange(stack.dist.addr(), cl_te.as_bytes(), Duration::from_secs(3)).await;
    assert!(
        answer.closed,
        "CL+TE: the connection stayed open: {answer:?}"
    );
    assert!(!rest.contains("HTTP/1."), "CL+TE: a second answer: {rest}");

    let trace = raw::send(
        stack.dist.addr(),
        b"TRACE /content HTTP/1.1\r\nHost: cdn\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(trace.status, Some(405), "{trace:?}");
    let listed = stack.client.list_all().await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].id, target.id);
}

/// A probe must get 400 or be closed unanswered, never reach a handler.
fn refused(name: &str, answer: &Answer) {
    match answer.status {
        Some(400) => {}
        None => assert!(answer.closed, "{name}: neither answered nor closed"),
        Some(other) => panic!("{name}: answered {other}: {}", answer.head),
    }
}
