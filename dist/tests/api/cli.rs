//! The `cdn` command, run as a separate process against the real stack:
//! what a person at a terminal (or a script reading `--json`) gets.

use std::path::{Path, PathBuf};
use std::process::Command;

use cdn_common::wire::{Content, ContentList, NodeStatus};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use testkit::services::{NODE_IDS, Stack, cdn_binary};

/// What one run of `cdn` left behind.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Panics, showing both streams, unless the command succeeded.
    fn ok(self, what: &str) -> Self {
        assert!(
            self.success(),
            "`cdn {what}` failed ({:?}):\nstdout: {}\nstderr: {}",
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("not the JSON expected ({error}):\n{}", self.stdout))
    }
}

/// `cdn`, run in one directory against the stack's distributor.
struct Cdn<'a> {
    stack: &'a Stack,
    dir: &'a Path,
}

impl<'a> Cdn<'a> {
    fn new(stack: &'a Stack, dir: &'a Path) -> Self {
        Cdn { stack, dir }
    }

    /// Runs `cdn ARGS`, whatever comes of it.
    async fn run(&self, args: &[&str]) -> Run {
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        let (url, dir) = (self.stack.dist.url.clone(), self.dir.to_owned());
        let token = self.stack.admin_token().to_owned();
        let output = tokio::task::spawn_blocking(move || {
            Command::new(cdn_binary())
                .args(args)
                .env("CDN_URL", url)
                .env("CDN_TOKEN", token)
                .current_dir(dir)
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        Run {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }

    /// Runs `cdn ARGS`, which must succeed.
    async fn ok(&self, args: &[&str]) -> Run {
        self.run(args).await.ok(&args.join(" "))
    }

    /// Runs `cdn --json ARGS`, which must succeed, and reads what it printed.
    async fn json<T: DeserializeOwned>(&self, args: &[&str]) -> T {
        self.ok(&[&["--json"], args].concat()).await.json()
    }
}

/// Every file under `root`, as paths relative to it, sorted.
fn files_under(root: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, found);
            } else {
                found.push(path.strip_prefix(root).unwrap().to_owned());
            }
        }
    }
    let mut found = Vec::new();
    walk(root, root, &mut found);
    found.sort();
    found
}

/// The id at the start of a `✓ ID  NAME  SIZE, vN, on NODES` line.
fn id_of_stored_line(line: &str) -> Uuid {
    let id = line
        .strip_prefix("✓ ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("not a stored line: {line:?}"));
    id.parse().unwrap()
}

/// Bytes that are not all the same, so a flipped or shifted byte shows.
fn patterned(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[tokio::test]
async fn the_content_lifecycle_from_the_command_line() {
    let stack = Stack::start().await;
    let work = tempfile::tempdir().unwrap();
    let text = b"alpha\n".to_vec();
    let binary = patterned(3000);
    std::fs::write(work.path().join("a.txt"), &text).unwrap();
    std::fs::write(work.path().join("b.bin"), &binary).unwrap();

    let cdn = Cdn::new(&stack, work.path());
    let upload = cdn.ok(&["upload", "a.txt", "b.bin"]).await;
    let lines: Vec<&str> = upload.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", upload.stdout);
    assert!(
        lines[0].contains("  a.txt  6 B, v1, on node"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("  b.bin  2.9 KiB, v1, on node"),
        "{}",
        lines[1]
    );
    let text_id = id_of_stored_line(lines[0]);
    let binary_id = id_of_stored_line(lines[1]);

    let list: ContentList = cdn.json(&["ls"]).await;
    assert_eq!(list.next_cursor, None);
    let mut listed: Vec<(Uuid, &str, u64)> = list
        .items
        .iter()
        .map(|content| (content.id, content.filename.as_str(), content.size))
        .collect();
    listed.sort_by_key(|(_, name, _)| name.to_string());
    assert_eq!(
        listed,
        [(text_id, "a.txt", 6), (binary_id, "b.bin", 3000)],
        "{list:?}"
    );

    // Human-readable details name the object and the node holding it.
    let binary_info = list.items.iter().find(|c| c.id == binary_id).unwrap();
    assert_eq!(binary_info.replicas.len(), 1, "{binary_info:?}");
    let holder = &binary_info.replicas[0].node;
    let info = cdn.ok(&["info", &binary_id.to_string()]).await;
    assert!(info.stdout.contains("b.bin"), "{}", info.stdout);
    assert!(
        info.stdout.contains(&format!("{holder}  ok  ")),
        "{}",
        info.stdout
    );
    assert!(info.stdout.contains("3000 bytes"), "{}", info.stdout);

    // Without -o, the file is created in the current directory under the
    // stored name, and nothing else is left there.
    let downloads = tempfile::tempdir().unwrap();
    let in_downloads = Cdn::new(&stack, downloads.path());
    in_downloads.ok(&["download", &binary_id.to_string()]).await;
    assert_eq!(files_under(downloads.path()), [PathBuf::from("b.bin")]);
    assert_eq!(
        std::fs::read(downloads.path().join("b.bin")).unwrap(),
        binary
    );
    // A second download would replace that file: refused without --force.
    std::fs::write(downloads.path().join("b.bin"), b"mine").unwrap();
    let again = in_downloads
        .run(&["download", &binary_id.to_string()])
        .await;
    assert_eq!(again.code, Some(1), "{}", again.stderr);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    assert_eq!(
        std::fs::read(downloads.path().join("b.bin")).unwrap(),
        b"mine"
    );

    // Update: same id, version 2, new bytes, same name.
    let replacement = b"alpha, second edition\n";
    std::fs::write(work.path().join("a-v2.txt"), replacement).unwrap();
    let update = cdn.ok(&["update", &text_id.to_string(), "a-v2.txt"]).await;
    assert!(update.stdout.contains(", v2, on node"), "{}", update.stdout);
    let updated: Content = cdn.json(&["info", &text_id.to_string()]).await;
    assert_eq!(updated.version, 2);
    assert_eq!(updated.size, replacement.len() as u64);
    assert_eq!(updated.filename, "a.txt");
    assert_eq!(updated.sha256.to_hex(), sha256_hex(replacement));

    // Rename: the name changes, the bytes and version do not.
    let rename = cdn
        .ok(&["rename", &text_id.to_string(), "renamed.txt"])
        .await;
    assert_eq!(
        rename.stdout.trim_end(),
        format!("✓ {text_id} renamed to renamed.txt")
    );
    let renamed: Content = cdn.json(&["info", &text_id.to_string()]).await;
    assert_eq!(renamed.filename, "renamed.txt");
    assert_eq!(renamed.version, 2);
    assert_eq!(renamed.sha256, updated.sha256);

    // Delete, then the object is gone: exit code 1 and one line on stderr.
    let rm = cdn.ok(&["rm", &text_id.to_string()]).await;
    assert_eq!(rm.stdout.trim_end(), format!("✓ deleted {text_id}"));
    let gone = cdn.run(&["info", &text_id.to_string()]).await;
    assert_eq!(gone.code, Some(1), "{}", gone.stderr);
    assert_eq!(gone.stdout, "");
    assert_eq!(gone.stderr.lines().count(), 1, "{}", gone.stderr);
    assert!(
        gone.stderr.starts_with("error: not_found: "),
        "{}",
        gone.stderr
    );
    let remaining = stack.client.list_all().await.unwrap();
    assert_eq!(
        remaining.iter().map(|c| c.id).collect::<Vec<_>>(),
        [binary_id]
    );
}

#[tokio::test]
async fn a_stored_name_cannot_make_a_download_escape_its_directory() {
    let stack = Stack::start().await;
    let sources = tempfile::tempdir().unwrap();
    std::fs::write(sources.path().join("plain.txt"), b"via the command\n").unwrap();
    // Uploaded by the command with a name chosen to climb out...
    let by_command: Content = Cdn::new(&stack, sources.path())
        .json(&["upload", "plain.txt", "--name", "../../escape.txt"])
        .await;
    assert_eq!(by_command.filename, "../../escape.txt");
    // ...and by another client with a name naming another directory.
    let by_library = stack.upload("../evil/x.txt", b"via the library\n").await;
    assert_eq!(by_library.filename, "../evil/x.txt");

    // Downloads run two levels down, so `../..` would still be in `root`.
    let root = tempfile::tempdir().unwrap();
    let here = root.path().join("a").join("b");
    std::fs::create_dir_all(&here).unwrap();
    let cdn = Cdn::new(&stack, &here);
    for id in [by_command.id, by_library.id] {
        cdn.ok(&["download", &id.to_string()]).await;
    }
    // With -o naming a directory, the name is used inside it, just as safely.
    std::fs::create_dir(here.join("into")).unwrap();
    cdn.ok(&["download", &by_library.id.to_string(), "-o", "into"])
        .await;

    assert_eq!(
        files_under(root.path()),
        [
            PathBuf::from("a/b/escape.txt"),
            PathBuf::from("a/b/into/x.txt"),
            PathBuf::from("a/b/x.txt"),
        ]
    );
    assert_eq!(
        std::fs::read(here.join("escape.txt")).unwrap(),
        b"via the command\n"
    );
    assert_eq!(
        std::fs::read(here.join("x.txt")).unwrap(),
        b"via the library\n"
    );
    assert_eq!(
        std::fs::read(here.join("into/x.txt")).unwrap(),
        b"via the library\n"
    );
}

#[tokio::test]
async fn a_corrupt_copy_never_becomes_a_downloaded_file() {
    let stack = Stack::start().await;
    let sources = tempfile::tempdir().unwrap();
    let original = patterned(256 * 1024);
    std::fs::write(sources.path().join("data.bin"), &original).unwrap();
    let content: Content = Cdn::new(&stack, sources.path())
        .json(&["upload", "data.bin"])
        .await;
    assert_eq!(content.size, original.len() as u64);

    // The only copy (replication 1) gets one byte flipped on the node's disk.
    let (node, key) = (0..3)
        .flat_map(|node| {
            stack
                .blobs_on_disk(node)
                .into_iter()
                .map(move |key| (node, key))
        })
        .collect::<Vec<_>>()
        .pop()
        .expect("a blob on some node");
    assert_eq!(NODE_IDS[node], content.replicas[0].node.as_str());
    let blob = stack.blob_file(node, &key);
    let mut bytes = std::fs::read(&blob).unwrap();
    assert_eq!(bytes, original, "the blob is stored as is");
    bytes[100_000] ^= 0x01;
    std::fs::write(&blob, &bytes).unwrap();

    // Whether the distributor aborts the read or the client finds the
    // checksum wrong, the command fails and leaves no file, not even a
    // partial one.
    let downloads = tempfile::tempdir().unwrap();
    let in_downloads = Cdn::new(&stack, downloads.path());
    let run = in_downloads
        .run(&["download", &content.id.to_string(), "-o", "out.bin"])
        .await;
    assert!(
        !run.success(),
        "a corrupt copy was accepted:\n{}",
        run.stdout
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert_eq!(files_under(downloads.path()), Vec::<PathBuf>::new());

    // The same without -o: nothing under the stored name either.
    let run = in_downloads
        .run(&["download", &content.id.to_string()])
        .await;
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(files_under(downloads.path()), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn nodes_and_stats_show_the_three_nodes() {
    let stack = Stack::start().await;
    for id in NODE_IDS {
        stack.wait_for_node(id, NodeStatus::Up).await;
    }
    let work = tempfile::tempdir().unwrap();
    let cdn = Cdn::new(&stack, work.path());

    let nodes = cdn.ok(&["nodes"]).await;
    let stats = cdn.ok(&["stats"]).await;
    // Both tables have a row for each node, showing it up.
    for table in [&nodes.stdout, &stats.stdout] {
        for id in NODE_IDS {
            let row = table
                .lines()
                .find(|line| line.starts_with(id))
                .unwrap_or_else(|| panic!("no row for {id}:\n{table}"));
            assert!(row.contains(" up "), "{row}");
        }
    }
    assert!(
        stats.stdout.contains(" objects; "),
        "no totals line:\n{}",
        stats.stdout
    );

    let json: serde_json::Value = cdn.json(&["nodes"]).await;
    let listed = json["nodes"].as_array().expect("a nodes array");
    let mut ids: Vec<&str> = listed
        .iter()
        .map(|node| node["id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, NODE_IDS, "{json:#}");
    assert!(listed.iter().all(|node| node["status"] == "up"), "{json:#}");
}
