//! A bad setting stops a service at start-up with one line naming it.

use std::path::Path;
use std::process::Command;

use testkit::services::Program;

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
    // A socket directory with no server in it: the connection is refused.
    let empty = tempfile::tempdir().unwrap();
    let nowhere = format!(
        "postgres://nobody@localhost/none?host={}",
        empty.path().display()
    );
    let good_nodes = "node1=http://127.0.0.1:1";
    let secret = "a-node-secret-for-this-test";
    // The required settings, and one more.
    let required_and = |extra| {
        vec![
            ("DATABASE_URL", nowhere.as_str()),
            ("NODES", good_nodes),
            ("NODE_SECRET", secret),
            extra,
        ]
    };
    let cases = [
        (vec![("NODES", good_nodes)], "DATABASE_URL"),
        (vec![("DATABASE_URL", nowhere.as_str())], "NODES"),
        (
            vec![("DATABASE_URL", nowhere.as_str()), ("NODES", "node1")],
            "NODES",
        ),
        (required_and(("REPLICATION", "2")), "REPLICATION"),
        (required_and(("POLL_INTERVAL", "often")), "POLL_INTERVAL"),
        (required_and(("LISTEN_ADDR", "here")), "LISTEN_ADDR"),
        (required_and(("NODE_SECRET", "short")), "NODE_SECRET"),
        (
            required_and(("CORS_ORIGINS", "app.example")),
            "CORS_ORIGINS",
        ),
        (
            vec![("DATABASE_URL", nowhere.as_str()), ("NODES", good_nodes)],
            "NODE_SECRET",
        ),
        // Every setting is good: the database is what is refused.
        (required_and(("LISTEN_ADDR", "127.0.0.1:0")), "DATABASE_URL"),
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
    for (bad, variable) in [
        (("MAX_STORAGE", "lots"), "MAX_STORAGE"),
        (("MAX_STORAGE", "-1GB"), "MAX_STORAGE"),
        (("LISTEN_ADDR", "localhost"), "LISTEN_ADDR"),
        (("NODE_SECRET_FILE", "/nonexistent/secret"), "NODE_SECRET"),
        // Every other setting is good: the missing secret is named.
        (("NODE_ID", "n1"), "NODE_SECRET"),
    ] {
        let env = [bad, ("STORAGE_DIR", storage.as_str())];
        let (ok, stderr) = start(&Program::Node.binary(), &env);
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

/// `--help` lists every setting with its default and starts nothing, even
/// with no setting given.
#[test]
fn help_lists_every_setting_and_exits() {
    let programs = [
        (
            Path::new(env!("CARGO_BIN_EXE_cdn-dist")).to_owned(),
            cdn_dist::config::SETTINGS,
        ),
        (Program::Node.binary(), cdn_node::config::SETTINGS),
    ];
    for (binary, settings) in programs {
        let output = Command::new(&binary)
            .env_clear()
            .arg("--help")
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", binary.display());
        let help = String::from_utf8_lossy(&output.stdout);
        for setting in settings {
            assert!(
                help.contains(setting.name),
                "{} missing:\n{help}",
                setting.name
            );
            if let Some(default) = setting.default {
                assert!(
                    help.contains(&format!("[default: {default}]")),
                    "{}'s default missing:\n{help}",
                    setting.name
                );
            }
        }
        assert!(help.contains("RUST_LOG"), "{help}");
    }
}
