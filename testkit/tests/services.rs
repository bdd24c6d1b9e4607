//! The harness's services: ready when started, the same address across a
//! restart, refused connections while down.

use cdn_common::wire::NodeStatus;
use testkit::services::{Mode, Program, Service, Stack};

async fn healthy(url: &str) -> Result<bool, reqwest::Error> {
    Ok(reqwest::get(format!("{url}/healthz"))
        .await?
        .status()
        .is_success())
}

fn node_settings(dir: &std::path::Path) -> [(&'static str, String); 2] {
    [
        ("NODE_ID", "harnessed".to_owned()),
        ("STORAGE_DIR", dir.display().to_string()),
    ]
}

#[tokio::test]
async fn a_killed_child_refuses_connections_until_restarted_on_its_address() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("node.log");
    let mut node = Service::start(
        Program::Node,
        node_settings(&dir.path().join("storage")),
        Mode::Child { log: log.clone() },
    )
    .await;
    let url = node.url.clone();
    assert!(healthy(&url).await.unwrap());
    assert!(node.peak_rss() > 0);

    node.kill();
    let refused = healthy(&url).await.unwrap_err();
    assert!(refused.is_connect(), "{refused}");

    node.restart().await;
    assert_eq!(node.url, url);
    assert!(healthy(&url).await.unwrap());
    assert!(
        node.log().contains("storage node listening"),
        "{}",
        node.log()
    );
}

#[tokio::test]
async fn an_in_process_node_stops_and_restarts_on_its_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Service::start(Program::Node, node_settings(dir.path()), Mode::InProcess).await;
    let url = node.url.clone();
    assert!(healthy(&url).await.unwrap());
    node.stop();
    assert!(healthy(&url).await.unwrap_err().is_connect());
    node.restart().await;
    assert!(healthy(&url).await.unwrap());
}

#[tokio::test]
async fn a_stack_starts_with_every_node_up_and_a_database_of_its_own() {
    let first = Stack::start().await;
    let nodes = first.client.nodes().await.unwrap().nodes;
    assert_eq!(nodes.len(), 3);
    assert!(
        nodes.iter().all(|node| node.status == NodeStatus::Up),
        "{nodes:?}"
    );
    let second = Stack::start().await;
    assert_ne!(first.database_url, second.database_url);
    assert_ne!(first.dist.url, second.dist.url);
}
