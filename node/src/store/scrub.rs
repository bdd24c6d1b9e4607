//! The scrub: every blob is read again and its SHA-256 compared with the one
//! recorded when it was written, so bytes that rot on disk are found before
//! a reader or a repair needs them.
//!
//! It also gives block sums to blobs whose record has none (written before
//! they were kept): bytes that have just matched their SHA-256 are the one
//! reference that can be trusted for them. Until then such a blob is served
//! unchecked, as before, and whole reads are still checked end to end by
//! the distributor.
//!
//! The scrub takes no lock while it reads, so writes and deletes go on: a
//! blob that vanishes is skipped, and a blob replaced mid-read is judged by
//! nothing, since its new record came with its new bytes.

use std::io::{self, Read};
use std::path::Path;
use std::time::SystemTime;

use cdn_common::wire::ScrubReport;
use cdn_common::{BlobKey, Fingerprint, Hasher};

use super::blocks::{BlockSummer, BlockSums};
use super::sums::{self, Record};
use super::{BlobStore, blocking};

/// Bytes per read of a blob being checked.
const READ_SIZE: usize = 1 << 20;

/// What checking one blob found.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// The bytes match their record.
    Sound,
    /// The bytes no longer match a record that stayed the same.
    Corrupt,
    /// There was no usable record, or it had no block sums; one was
    /// written from the bytes.
    Recorded,
    /// The blob was replaced while it was read.
    Replaced,
    /// The blob was deleted before it could be read: it is not counted.
    Vanished,
}

/// A blob's bytes as read, and which file they were read from.
#[derive(Clone, Debug)]
struct Hashed {
    fingerprint: Fingerprint,
    blocks: BlockSums,
    stamp: Stamp,
}

/// Tells one file at a path from the next: a replacement renames a new file
/// in, which differs in size or in modification time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }
}

impl BlobStore {
    /// Checks every blob now and reports the ones whose bytes no longer match
    /// their SHA-256. A blob with no usable record (written before records
    /// were kept, in a crash between the renames, or whose record was
    /// damaged) gets one now.
    pub async fn scrub(&self) -> io::Result<ScrubReport> {
        let mut checked = 0;
        for blob in self.inventory().await? {
            let verdict = self.check(&blob.key).await?;
            if verdict == Verdict::Vanished {
                continue;
            }
            checked += 1;
            if verdict == Verdict::Corrupt {
                tracing::warn!(key = %blob.key, "scrub: bytes no longer match their SHA-256");
                self.corrupt_keys().insert(blob.key);
            } else {
                self.corrupt_keys().remove(&blob.key);
            }
        }
        let mut corrupt: Vec<BlobKey> = self.corrupt_keys().iter().cloned().collect();
        corrupt.sort();
        Ok(ScrubReport { checked, corrupt })
    }

    async fn check(&self, key: &BlobKey) -> io::Result<Verdict> {
        let sum_path = self.sum_path(key);
        let recorded = sums::read(&sum_path).await;
        let blob_path = self.path(key);
        let hashed = match blocking(move || hash_file(&blob_path)).await {
            Ok(hashed) => hashed,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Verdict::Vanished),
            Err(err) => return Err(err),
        };
        let Some(recorded) = recorded else {
            return self.record(key, hashed, None).await;
        };
        if recorded.sha256 != hashed.fingerprint.sha256 {
            // A replacement during the read changes the record too: only a
            // record that stayed the same can prove the bytes wrong.
            return if sums::read(&sum_path).await.as_ref() == Some(&recorded) {
                Ok(Verdict::Corrupt)
            } else {
                Ok(Verdict::Replaced)
            };
        }
        if recorded.blocks.as_ref() == Some(&hashed.blocks) {
            return Ok(Verdict::Sound);
        }
        // The bytes match their SHA-256, so their block sums can be recorded.
        self.record(key, hashed, Some(recorded)).await
    }

    /// Records the digest and block sums of bytes whose record was `found`
    /// (`None`: no usable record), unless the blob or its record changed or
    /// went since they were read.
    async fn record(
        &self,
        key: &BlobKey,
        hashed: Hashed,
        found: Option<Record>,
    ) -> io::Result<Verdict> {
        if found.is_none() && self.corrupt_keys().contains(key) {
            // Bytes already found wrong must not become the reference: the
            // mark stays until a rewrite or a delete clears it.
            return Ok(Verdict::Corrupt);
        }
        // Writes and deletes wait while the record is checked and written, so
        // it cannot land on a blob other than the one that was read.
        let _commit = self.commit.lock().await;
        let sum_path = self.sum_path(key);
        if sums::read(&sum_path).await != found {
            return Ok(Verdict::Replaced);
        }
        match tokio::fs::metadata(self.path(key)).await {
            Ok(meta) if Stamp::of(&meta) == hashed.stamp => {}
            Ok(_) => return Ok(Verdict::Replaced),
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Verdict::Vanished),
            Err(err) => return Err(err),
        }
        let (tmp, sums_dir) = (self.tmp.clone(), self.sums.clone());
        let record = Record {
            sha256: hashed.fingerprint.sha256,
            blocks: Some(hashed.blocks),
        };
        blocking(move || sums::record(&tmp, &sums_dir, &sum_path, &record)).await?;
        Ok(Verdict::Recorded)
    }
}

/// Reads the file through, hashes it and sums its blocks. Blocking.
fn hash_file(path: &Path) -> io::Result<Hashed> {
    let mut file = std::fs::File::open(path)?;
    let stamp = Stamp::of(&file.metadata()?);
    let mut hasher = Hasher::default();
    let mut blocks = BlockSummer::default();
    let mut buffer = vec![0u8; READ_SIZE];
    loop {
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => {
                hasher.update(&buffer[..read]);
                blocks.update(&buffer[..read]);
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(Hashed {
        fingerprint: hasher.finish(),
        blocks: blocks.finish(),
        stamp,
    })
}

#[cfg(test)]
mod tests {
    use cdn_common::Sha256;

    use super::super::tests::{debris, key, put};
    use super::*;

    async fn store_with(dir: &Path, blobs: &[(&str, &'static [u8])]) -> BlobStore {
        let store = BlobStore::open(dir, 100).await.unwrap();
        for (name, bytes) in blobs {
            put(&store, name, &[bytes]).await;
        }
        store
    }

    #[tokio::test]
    async fn scrub_finds_flipped_bytes_and_a_rewrite_heals_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(dir.path(), &[("a", b"hello"), ("b", b"world")]).await;
        assert_eq!(store.scrub().await.unwrap().corrupt, Vec::<BlobKey>::new());

        std::fs::write(dir.path().join("blobs").join("a"), b"jello").unwrap();
        let report = store.scrub().await.unwrap();
        assert_eq!((report.checked, report.corrupt), (2, vec![key("a")]));
        let inventory = store.inventory().await.unwrap();
        assert!(inventory[0].corrupt && !inventory[1].corrupt);

        put(&store, "a", &[b"hello"]).await;
        let inventory = store.inventory().await.unwrap();
        assert!(inventory.iter().all(|blob| !blob.corrupt));
        assert!(store.scrub().await.unwrap().corrupt.is_empty());
    }

    #[tokio::test]
    async fn a_missing_or_damaged_record_is_written_anew_not_called_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let blobs: [(&str, &'static [u8]); 3] = [("a", b"one"), ("b", b"two"), ("c", b"three")];
        let store = store_with(dir.path(), &blobs).await;
        let sums = dir.path().join("sums");
        // What an abort during an in-place rewrite used to leave behind.
        std::fs::write(sums.join("a"), b"").unwrap();
        std::fs::write(sums.join("b"), b"not a digest").unwrap();
        std::fs::remove_file(sums.join("c")).unwrap();

        let report = store.scrub().await.unwrap();
        assert_eq!((report.checked, report.corrupt), (3, vec![]));
        for (name, bytes) in blobs {
            let record = sums::read_now(&sums.join(name)).unwrap();
            assert_eq!(record.sha256, Sha256::of(bytes), "{name}");
            assert!(record.blocks.unwrap().check(0, bytes), "{name}");
        }
        assert_eq!(debris(dir.path()), 0);
        assert!(store.scrub().await.unwrap().corrupt.is_empty());
    }

    #[tokio::test]
    async fn bytes_found_wrong_stay_wrong_when_their_record_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(dir.path(), &[("a", b"hello")]).await;
        std::fs::write(dir.path().join("blobs").join("a"), b"jello").unwrap();
        assert_eq!(store.scrub().await.unwrap().corrupt, vec![key("a")]);

        std::fs::remove_file(dir.path().join("sums").join("a")).unwrap();
        assert_eq!(store.scrub().await.unwrap().corrupt, vec![key("a")]);
        assert!(!dir.path().join("sums").join("a").exists());
    }

    #[tokio::test]
    async fn a_blob_deleted_or_replaced_during_its_check_is_not_judged() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(dir.path(), &[("a", b"hello"), ("b", b"world")]).await;
        assert_eq!(store.check(&key("gone")).await.unwrap(), Verdict::Vanished);

        // Read while it had no record, then deleted before the record is
        // written: no record may appear for a blob that is gone.
        std::fs::remove_file(dir.path().join("sums").join("a")).unwrap();
        let hashed = hash_file(&store.path(&key("a"))).unwrap();
        assert!(store.delete(&key("a")).await.unwrap());
        assert_eq!(
            store.record(&key("a"), hashed, None).await.unwrap(),
            Verdict::Vanished
        );
        assert!(!dir.path().join("sums").join("a").exists());

        // Read while it had no record, then replaced (and the new record
        // lost): the old bytes' digest must not become the new blob's record.
        std::fs::remove_file(dir.path().join("sums").join("b")).unwrap();
        let hashed = hash_file(&store.path(&key("b"))).unwrap();
        put(&store, "b", &[b"a longer world"]).await;
        std::fs::remove_file(dir.path().join("sums").join("b")).unwrap();
        assert_eq!(
            store.record(&key("b"), hashed, None).await.unwrap(),
            Verdict::Replaced
        );
        assert!(!dir.path().join("sums").join("b").exists());

        let report = store.scrub().await.unwrap();
        assert_eq!((report.checked, report.corrupt), (1, vec![]));
    }

    #[tokio::test]
    async fn a_blob_from_before_block_sums_gets_them_once_its_sha256_matches() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(
            dir.path(),
            &[("old", b"written long ago"), ("rotten", b"rotten")],
        )
        .await;
        let sums = dir.path().join("sums");
        // Records as they were written before block sums were kept.
        for (name, bytes) in [("old", &b"written long ago"[..]), ("rotten", b"rotten")] {
            std::fs::write(sums.join(name), Sha256::of(bytes).to_hex()).unwrap();
        }
        std::fs::write(dir.path().join("blobs").join("rotten"), b"rottem").unwrap();

        let report = store.scrub().await.unwrap();
        assert_eq!((report.checked, report.corrupt), (2, vec![key("rotten")]));
        let old = sums::read_now(&sums.join("old")).unwrap();
        assert!(old.blocks.unwrap().check(0, b"written long ago"));
        // Bytes that fail their SHA-256 never become the reference.
        assert_eq!(sums::read_now(&sums.join("rotten")).unwrap().blocks, None);
        assert_eq!(store.check(&key("old")).await.unwrap(), Verdict::Sound);
    }
}
