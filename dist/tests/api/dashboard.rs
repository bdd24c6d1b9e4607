//! The dashboard in a real browser. The tests under `tests/browser` drive
//! headless Chromium (Playwright, Node's test runner) against a whole
//! stack started here: sign in, uploads, previews, sharing, replace,
//! visibility, search, rename, delete, phone width, the forms without
//! JavaScript, and a node killed mid-run that the page must show as down.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::task::JoinHandle;

use testkit::services::{Children, Stack, StackConfig, node_index};

/// How long the whole browser run may take before it is killed.
const DEADLINE: Duration = Duration::from_secs(300);

/// The node the cluster test kills.
const NODE_TO_STOP: &str = "node2";

#[tokio::test]
#[ignore = "browser: needs Chromium and the npm packages of tests/browser (scripts/test installs both)"]
async fn the_dashboard_works_in_a_real_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate lives in the workspace")
        .to_path_buf();
    let browser_tests = root.join("tests/browser");
    assert!(
        browser_tests.join("node_modules/playwright-core").is_dir(),
        "the browser tests' npm packages are missing: run npm ci --prefix tests/browser"
    );
    let stack = Stack::start_with(StackConfig {
        // The page must show a killed node as down within seconds: the
        // distributor notices after three missed polls.
        dist_env: vec![("POLL_INTERVAL", "500ms".to_owned())],
        children: Children::NODES,
        ..StackConfig::default()
    })
    .await;
    let node_pid = stack.nodes[node_index(NODE_TO_STOP)]
        .pid()
        .expect("the nodes run as child processes");
    let screenshots = root.join("artifacts/screenshots");
    // Pictures of an earlier run must not pass for this one's.
    let _ = std::fs::remove_dir_all(&screenshots);

    let mut node = Command::new("node")
        // One file at a time, in order: they share the stack and its counts.
        .args(["--test", "--test-concurrency=1", "--test-reporter=spec"])
        .args(test_files(&browser_tests))
        .current_dir(&root)
        .env("CDN_URL", &stack.dist.url)
        .env("CDN_TOKEN", stack.admin_token())
        .env("NODE_TO_STOP", NODE_TO_STOP)
        .env("NODE_TO_STOP_PID", node_pid.to_string())
        .env("SCREENSHOT_DIR", &screenshots)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting node: the browser tests need Node.js 20 or later on PATH");
    let output = [
        forward(node.stdout.take().expect("stdout is piped")),
        forward(node.stderr.take().expect("stderr is piped")),
    ];

    let status = match tokio::time::timeout(DEADLINE, node.wait()).await {
        Ok(status) => status.expect("waiting for node"),
        Err(_) => {
            // Chromium ends with node: it is driven through a pipe it
            // watches.
            let _ = node.start_kill();
            panic!("the browser tests did not finish within {DEADLINE:?}");
        }
    };
    for lines in output {
        let _ = tokio::time::timeout(Duration::from_secs(10), lines).await;
    }
    assert!(
        status.success(),
        "the browser tests failed ({status}): their report is above; screenshots in {}",
        screenshots.display()
    );
}

/// The `*.test.mjs` files of `dir`, by name, relative to the repository.
fn test_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("reading tests/browser")
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().ends_with(".test.mjs"))
        })
        .map(|path| Path::new("tests/browser").join(path.file_name().unwrap()))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.test.mjs in {}", dir.display());
    files
}

/// Prints each line of `stream` through the test's own output, so that
/// `cargo test` shows it on failure or with `--nocapture`.
fn forward(stream: impl AsyncRead + Unpin + Send + 'static) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            println!("{line}");
        }
    })
}
