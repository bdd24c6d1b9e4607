//! A bad setting stops a service at start-up with one line naming it.

use std::path::Path;
use std::process::Command;

use crate::helpers::{free_port, node_binary};

fn start(binary: &Path, env: &[(&str, &str)]) -> (bool, String) {
    let output = Command::new(binary)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_distributor_names_the_bad_variable() {
    let dist = Path::new(env!("CARGO_BIN_EXE_cdn-dist"));
    let unused_port = free_port();
    let nowhere = format!("postgres://nobody@127.0.0.1:{unused_port}/none");
    let good_nodes = "node1=http://127.0.0.1:1";
    let cases = [
        (vec![("NODES", good_nodes)], "DATABASE_URL"),
        (vec![("DATABASE_URL", nowhere.as_str())], "NODES"),
        (
            vec![("DATABASE_URL", nowhere.as_str()), ("NODES", "node1")],
            "NODES",
        ),
        (
            vec![
                ("DATABASE_URL", nowhere.as_str()),
                ("NODES", good_nodes),
                ("REPLICATION", "2"),
            ],
            "REPLICATION",
        ),
        (
            vec![
                ("DATABASE_URL", nowhere.as_str()),
                ("NODES", good_nodes),
                ("POLL_INTERVAL", "often"),
            ],
            "POLL_INTERVAL",
        ),
        (
            vec![
                ("DATABASE_URL", nowhere.as_str()),
                ("NODES", good_nodes),
                ("LISTEN_ADDR", "here"),
            ],
            "LISTEN_ADDR",
        ),
        (
            vec![
                ("DATABASE_URL", nowhere.as_str()),
                ("NODES", good_nodes),
                ("LISTEN_ADDR", "127.0.0.1:0"),
            ],
            "DATABASE_URL",
        ),
    ];
    for (env, variable) in cases {
        let (ok, stderr) = start(dist, &env);
        assert!(!ok, "{env:?} should not start");
        assert!(
            stderr.starts_with(&format!("cdn-dist: {variable}")),
            "{env:?}: {stderr}"
        );
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
}

#[test]
fn the_node_names_the_bad_variable() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().display().to_string();
    for (env, variable) in [
        (
            vec![("MAX_STORAGE", "lots"), ("STORAGE_DIR", storage.as_str())],
            "MAX_STORAGE",
        ),
        (
            vec![("MAX_STORAGE", "-1GB"), ("STORAGE_DIR", storage.as_str())],
            "MAX_STORAGE",
        ),
        (
            vec![
                ("LISTEN_ADDR", "localhost"),
                ("STORAGE_DIR", storage.as_str()),
            ],
            "LISTEN_ADDR",
        ),
    ] {
        let (ok, stderr) = start(&node_binary(), &env);
        assert!(!ok, "{env:?} should not start");
        assert!(
            stderr.starts_with(&format!("cdn-node: {variable}")),
            "{env:?}: {stderr}"
        );
        assert!(
            stderr.contains("lots") || variable != "MAX_STORAGE" || stderr.contains("-1GB"),
            "{stderr}"
        );
    }
}
