//! Checksum records: `sums/{key}` holds the blob's SHA-256 in hex.
//!
//! A record is always whole or absent: it is written to a temporary file in
//! `tmp/` (the same volume), synced, then renamed into place. A record that
//! still cannot be read or parsed (a disk fault, a hand edit) proves nothing
//! about the blob, so it counts as missing and the scrub records the digest
//! of the bytes anew rather than calling them corrupt.

use std::io::{self, Write};
use std::path::Path;

use cdn_common::Sha256;
use tempfile::{NamedTempFile, TempPath};

/// The recorded digest; `None` when there is no record or it is unreadable.
pub async fn read(path: &Path) -> Option<Sha256> {
    let text = tokio::fs::read_to_string(path).await.ok()?;
    Sha256::parse(text.trim()).ok()
}

/// Writes `sha256` to a synced temporary file in `tmp_dir`, ready to be
/// renamed into `sums/`; it is removed if dropped instead. Blocking.
pub fn prepare(tmp_dir: &Path, sha256: Sha256) -> io::Result<TempPath> {
    let mut file = NamedTempFile::new_in(tmp_dir)?;
    file.write_all(sha256.to_hex().as_bytes())?;
    file.as_file().sync_all()?;
    Ok(file.into_temp_path())
}

/// Records `sha256` at `path` (in `sums_dir`), replacing any record there,
/// durably. Blocking.
pub fn record(tmp_dir: &Path, sums_dir: &Path, path: &Path, sha256: Sha256) -> io::Result<()> {
    prepare(tmp_dir, sha256)?.persist(path)?;
    super::sync_dir(sums_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_record_reads_back_and_a_damaged_one_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sum");
        let digest = Sha256::of(b"hello");
        record(dir.path(), dir.path(), &path, digest).unwrap();
        assert_eq!(read(&path).await, Some(digest));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        for damaged in [
            &b""[..],
            b"zz",
            &digest.to_hex().as_bytes()[..40],
            &[0xff; 64],
        ] {
            std::fs::write(&path, damaged).unwrap();
            assert_eq!(read(&path).await, None, "{damaged:?}");
        }
        assert_eq!(read(&dir.path().join("none")).await, None);
    }

    #[test]
    fn a_prepared_record_that_is_dropped_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let prepared = prepare(dir.path(), Sha256::of(b"x")).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        drop(prepared);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
