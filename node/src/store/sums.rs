//! Checksum records: `sums/{key}` holds the blob's SHA-256 and its block
//! sums (see [`super::blocks`]):
//!
//! ```text
//! {SHA-256 in hex}\n
//! crc32c 65536\n
//! {the CRC32C of each 64 KiB block, 4 bytes little-endian each}
//! {the CRC32C of everything above, 4 bytes little-endian}
//! ```
//!
//! Records written before block sums were kept hold the hex digest alone;
//! they still count for their SHA-256, and the scrub adds the block sums.
//!
//! A record is always whole or absent: it is written to a temporary file in
//! `tmp/` (the same volume), synced, then renamed into place. A record that
//! still cannot be read or parsed, or whose own checksum fails (a disk
//! fault, a hand edit), proves nothing about the blob, so it counts as
//! missing and the scrub records it anew from the bytes rather than calling
//! them corrupt.

use std::io::{self, Write};
use std::path::Path;

use cdn_common::Sha256;
use tempfile::{NamedTempFile, TempPath};

use super::blocks::BlockSums;
use super::durable::Flush;

/// Names the kind of block sums and the block size, so sums of another kind
/// are never checked against these blocks.
const BLOCK_SUMS_TAG: &[u8] = b"crc32c 65536\n";

/// What is known of a blob's bytes as they were written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub sha256: Sha256,
    /// `None` in a record from before block sums were kept.
    pub blocks: Option<BlockSums>,
}

impl Record {
    fn encode(&self) -> Vec<u8> {
        let mut bytes = self.sha256.to_hex().into_bytes();
        if let Some(blocks) = &self.blocks {
            bytes.push(b'\n');
            bytes.extend_from_slice(BLOCK_SUMS_TAG);
            bytes.extend_from_slice(&blocks.to_bytes());
            let own_sum = crc32c::crc32c(&bytes);
            bytes.extend_from_slice(&own_sum.to_le_bytes());
        }
        bytes
    }

    fn decode(bytes: &[u8]) -> Option<Record> {
        if let Some(sha256) = std::str::from_utf8(bytes)
            .ok()
            .and_then(|text| Sha256::parse(text.trim()).ok())
        {
            return Some(Record {
                sha256,
                blocks: None,
            });
        }
        let (body, own_sum) = bytes.split_at_checked(bytes.len().checked_sub(4)?)?;
        if crc32c::crc32c(body).to_le_bytes() != own_sum {
            return None;
        }
        let (hex, rest) = body.split_at_checked(64)?;
        let sha256 = Sha256::parse(std::str::from_utf8(hex).ok()?).ok()?;
        let blocks = rest
            .strip_prefix(b"\n")?
            .strip_prefix(BLOCK_SUMS_TAG)
            .and_then(BlockSums::from_bytes);
        Some(Record { sha256, blocks })
    }
}

/// The record at `path`; `None` when there is none or it is unreadable.
pub async fn read(path: &Path) -> Option<Record> {
    Record::decode(&tokio::fs::read(path).await.ok()?)
}

/// [`read`] on the calling thread. Blocking.
pub fn read_now(path: &Path) -> Option<Record> {
    Record::decode(&std::fs::read(path).ok()?)
}

/// Writes `record` to a synced temporary file in `tmp_dir`, ready to be
/// renamed into `sums/`; it is removed if dropped instead. Blocking.
pub fn prepare(tmp_dir: &Path, record: &Record) -> io::Result<TempPath> {
    prepare_with(tmp_dir, record, Flush::EachFile)
}

/// [`prepare`], leaving the sync to a group flush when `flush` says so.
pub fn prepare_with(tmp_dir: &Path, record: &Record, flush: Flush) -> io::Result<TempPath> {
    let mut file = NamedTempFile::new_in(tmp_dir)?;
    file.write_all(&record.encode())?;
    if flush == Flush::EachFile {
        file.as_file().sync_all()?;
    }
    Ok(file.into_temp_path())
}

/// Records `record` at `path` (in `sums_dir`), replacing any record there,
/// durably. Blocking.
pub fn record(tmp_dir: &Path, sums_dir: &Path, path: &Path, record: &Record) -> io::Result<()> {
    prepare(tmp_dir, record)?.persist(path)?;
    super::sync_dir(sums_dir)
}

#[cfg(test)]
mod tests {
    use super::super::blocks::BlockSummer;
    use super::*;

    fn full(bytes: &[u8]) -> Record {
        let mut summer = BlockSummer::default();
        summer.update(bytes);
        Record {
            sha256: Sha256::of(bytes),
            blocks: Some(summer.finish()),
        }
    }

    #[tokio::test]
    async fn a_record_reads_back_and_a_damaged_one_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sum");
        let written = full(&[5; 200_000]);
        record(dir.path(), dir.path(), &path, &written).unwrap();
        assert_eq!(read(&path).await, Some(written.clone()));
        assert_eq!(read_now(&path), Some(written.clone()));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        let encoded = written.encode();
        let mut flipped = encoded.clone();
        flipped[70] ^= 0x01;
        let hex = written.sha256.to_hex();
        for damaged in [
            &b""[..],
            b"zz",
            &hex.as_bytes()[..40],
            &[0xff; 64],
            &encoded[..encoded.len() - 1],
            &flipped,
        ] {
            std::fs::write(&path, damaged).unwrap();
            assert_eq!(read(&path).await, None, "{damaged:?}");
        }
        assert_eq!(read(&dir.path().join("none")).await, None);
    }

    #[tokio::test]
    async fn a_record_from_before_block_sums_still_gives_the_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sum");
        let digest = Sha256::of(b"hello");
        std::fs::write(&path, digest.to_hex()).unwrap();
        let old = Record {
            sha256: digest,
            blocks: None,
        };
        assert_eq!(read(&path).await, Some(old.clone()));
        assert_eq!(old.encode(), digest.to_hex().as_bytes());
        // An empty blob has no blocks, which is not the same as no sums.
        assert_eq!(Record::decode(&full(b"").encode()), Some(full(b"")));
    }

    #[test]
    fn a_prepared_record_that_is_dropped_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let prepared = prepare(dir.path(), &full(b"x")).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        drop(prepared);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
