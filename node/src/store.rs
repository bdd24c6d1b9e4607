//! Blobs on disk, within `MAX_STORAGE`.
//!
//! Layout under the storage directory:
//! - `blobs/{key}`: whole blobs only.
//! - `sums/{key}`: the blob's SHA-256 (hex) as computed while it was written,
//!   which the scrub compares the bytes on disk with.
//! - `tmp/`: blobs being written. A write lands here, is synced, then renamed
//!   into `blobs/`, so a crash leaves either the old blob or the new one,
//!   never half of one. Whatever is in `tmp/` at start-up is debris of a
//!   crash and is removed.
//!
//! Space is reserved before bytes are written, chunk by chunk, against one
//! counter shared by all writes; a write that would pass `MAX_STORAGE` stops
//! at once and removes its temporary file.

use std::collections::HashSet;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use cdn_common::wire::{InventoryEntry, ScrubReport, StoredBlob};
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use crate::key::BlobKey;

pub struct BlobStore {
    blobs: PathBuf,
    sums: PathBuf,
    tmp: PathBuf,
    max_bytes: u64,
    /// Bytes of stored blobs plus the space reserved by writes under way.
    used_bytes: AtomicU64,
    objects: AtomicU64,
    /// Serialises the step that swaps a blob into place, so replacing and
    /// deleting the same key keep the counters true.
    commit: Mutex<()>,
    /// Keys whose bytes the last scrub found not to match their SHA-256.
    corrupt: std::sync::Mutex<HashSet<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("storage is full: {needed} more bytes would pass the limit of {max} bytes")]
    Full { needed: u64, max: u64 },
    #[error("the request body broke off: {0}")]
    Body(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl BlobStore {
    /// Opens (creating if needed) the storage directory, clears the debris of
    /// interrupted writes and counts what is stored.
    pub async fn open(root: &Path, max_bytes: u64) -> io::Result<Self> {
        let blobs = root.join("blobs");
        let sums = root.join("sums");
        let tmp = root.join("tmp");
        tokio::fs::create_dir_all(&blobs).await?;
        tokio::fs::create_dir_all(&sums).await?;
        if tokio::fs::try_exists(&tmp).await? {
            tokio::fs::remove_dir_all(&tmp).await?;
        }
        tokio::fs::create_dir_all(&tmp).await?;
        let store = BlobStore {
            blobs,
            sums,
            tmp,
            max_bytes,
            used_bytes: AtomicU64::new(0),
            objects: AtomicU64::new(0),
            commit: Mutex::new(()),
            corrupt: Default::default(),
        };
        let inventory = store.inventory().await?;
        store.used_bytes.store(
            inventory.iter().map(|blob| blob.size).sum(),
            Ordering::SeqCst,
        );
        store
            .objects
            .store(inventory.len() as u64, Ordering::SeqCst);
        Ok(store)
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Bytes of whole blobs stored (space reserved by writes under way
    /// included, since it is taken until they finish).
    pub fn used_bytes(&self) -> u64 {
        self.used_bytes.load(Ordering::SeqCst)
    }

    pub fn objects(&self) -> u64 {
        self.objects.load(Ordering::SeqCst)
    }

    pub fn path(&self, key: &BlobKey) -> PathBuf {
        self.blobs.join(key.as_str())
    }

    /// Streams `body` into the blob `key`, replacing any blob already there
    /// once the new one is whole and synced. `expected_len`, when the caller
    /// knows it, is reserved up front so an oversized write fails before its
    /// first byte is written.
    pub async fn write<S, E>(
        &self,
        key: &BlobKey,
        expected_len: Option<u64>,
        body: S,
    ) -> Result<StoredBlob, WriteError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let mut reservation = Reservation::new(self);
        if let Some(len) = expected_len {
            reservation.grow(len)?;
        }
        let tmp_name = uuid::Uuid::now_v7().simple().to_string();
        let tmp_path = self.tmp.join(&tmp_name);
        let result = self.write_tmp(&tmp_path, &mut reservation, body).await;
        let (size, sha256) = match result {
            Ok(written) => written,
            Err(err) => {
                let _ = tokio::fs::remove_file(&tmp_path).await;
                return Err(err);
            }
        };
        // The body may have been shorter than announced: keep only what is used.
        reservation.shrink_to(size);
        let sum_path = self.tmp.join(format!("{tmp_name}.sum"));
        if let Err(err) = write_synced(&sum_path, sha256.as_bytes()).await {
            let _ = tokio::fs::remove_file(&tmp_path).await;
            let _ = tokio::fs::remove_file(&sum_path).await;
            return Err(err.into());
        }

        let _commit = self.commit.lock().await;
        let target = self.path(key);
        let replaced = tokio::fs::metadata(&target)
            .await
            .ok()
            .map(|meta| meta.len());
        let swapped = async {
            tokio::fs::rename(&sum_path, self.sums.join(key.as_str())).await?;
            tokio::fs::rename(&tmp_path, &target).await
        };
        if let Err(err) = swapped.await {
            let _ = tokio::fs::remove_file(&tmp_path).await;
            let _ = tokio::fs::remove_file(&sum_path).await;
            return Err(err.into());
        }
        sync_dir(&self.sums).await?;
        sync_dir(&self.blobs).await?;
        reservation.keep();
        self.corrupt_keys().remove(key.as_str());
        match replaced {
            Some(old_size) => {
                self.used_bytes.fetch_sub(old_size, Ordering::SeqCst);
            }
            None => {
                self.objects.fetch_add(1, Ordering::SeqCst);
            }
        }
        Ok(StoredBlob {
            key: key.to_string(),
            size,
            sha256,
            node_storage: self.used_bytes(),
            node_objects: self.objects(),
        })
    }

    async fn write_tmp<S, E>(
        &self,
        tmp_path: &Path,
        reservation: &mut Reservation<'_>,
        body: S,
    ) -> Result<(u64, String), WriteError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let mut file = tokio::fs::File::create(tmp_path).await?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|err| WriteError::Body(err.to_string()))?;
            size += chunk.len() as u64;
            reservation.grow_to(size)?;
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        file.sync_all().await?;
        Ok((size, hex::encode(hasher.finalize())))
    }

    /// Removes the blob; `Ok(false)` when there was none.
    pub async fn delete(&self, key: &BlobKey) -> io::Result<bool> {
        let _commit = self.commit.lock().await;
        let target = self.path(key);
        let size = match tokio::fs::metadata(&target).await {
            Ok(meta) => meta.len(),
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(err) => return Err(err),
        };
        tokio::fs::remove_file(&target).await?;
        let _ = tokio::fs::remove_file(self.sums.join(key.as_str())).await;
        sync_dir(&self.blobs).await?;
        self.used_bytes.fetch_sub(size, Ordering::SeqCst);
        self.objects.fetch_sub(1, Ordering::SeqCst);
        self.corrupt_keys().remove(key.as_str());
        Ok(true)
    }

    fn corrupt_keys(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.corrupt
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads every blob and compares its SHA-256 with the one recorded when
    /// it was written. A blob with no record (written before records were
    /// kept, or in a crash between the two renames) gets one now.
    pub async fn scrub(&self) -> io::Result<ScrubReport> {
        let mut checked = 0;
        for blob in self.inventory().await? {
            let blob_path = self.blobs.join(&blob.key);
            let sum_path = self.sums.join(&blob.key);
            let recorded = tokio::fs::read_to_string(&sum_path).await.ok();
            let actual = match tokio::task::spawn_blocking(move || hash_file(&blob_path))
                .await
                .map_err(io::Error::other)?
            {
                Ok(actual) => actual,
                // Deleted while the scrub ran.
                Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                Err(err) => return Err(err),
            };
            checked += 1;
            let Some(recorded) = recorded else {
                write_synced(&sum_path, actual.as_bytes()).await?;
                continue;
            };
            // A replacement during the read changes the record too: only a
            // record that stayed the same can prove the bytes wrong.
            let still_recorded = tokio::fs::read_to_string(&sum_path).await.ok();
            let corrupt = recorded.trim() != actual && still_recorded.as_deref() == Some(&recorded);
            if corrupt {
                tracing::warn!(key = %blob.key, "scrub: bytes no longer match their SHA-256");
                self.corrupt_keys().insert(blob.key);
            } else {
                self.corrupt_keys().remove(&blob.key);
            }
        }
        let mut corrupt: Vec<String> = self.corrupt_keys().iter().cloned().collect();
        corrupt.sort();
        Ok(ScrubReport { checked, corrupt })
    }

    /// Every whole blob with its size.
    pub async fn inventory(&self) -> io::Result<Vec<InventoryEntry>> {
        let mut entries = tokio::fs::read_dir(&self.blobs).await?;
        let mut blobs = Vec::new();
        while let Some(entry) = entries.next_entry().await? {
            let meta = entry.metadata().await?;
            if meta.is_file() {
                let key = entry.file_name().to_string_lossy().into_owned();
                blobs.push(InventoryEntry {
                    corrupt: self.corrupt_keys().contains(&key),
                    key,
                    size: meta.len(),
                });
            }
        }
        blobs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(blobs)
    }
}

/// Space taken from the store's counter for one write; given back on drop
/// unless the write is kept.
struct Reservation<'a> {
    store: &'a BlobStore,
    bytes: u64,
}

impl<'a> Reservation<'a> {
    fn new(store: &'a BlobStore) -> Self {
        Reservation { store, bytes: 0 }
    }

    fn grow_to(&mut self, total: u64) -> Result<(), WriteError> {
        if total > self.bytes {
            self.grow(total - self.bytes)?;
        }
        Ok(())
    }

    fn grow(&mut self, extra: u64) -> Result<(), WriteError> {
        let max = self.store.max_bytes;
        self.store
            .used_bytes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(extra).filter(|&total| total <= max)
            })
            .map_err(|_| WriteError::Full {
                needed: self.bytes + extra,
                max,
            })?;
        self.bytes += extra;
        Ok(())
    }

    fn shrink_to(&mut self, total: u64) {
        if total < self.bytes {
            self.store
                .used_bytes
                .fetch_sub(self.bytes - total, Ordering::SeqCst);
            self.bytes = total;
        }
    }

    fn keep(mut self) {
        self.bytes = 0;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.store
            .used_bytes
            .fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

fn hash_file(path: &Path) -> io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buffer[..read]);
    }
}

async fn write_synced(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = tokio::fs::File::create(path).await?;
    file.write_all(contents).await?;
    file.sync_all().await
}

/// Makes a rename or removal in `dir` durable.
async fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
        .await
        .map_err(io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, io::Error>> {
        futures::stream::iter(
            parts
                .iter()
                .map(|part| Ok(Bytes::from_static(part)))
                .collect::<Vec<_>>(),
        )
    }

    fn key(text: &str) -> BlobKey {
        BlobKey::parse(text).unwrap()
    }

    #[tokio::test]
    async fn counts_replacements_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), 100).await.unwrap();
        store
            .write(&key("a"), None, chunks(&[b"hello", b" world"]))
            .await
            .unwrap();
        assert_eq!((store.used_bytes(), store.objects()), (11, 1));
        store
            .write(&key("a"), Some(3), chunks(&[b"abc"]))
            .await
            .unwrap();
        assert_eq!((store.used_bytes(), store.objects()), (3, 1));
        assert!(store.delete(&key("a")).await.unwrap());
        assert!(!store.delete(&key("a")).await.unwrap());
        assert_eq!((store.used_bytes(), store.objects()), (0, 0));
    }

    #[tokio::test]
    async fn a_write_past_the_limit_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), 10).await.unwrap();
        let err = store
            .write(&key("big"), None, chunks(&[b"123456", b"789012"]))
            .await
            .unwrap_err();
        assert!(matches!(err, WriteError::Full { .. }), "{err}");
        assert_eq!(store.used_bytes(), 0);
        assert!(store.inventory().await.unwrap().is_empty());
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }

    #[tokio::test]
    async fn scrub_finds_flipped_bytes_and_a_rewrite_heals_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), 100).await.unwrap();
        store
            .write(&key("a"), None, chunks(&[b"hello"]))
            .await
            .unwrap();
        store
            .write(&key("b"), None, chunks(&[b"world"]))
            .await
            .unwrap();
        assert_eq!(store.scrub().await.unwrap().corrupt, Vec::<String>::new());

        std::fs::write(dir.path().join("blobs").join("a"), b"jello").unwrap();
        let report = store.scrub().await.unwrap();
        assert_eq!((report.checked, report.corrupt), (2, vec!["a".to_string()]));
        let inventory = store.inventory().await.unwrap();
        assert!(inventory[0].corrupt && !inventory[1].corrupt);

        store
            .write(&key("a"), None, chunks(&[b"hello"]))
            .await
            .unwrap();
        assert!(
            store
                .inventory()
                .await
                .unwrap()
                .iter()
                .all(|blob| !blob.corrupt)
        );
        assert!(store.scrub().await.unwrap().corrupt.is_empty());
    }

    #[tokio::test]
    async fn reopening_recounts_and_clears_interrupted_writes() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = BlobStore::open(dir.path(), 100).await.unwrap();
            store
                .write(&key("a"), None, chunks(&[b"12345"]))
                .await
                .unwrap();
            store
                .write(&key("b"), None, chunks(&[b"678"]))
                .await
                .unwrap();
        }
        std::fs::write(dir.path().join("tmp").join("half"), b"debris").unwrap();
        let store = BlobStore::open(dir.path(), 100).await.unwrap();
        assert_eq!((store.used_bytes(), store.objects()), (8, 2));
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }
}
