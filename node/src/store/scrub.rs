//! The scrub: every blob is read again and its SHA-256 compared with the one
//! recorded when it was written, so bytes that rot on disk are found before
//! a reader or a repair needs them.
//!
//! The scrub takes no lock while it reads, so writes and deletes go on: a
//! blob that vanishes is skipped, and a blob replaced mid-read is judged by
//! nothing, since its new record came with its new bytes.

use std::io::{self, Read};
use std::path::Path;
use std::time::SystemTime;

use cdn_common::wire::ScrubReport;
use cdn_common::{BlobKey, Fingerprint, Hasher};

use super::{BlobStore, blocking, sums};

/// Bytes per read of a blob being checked.
const READ_SIZE: usize = 1 << 20;

/// What checking one blob found.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// The bytes match their record.
    Sound,
    /// The bytes no longer match a record that stayed the same.
    Corrupt,
    /// There was no usable record; one was written from the bytes.
    Recorded,
    /// The blob was replaced while it was read.
    Replaced,
    /// The blob was deleted before it could be read: it is not counted.
    Vanished,
}

/// A blob's bytes as read, and which file they were read from.
#[derive(Clone, Copy, Debug)]
struct Hashed {
    fingerprint: Fingerprint,
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
            return self.record(key, hashed).await;
        };
        if recorded == hashed.fingerprint.sha256 {
            return Ok(Verdict::Sound);
        }
        // A replacement during the read changes the record too: only a
        // record that stayed the same can prove the bytes wrong.
        if sums::read(&sum_path).await == Some(recorded) {
            Ok(Verdict::Corrupt)
        } else {
            Ok(Verdict::Replaced)
        }
    }

    /// Records the digest of bytes that had no usable record, unless the
    /// blob changed or went since they were read.
    async fn record(&self, key: &BlobKey, hashed: Hashed) -> io::Result<Verdict> {
        if self.corrupt_keys().contains(key) {
            // Bytes already found wrong must not become the reference: the
            // mark stays until a rewrite or a delete clears it.
            return Ok(Verdict::Corrupt);
        }
        // Writes and deletes wait while the record is checked and written, so
        // it cannot land on a blob other than the one that was read.
        let _commit = self.commit.lock().await;
        let sum_path = self.sum_path(key);
        if sums::read(&sum_path).await.is_some() {
            return Ok(Verdict::Replaced);
        }
        match tokio::fs::metadata(self.path(key)).await {
            Ok(meta) if Stamp::of(&meta) == hashed.stamp => {}
            Ok(_) => return Ok(Verdict::Replaced),
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Verdict::Vanished),
            Err(err) => return Err(err),
        }
        let (tmp, sums_dir) = (self.tmp.clone(), self.sums.clone());
        let sha256 = hashed.fingerprint.sha256;
        blocking(move || sums::record(&tmp, &sums_dir, &sum_path, sha256)).await?;
        Ok(Verdict::Recorded)
    }
}

/// Reads the file through and hashes it. Blocking.
fn hash_file(path: &Path) -> io::Result<Hashed> {
    let mut file = std::fs::File::open(path)?;
    let stamp = Stamp::of(&file.metadata()?);
    let mut hasher = Hasher::default();
    let mut buffer = vec![0u8; READ_SIZE];
    loop {
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => hasher.update(&buffer[..read]),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(Hashed {
        fingerprint: hasher.finish(),
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
            let record = std::fs::read_to_string(sums.join(name)).unwrap();
            assert_eq!(record, Sha256::of(bytes).to_hex(), "{name}");
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
            store.record(&key("a"), hashed).await.unwrap(),
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
            store.record(&key("b"), hashed).await.unwrap(),
            Verdict::Replaced
        );
        assert!(!dir.path().join("sums").join("b").exists());

        let report = store.scrub().await.unwrap();
        assert_eq!((report.checked, report.corrupt), (1, vec![]));
    }
}
