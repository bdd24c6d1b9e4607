//! The storage node's API, served in-process by the library's `run` on a
//! port-0 listener.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::Value;
use testkit::fetch;
use testkit::services::{Mode, Program, Service, node_http};

async fn start(storage: &Path, max_storage: &str) -> Service {
    Service::start(
        Program::Node,
        [
            ("NODE_ID", "test-node"),
            ("STORAGE_DIR", &storage.display().to_string()),
            ("MAX_STORAGE", max_storage),
            ("PUBLIC_URL", "http://cdn.example:8001"),
        ],
        Mode::InProcess,
    )
    .await
}

async fn stats(node: &Service) -> Value {
    fetch::json(node_http().get(format!("{}/stats", node.url))).await
}

#[tokio::test]
async fn stores_serves_and_deletes_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), "1MiB").await;
    let http = node_http();
    let blob = format!("{}/blobs/k1", node.url);

    let stored: Value = fetch::json(http.put(&blob).body("hello world")).await;
    assert_eq!(stored["key"], "k1");
    assert_eq!(stored["size"], 11);
    assert_eq!(
        stored["sha256"],
        "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
    );

    let whole = http.get(&blob).send().await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.text().await.unwrap(), "hello world");
    let part = http
        .get(&blob)
        .header("range", "bytes=6-")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.text().await.unwrap(), "world");
    let head = http.head(&blob).send().await.unwrap();
    assert_eq!(head.headers()["content-length"], "11");

    let report = stats(&node).await;
    assert_eq!(report["node_id"], "test-node");
    assert_eq!(report["storage"], 11);
    assert_eq!(report["objects"], 1);
    assert_eq!(report["max_storage"], 1024 * 1024);
    assert_eq!(report["public_url"], "http://cdn.example:8001");
    assert!(report["memory"].as_u64().unwrap() > 0);
    assert!(report["memory_total"].as_u64().unwrap() >= report["memory"].as_u64().unwrap());
    assert!(report["storagep"].as_f64().unwrap() > 0.0);

    let inventory: Value = fetch::json(http.get(format!("{}/blobs", node.url))).await;
    assert_eq!(
        inventory,
        serde_json::json!({"blobs": [{"key": "k1", "size": 11, "corrupt": false}]})
    );

    assert_eq!(
        http.delete(&blob).send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        http.get(&blob).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        http.delete(&blob).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(stats(&node).await["storage"], 0);
}

#[tokio::test]
async fn refuses_writes_past_max_storage_and_keeps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), "1KiB").await;
    let http = node_http();
    let response = http
        .put(format!("{}/blobs/big", node.url))
        .body(vec![0u8; 2000])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INSUFFICIENT_STORAGE);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "insufficient_storage");
    assert_eq!(stats(&node).await["storage"], 0);
    assert_eq!(
        std::fs::read_dir(dir.path().join("blobs")).unwrap().count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
}

#[tokio::test]
async fn counts_what_is_on_disk_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let node = start(dir.path(), "1MiB").await;
        let http = node_http();
        for (key, body) in [("a", "12345"), ("b", "678")] {
            http.put(format!("{}/blobs/{key}", node.url))
                .body(body)
                .send()
                .await
                .unwrap();
        }
    }
    std::fs::write(dir.path().join("tmp").join("interrupted"), "half a blob").unwrap();
    let node = start(dir.path(), "1MiB").await;
    let stats = stats(&node).await;
    assert_eq!(
        (stats["storage"].as_u64(), stats["objects"].as_u64()),
        (Some(8), Some(2))
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
}
