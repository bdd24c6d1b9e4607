//! Where uploads go: the emptiest node, never a down one, and a clean
//! refusal when nothing has room.

use bytes::Bytes;
use cdn_common::wire::NodeStatus;
use reqwest::StatusCode;

use testkit::services::{Children, Stack, StackConfig};

/// Uploads `len` bytes and returns the node that took them.
async fn upload_to(stack: &Stack, len: usize) -> String {
    let content = stack.upload("x.bin", vec![b'x'; len]).await;
    content.replicas[0].node.to_string()
}

#[tokio::test]
async fn each_upload_goes_to_the_emptiest_node_in_percent() {
    // node1 has the most free bytes but is the fullest in percent.
    let stack = Stack::start_with(StackConfig {
        max_storage: ["20MB", "10MB", "10MB"],
        prefill: [10_000_000, 1_000_000, 3_000_000],
        ..StackConfig::default()
    })
    .await;
    let stats = stack.client.stats().await.unwrap();
    let reported: Vec<u64> = stats
        .nodes
        .iter()
        .map(|n| n.stats.as_ref().unwrap().storage)
        .collect();
    assert_eq!(
        reported,
        [10_000_000, 1_000_000, 3_000_000],
        "nodes count what is on disk at start"
    );

    // Each upload adds 7.5 points to node1 and 15 to the others; start at
    // 50%, 10%, 30%.
    let mut placed = Vec::new();
    for _ in 0..8 {
        placed.push(upload_to(&stack, 1_500_000).await);
    }
    assert_eq!(
        placed,
        [
            "node2", "node2", "node3", "node2", "node3", "node1", "node2", "node1"
        ]
    );
    let stats = stack.client.stats().await.unwrap();
    assert_eq!(stats.totals.objects, 8);
}

#[tokio::test]
async fn a_node_that_goes_down_gets_no_writes() {
    let mut stack = Stack::start_with(StackConfig {
        children: Children::NODES,
        ..StackConfig::default()
    })
    .await;
    stack.nodes[0].kill();
    stack.wait_for_node("node1", NodeStatus::Down).await;
    let nodes = stack.client.nodes().await.unwrap();
    let node1 = nodes
        .nodes
        .iter()
        .find(|n| n.id.as_str() == "node1")
        .unwrap();
    assert!(node1.last_error.is_some());
    for _ in 0..4 {
        assert_ne!(upload_to(&stack, 100).await, "node1");
    }
    assert_eq!(stack.status_of("/readyz").await, 200);

    stack.nodes[1].kill();
    stack.nodes[2].kill();
    stack.wait_for_node("node3", NodeStatus::Down).await;
    stack.wait_for_node("node2", NodeStatus::Down).await;
    let refused = stack.try_upload("x.bin", [b'x'; 10]).await.unwrap_err();
    assert_eq!(
        refused.status(),
        Some(StatusCode::SERVICE_UNAVAILABLE),
        "{refused}"
    );
    assert_eq!(stack.status_of("/readyz").await, 503);
    assert_eq!(stack.status_of("/healthz").await, 200);
}

#[tokio::test]
async fn when_every_node_is_full_the_upload_fails_with_507_and_leaves_nothing() {
    let stack = Stack::start_with(StackConfig {
        max_storage: ["1000", "1000", "1000"],
        ..StackConfig::default()
    })
    .await;
    for _ in 0..3 {
        upload_to(&stack, 600).await;
    }
    // Known length: refused before a byte moves.
    let refused = stack.try_upload("x.bin", [b'x'; 600]).await.unwrap_err();
    assert_eq!(
        refused.status(),
        Some(StatusCode::INSUFFICIENT_STORAGE),
        "{refused}"
    );
    assert_eq!(refused.code(), Some("insufficient_storage"));

    // Unknown length: a node takes it, runs out of room mid-stream, and the
    // write is undone.
    let chunks = (0..6).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'y'; 100])));
    let refused = stack
        .client
        .upload_stream(
            futures::stream::iter(chunks.collect::<Vec<_>>()),
            None,
            "y.bin",
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(
        refused.status(),
        Some(StatusCode::INSUFFICIENT_STORAGE),
        "{refused}"
    );

    // Larger than any node could ever hold.
    let too_large = stack.try_upload("z.bin", [b'x'; 2000]).await.unwrap_err();
    assert_eq!(
        too_large.status(),
        Some(StatusCode::PAYLOAD_TOO_LARGE),
        "{too_large}"
    );

    assert_eq!(stack.client.list_all().await.unwrap().len(), 3);
    for node in 0..3 {
        assert_eq!(stack.blobs_on_disk(node).len(), 1, "node{}", node + 1);
        assert!(
            stack.temp_files_on_disk(node).is_empty(),
            "node{}",
            node + 1
        );
    }
}
