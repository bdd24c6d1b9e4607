//! Debian's headless Chromium, for what only a real browser shows: what a
//! page may do, and what its HTTP cache keeps.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// The DOM headless Chromium ends up with after opening `url` and running
/// its scripts for five seconds of virtual time. `profile` is the
/// browser's directory: its HTTP cache lasts from one call to the next.
pub async fn dom_in_chromium(url: &str, profile: &Path) -> String {
    let browser = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let child = tokio::process::Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.display()),
            "--virtual-time-budget=5000",
            "--dump-dom",
            url,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|err| {
            panic!("{browser}: {err} (install Debian's chromium package; scripts/test does)")
        });
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("Chromium dumped the page within 60 s")
        .unwrap();
    assert!(
        output.status.success(),
        "{browser} failed: {:?}",
        output.status
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
