//! rclone (its S3 backend, provider "Other") against the S3 API: copy,
//! sync, check, cat and lsjson, with a config file of its own; and `aws s3
//! sync` both ways.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use cdn_common::wire::Scope;
use tempfile::TempDir;
use testkit::services::Stack;

use crate::cli::{Aws, create_key};

const COMMAND_DEADLINE: Duration = Duration::from_secs(90);

/// `rclone` with a config file naming the stack as remote `cdn`.
struct Rclone {
    home: TempDir,
}

impl Rclone {
    fn new(endpoint: &str, key_id: &str, secret: &str) -> Rclone {
        let home = tempfile::tempdir().unwrap();
        let config = format!(
            "[cdn]\ntype = s3\nprovider = Other\naccess_key_id = {key_id}\n\
             secret_access_key = {secret}\nendpoint = {endpoint}\nregion = us-east-1\n\
             force_path_style = true\n"
        );
        std::fs::write(home.path().join("rclone.conf"), config).unwrap();
        Rclone { home }
    }

    fn dir(&self) -> &Path {
        self.home.path()
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut command = tokio::process::Command::new("rclone");
        command
            .arg("--config")
            .arg(self.home.path().join("rclone.conf"))
            .args(["--retries", "1", "--low-level-retries", "1"])
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .current_dir(self.home.path())
            .kill_on_drop(true);
        tokio::time::timeout(COMMAND_DEADLINE, command.output())
            .await
            .unwrap_or_else(|_| panic!("rclone {args:?} took over {COMMAND_DEADLINE:?}"))
            .unwrap_or_else(|err| panic!("running rclone {args:?}: {err}"))
    }

    async fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args).await;
        assert!(
            output.status.success(),
            "rclone {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }
}

/// A small tree: nested directories, an empty file, awkward names.
fn make_tree(root: &Path) {
    for (path, len) in [
        ("a.txt", 100),
        ("empty.bin", 0),
        ("sub/b.bin", 70_000),
        ("sub/deeper/c d.txt", 3),
        ("sub/ünï+code.txt", 12),
    ] {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let bytes: Vec<u8> = (0..len).map(|i| (i * 13 % 251) as u8).collect();
        std::fs::write(path, bytes).unwrap();
    }
}

#[tokio::test]
async fn rclone_copies_syncs_checks_cats_and_lists() {
    let stack = Stack::start().await;
    let key = create_key(&stack, "rclone", &[Scope::Read, Scope::Write]).await;
    let endpoint = stack.dist.s3_url.clone().expect("an S3 listener");
    let rclone = Rclone::new(&endpoint, &key.access_key_id, &key.secret_access_key);
    let source = rclone.dir().join("source");
    make_tree(&source);
    let source = source.to_str().unwrap();

    rclone.ok(&["mkdir", "cdn:backup"]).await;
    rclone.ok(&["copy", source, "cdn:backup/copied"]).await;
    rclone.ok(&["sync", source, "cdn:backup/synced"]).await;
    rclone.ok(&["check", source, "cdn:backup/synced"]).await;
    let text = rclone
        .ok(&["cat", "cdn:backup/synced/sub/deeper/c d.txt"])
        .await;
    assert_eq!(text.as_bytes(), &[0, 13, 26]);

    let listed = rclone
        .ok(&["lsjson", "-R", "--files-only", "cdn:backup/copied"])
        .await;
    let listed: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap();
    let mut paths: Vec<(&str, u64)> = listed
        .iter()
        .map(|entry| {
            (
                entry["Path"].as_str().unwrap(),
                entry["Size"].as_u64().unwrap(),
            )
        })
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            ("a.txt", 100),
            ("empty.bin", 0),
            ("sub/b.bin", 70_000),
            ("sub/deeper/c d.txt", 3),
            ("sub/ünï+code.txt", 12)
        ]
    );

    // A change on one side: sync makes the other side match, check agrees,
    // and a file deleted locally goes remotely too.
    std::fs::write(rclone.dir().join("source/a.txt"), b"changed").unwrap();
    std::fs::remove_file(rclone.dir().join("source/sub/b.bin")).unwrap();
    let stale = rclone.run(&["check", source, "cdn:backup/synced"]).await;
    assert!(!stale.status.success(), "check missed a difference");
    rclone.ok(&["sync", source, "cdn:backup/synced"]).await;
    rclone.ok(&["check", source, "cdn:backup/synced"]).await;
    assert_eq!(
        rclone.ok(&["cat", "cdn:backup/synced/a.txt"]).await,
        "changed"
    );

    // And back down.
    let down = rclone.dir().join("down");
    rclone
        .ok(&["copy", "cdn:backup/synced", down.to_str().unwrap()])
        .await;
    rclone.ok(&["check", source, down.to_str().unwrap()]).await;
}

#[tokio::test]
async fn aws_s3_sync_goes_both_ways() {
    let stack = Stack::start().await;
    let key = create_key(&stack, "sync", &[Scope::Read, Scope::Write]).await;
    let aws = Aws::new(&stack, &key.access_key_id, &key.secret_access_key);
    aws.ok(&["s3", "mb", "s3://mirror"]).await;
    make_tree(&aws.dir().join("up"));
    aws.ok(&["s3", "sync", "up", "s3://mirror/tree"]).await;
    let listed = aws
        .ok(&["s3", "ls", "--recursive", "s3://mirror/tree/"])
        .await;
    assert_eq!(listed.lines().count(), 5, "{listed}");

    // A second sync sends nothing; a deletion travels with --delete.
    let again = aws.ok(&["s3", "sync", "up", "s3://mirror/tree"]).await;
    assert!(!again.contains("upload:"), "{again}");
    std::fs::remove_file(aws.dir().join("up/a.txt")).unwrap();
    let deleted = aws
        .ok(&["s3", "sync", "up", "s3://mirror/tree", "--delete"])
        .await;
    assert!(
        deleted.contains("delete: s3://mirror/tree/a.txt"),
        "{deleted}"
    );

    aws.ok(&["s3", "sync", "s3://mirror/tree", "down"]).await;
    for path in [
        "empty.bin",
        "sub/b.bin",
        "sub/deeper/c d.txt",
        "sub/ünï+code.txt",
    ] {
        assert_eq!(
            std::fs::read(aws.dir().join("down").join(path)).unwrap(),
            std::fs::read(aws.dir().join("up").join(path)).unwrap(),
            "{path}"
        );
    }
    assert!(!aws.dir().join("down/a.txt").exists());
}
