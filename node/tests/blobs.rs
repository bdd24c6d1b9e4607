//! The storage node's API, served by the real `cdn-node` binary.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

struct Node {
    child: Child,
    url: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(storage: &Path, max_storage: &str) -> Node {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_cdn-node"))
        .env_clear()
        .env("NODE_ID", "test-node")
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("STORAGE_DIR", storage)
        .env("MAX_STORAGE", max_storage)
        .env("PUBLIC_URL", "http://cdn.example:8001")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let node = Node {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while reqwest::get(format!("{}/healthz", node.url)).await.is_err() {
        assert!(Instant::now() < deadline, "cdn-node did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    node
}

async fn stats(node: &Node) -> Value {
    reqwest::get(format!("{}/stats", node.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn stores_serves_and_deletes_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), "1MiB").await;
    let http = reqwest::Client::new();
    let blob = format!("{}/blobs/k1", node.url);

    let stored: Value = http
        .put(&blob)
        .body("hello world")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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

    let inventory: Value = reqwest::get(format!("{}/blobs", node.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
    let http = reqwest::Client::new();
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
        let http = reqwest::Client::new();
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
