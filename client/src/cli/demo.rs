//! `cdn demo`: the original test client's round trip, step by step.
//!
//! Generates text files in `client_data/`, uploads them, downloads them into
//! `tmp/` and compares the bytes, replaces one and checks the new bytes,
//! then deletes everything it uploaded and checks that it is gone. Each
//! check prints a ✓ line; the first mismatch stops the demo with an error
//! saying what differed, so the command exits non-zero.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use cdn_client::wire::{Content, NodeStatus};
use cdn_client::{Client, NoProgress, safe_file_name};
use cdn_common::{Fingerprint, Hasher, Sha256};
use tokio::fs::File;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};

use super::Output;
use super::render::{human_size, replicas_summary};

const DATA_DIR: &str = "client_data";
const DOWNLOAD_DIR: &str = "tmp";

/// The generated files: a few sizes, and a non-ASCII name with a space to
/// show names survive the trip.
const SAMPLES: [(&str, u64); 4] = [
    ("small.txt", 3 * 1024),
    ("notes.txt", 48 * 1024),
    ("big.txt", 1024 * 1024),
    ("café menu.txt", 2 * 1024),
];

/// Which sample is replaced, and by what.
const REPLACED: &str = "notes.txt";
const REPLACEMENT: (&str, u64) = ("notes-v2.txt", 96 * 1024);

const READ_BUFFER: usize = 64 * 1024;

/// A generated file and what its bytes are.
struct LocalFile {
    path: PathBuf,
    size: u64,
    sha256: Sha256,
}

pub async fn run(client: &Client, out: &Output) -> anyhow::Result<()> {
    out.line(format!("mini CDN demo against {}", client.base_url()))?;
    show_cluster(client, out).await?;

    // Each run writes different bytes, so nothing left by an earlier run
    // (on the server or in tmp/) can make a check pass by accident.
    let run_tag = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    for dir in [DATA_DIR, DOWNLOAD_DIR] {
        tokio::fs::create_dir_all(dir)
            .await
            .with_context(|| format!("cannot create {dir}/"))?;
    }

    out.line("\n— generate")?;
    let mut samples = Vec::new();
    for (name, size) in SAMPLES {
        samples.push((name, generate(out, name, size, &run_tag).await?));
    }

    out.line("\n— upload")?;
    let mut uploaded: Vec<(Content, LocalFile)> = Vec::new();
    for (name, local) in samples {
        let content = client
            .upload_file(&local.path, None, NoProgress)
            .await
            .with_context(|| format!("uploading {}", local.path.display()))?;
        check_stored(&content, name, &local, 1)?;
        out.line(format!(
            "✓ {name} ({}) → {} on {}",
            human_size(content.size),
            content.id,
            replicas_summary(&content.replicas)
        ))?;
        uploaded.push((content, local));
    }

    out.line("\n— download and compare")?;
    for (content, local) in &uploaded {
        download_and_compare(client, out, content, local).await?;
    }

    out.line("\n— update")?;
    let Some(position) = uploaded
        .iter()
        .position(|(content, _)| content.filename == REPLACED)
    else {
        bail!("{REPLACED} is missing from the uploads");
    };
    let (replacement_name, replacement_size) = REPLACEMENT;
    let replacement = generate(out, replacement_name, replacement_size, &run_tag).await?;
    let (before, _) = &uploaded[position];
    let after = client
        .replace_file(before.id, &replacement.path, None, NoProgress)
        .await
        .with_context(|| format!("replacing {REPLACED} with {}", replacement.path.display()))?;
    ensure_same("id after the update", before.id, after.id)?;
    check_stored(&after, REPLACED, &replacement, before.version + 1)?;
    out.line(format!(
        "✓ {REPLACED} is now v{} ({}): was on {}, now on {}",
        after.version,
        human_size(after.size),
        replicas_summary(&before.replicas),
        replicas_summary(&after.replicas)
    ))?;
    download_and_compare(client, out, &after, &replacement).await?;
    uploaded[position] = (after, replacement);

    out.line("\n— delete")?;
    for (content, _) in &uploaded {
        client
            .delete(content.id)
            .await
            .with_context(|| format!("deleting {} ({})", content.id, content.filename))?;
        match client.info(content.id).await {
            Err(error) if error.is_not_found() => out.line(format!(
                "✓ deleted {} ({}): info now answers {} {}",
                content.filename,
                content.id,
                error.status().map_or(404, |status| status.as_u16()),
                error.code().unwrap_or("not_found"),
            ))?,
            Err(error) => {
                return Err(error).context(format!("checking that {} is gone", content.id));
            }
            Ok(_) => bail!(
                "✗ {} ({}) still has metadata after its deletion",
                content.id,
                content.filename
            ),
        }
    }

    let listed = client.list_all().await.context("listing what is left")?;
    let still_listed: Vec<String> = uploaded
        .iter()
        .filter(|(content, _)| listed.iter().any(|item| item.id == content.id))
        .map(|(content, _)| content.id.to_string())
        .collect();
    ensure!(
        still_listed.is_empty(),
        "✗ deleted objects are still listed: {}",
        still_listed.join(", ")
    );
    out.line(format!(
        "✓ none of the {} objects is listed any more ({} other objects listed)",
        uploaded.len(),
        listed.len()
    ))?;

    out.line("\n✓ demo passed")
}

/// Prints the nodes, so a failure later can be read against them.
async fn show_cluster(client: &Client, out: &Output) -> anyhow::Result<()> {
    let nodes = client
        .nodes()
        .await
        .with_context(|| format!("asking {} for its nodes", client.base_url()))?;
    let up: Vec<&str> = nodes
        .nodes
        .iter()
        .filter(|node| node.status == NodeStatus::Up)
        .map(|node| node.id.as_str())
        .collect();
    let up_list = if up.is_empty() {
        "none".to_owned()
    } else {
        up.join(", ")
    };
    out.line(format!(
        "✓ the distributor answers: {} nodes, up: {up_list}",
        nodes.nodes.len()
    ))
}

/// Downloads `content` into `tmp/` and compares it with `local`, byte by byte.
async fn download_and_compare(
    client: &Client,
    out: &Output,
    content: &Content,
    local: &LocalFile,
) -> anyhow::Result<()> {
    let target = Path::new(DOWNLOAD_DIR).join(safe_file_name(&content.filename)?);
    let downloaded = client
        .download_to_file(content.id, &target, NoProgress)
        .await
        .with_context(|| format!("downloading {} to {}", content.id, target.display()))?;
    ensure_same(
        &format!("sha256 of {} against the metadata", target.display()),
        content.sha256,
        downloaded.sha256,
    )?;
    if let Some(offset) = first_difference(&local.path, &target).await? {
        bail!(
            "✗ {} differs from {} at byte {offset} (sizes {} and {})",
            target.display(),
            local.path.display(),
            local.size,
            downloaded.size
        );
    }
    out.line(format!(
        "✓ {} is identical to {} ({}, sha256 {}…)",
        target.display(),
        local.path.display(),
        human_size(downloaded.size),
        &downloaded.sha256.to_hex()[..12]
    ))
}

/// Checks the metadata the server returned for a stored file.
fn check_stored(
    content: &Content,
    name: &str,
    local: &LocalFile,
    version: u32,
) -> anyhow::Result<()> {
    let what = |field: &str| format!("{field} of {name}");
    ensure_same(&what("filename"), name, content.filename.as_str())?;
    ensure_same(&what("size"), local.size, content.size)?;
    ensure_same(&what("sha256"), local.sha256, content.sha256)?;
    ensure_same(&what("version"), version, content.version)?;
    ensure!(
        !content.replicas.is_empty(),
        "✗ {name} was stored on no node"
    );
    Ok(())
}

fn ensure_same<T: PartialEq + Display>(what: &str, expected: T, actual: T) -> anyhow::Result<()> {
    ensure!(
        expected == actual,
        "✗ {what}: expected {expected}, got {actual}"
    );
    Ok(())
}

/// Writes about `size` bytes of numbered text lines to `client_data/NAME`,
/// and says so.
async fn generate(out: &Output, name: &str, size: u64, run_tag: &str) -> anyhow::Result<LocalFile> {
    const PHRASES: [&str; 5] = [
        "the quick brown fox jumps over the lazy dog",
        "a crème brûlée at the café costs 7 € — naïve pricing",
        "every byte should come back exactly as it left",
        "storage nodes keep the blobs, the distributor keeps the catalogue",
        "Grüße aus Köln, 東京, and São Paulo",
    ];
    let path = Path::new(DATA_DIR).join(name);
    let file = File::create(&path)
        .await
        .with_context(|| format!("cannot create {}", path.display()))?;
    let mut writer = BufWriter::new(file);
    let mut hasher = Hasher::default();
    let mut line_number: usize = 0;
    while hasher.size() < size {
        line_number += 1;
        let phrase = PHRASES[line_number % PHRASES.len()];
        let line = format!("{name} · line {line_number:06} · run {run_tag} · {phrase}\n");
        writer
            .write_all(line.as_bytes())
            .await
            .with_context(|| format!("cannot write {}", path.display()))?;
        hasher.update(line.as_bytes());
    }
    writer
        .flush()
        .await
        .with_context(|| format!("cannot write {}", path.display()))?;
    let Fingerprint { size, sha256 } = hasher.finish();
    out.line(format!("✓ wrote {} ({})", path.display(), human_size(size)))?;
    Ok(LocalFile { path, size, sha256 })
}

/// The offset of the first byte where two files differ (a shorter file
/// differs where it ends), or `None` when they are identical. Reads both in
/// step, so neither is ever held whole.
async fn first_difference(left: &Path, right: &Path) -> anyhow::Result<Option<u64>> {
    let mut left_reader = open_buffered(left).await?;
    let mut right_reader = open_buffered(right).await?;
    let mut offset: u64 = 0;
    loop {
        let left_bytes = left_reader
            .fill_buf()
            .await
            .with_context(|| format!("cannot read {}", left.display()))?;
        let right_bytes = right_reader
            .fill_buf()
            .await
            .with_context(|| format!("cannot read {}", right.display()))?;
        let common = left_bytes.len().min(right_bytes.len());
        if common == 0 {
            let same_length = left_bytes.is_empty() && right_bytes.is_empty();
            return Ok((!same_length).then_some(offset));
        }
        let mismatch = left_bytes[..common]
            .iter()
            .zip(&right_bytes[..common])
            .position(|(a, b)| a != b);
        if let Some(position) = mismatch {
            return Ok(Some(offset + position as u64));
        }
        left_reader.consume(common);
        right_reader.consume(common);
        offset += common as u64;
    }
}

async fn open_buffered(path: &Path) -> anyhow::Result<BufReader<File>> {
    let file = File::open(path)
        .await
        .with_context(|| format!("cannot open {}", path.display()))?;
    Ok(BufReader::with_capacity(READ_BUFFER, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        tokio::fs::write(&path, bytes).await.unwrap();
        path
    }

    #[tokio::test]
    async fn first_difference_finds_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut changed = big.clone();
        changed[150_000] ^= 1;
        let a = write(dir.path(), "a", &big).await;
        let b = write(dir.path(), "b", &big).await;
        let c = write(dir.path(), "c", &changed).await;
        let short = write(dir.path(), "short", &big[..1000]).await;
        let empty = write(dir.path(), "empty", b"").await;

        assert_eq!(first_difference(&a, &b).await.unwrap(), None);
        assert_eq!(first_difference(&a, &c).await.unwrap(), Some(150_000));
        assert_eq!(first_difference(&a, &short).await.unwrap(), Some(1000));
        assert_eq!(first_difference(&short, &a).await.unwrap(), Some(1000));
        assert_eq!(first_difference(&empty, &empty).await.unwrap(), None);
        assert_eq!(first_difference(&empty, &a).await.unwrap(), Some(0));
    }

    #[test]
    fn mismatches_say_what_differed() {
        let error = ensure_same("size of a.txt", 10, 12).unwrap_err();
        assert_eq!(error.to_string(), "✗ size of a.txt: expected 10, got 12");
        assert!(ensure_same("x", "a", "a").is_ok());
    }
}
