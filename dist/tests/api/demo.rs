//! The `cdn` command's demo, run for real against the stack.

use std::process::Command;

use testkit::services::{Stack, cdn_binary};

#[tokio::test]
async fn the_demo_runs_clean() {
    let stack = Stack::start().await;
    let workdir = tempfile::tempdir().unwrap();
    // As in Compose: the token comes from a file the distributor shares.
    let secrets = tempfile::tempdir().unwrap();
    let token_file = secrets.path().join("admin-token");
    std::fs::write(&token_file, format!("{}\n", stack.admin_token())).unwrap();
    let output = tokio::task::spawn_blocking({
        let url = stack.dist.url.clone();
        let workdir = workdir.path().to_owned();
        move || {
            Command::new(cdn_binary())
                .arg("demo")
                .env("CDN_URL", url)
                .env_remove("CDN_TOKEN")
                .env("CDN_TOKEN_FILE", token_file)
                .current_dir(workdir)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "cdn demo failed:\n{stdout}\n{stderr}"
    );
    assert!(workdir.path().join("client_data").is_dir());
    assert!(workdir.path().join("tmp").is_dir());
    // The demo deletes what it made.
    assert!(stack.client.list_all().await.unwrap().is_empty());
    assert!((0..3).all(|node| stack.blobs_on_disk(node).is_empty()));
}
