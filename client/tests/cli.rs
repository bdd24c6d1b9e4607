//! The `cdn` command on its own; its runs against a real stack are in the
//! distributor's integration tests.

use std::process::Command;

use testkit::net::HeldPort;

fn cdn(args: &[&str], url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cdn"))
        .args(args)
        .env("CDN_URL", url)
        .output()
        .unwrap()
}

#[test]
fn help_lists_every_command() {
    let output = cdn(&["--help"], "http://127.0.0.1:1");
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for command in [
        "upload", "download", "info", "ls", "update", "rename", "rm", "nodes", "stats", "demo",
        "key", "bucket",
    ] {
        assert!(help.contains(command), "{command} missing from:\n{help}");
    }
}

#[test]
fn an_unreachable_distributor_is_one_clear_line() {
    // A port held by this test with nothing listening on it: refused.
    let port = HeldPort::new().unwrap();
    let url = port.url();
    let output = cdn(&["ls"], &url);
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error:") && stderr.contains(&url),
        "{stderr}"
    );
}

#[test]
fn bad_arguments_are_refused_before_any_request() {
    let output = cdn(&["info", "not-an-id"], "http://127.0.0.1:1");
    assert!(!output.status.success());
    let output = cdn(&["upload", "a", "b", "--name", "x"], "http://127.0.0.1:1");
    assert_eq!(output.status.code(), Some(2));
}
