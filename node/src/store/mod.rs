//! Blobs on disk, within `MAX_STORAGE`.
//!
//! Layout under the storage directory:
//! - `blobs/{key}`: whole blobs only.
//! - `sums/{key}`: the blob's SHA-256 and the CRC32C of each of its 64 KiB
//!   blocks, as computed while it was written (see [`sums`]): every block
//!   read is checked against its sum before it is sent, and the scrub checks
//!   the whole blob against its SHA-256.
//! - `tmp/`: files being written. A blob or a record lands here, then is
//!   renamed into place, so a crash leaves either the old file or the new
//!   one, never half of one; a new blob is acknowledged only once a flush
//!   shared with other writers ([`durable`]) has put it on disk, a
//!   replacement is synced before it takes the old one's place. Whatever is
//!   in `tmp/` at start-up is debris of a crash and is removed.
//!
//! The work is split by concern: [`write`] streams a body into a blob,
//! [`quota`] keeps writes within `MAX_STORAGE`, [`blocks`] sums blocks,
//! [`read`] reads them back checked, [`scrub`] re-reads blobs to find rot,
//! [`durable`] makes many new blobs durable with one flush.
//! This module opens the store, lists and deletes blobs and keeps the
//! counters.

mod blocks;
mod durable;
mod quota;
mod read;
mod scrub;
mod sums;
mod write;

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use cdn_common::BlobKey;
use cdn_common::wire::InventoryEntry;
use tokio::sync::Mutex;

pub use self::blocks::BLOCK;
use self::durable::GroupSync;
use self::quota::Space;
pub use self::read::OpenBlob;
pub use self::write::WriteError;

pub struct BlobStore {
    /// `blobs/`: one file per key, always whole.
    blobs: PathBuf,
    /// `sums/`: each blob's recorded SHA-256 and block sums.
    sums: PathBuf,
    /// `tmp/`: files not yet renamed into place; emptied at start-up.
    tmp: PathBuf,
    /// Bytes of stored blobs plus the space reserved by writes under way.
    space: Space,
    objects: AtomicU64,
    /// Serialises the steps that swap files into place or take them away, so
    /// replacing and deleting the same key keep the counters and the records
    /// true.
    commit: Mutex<()>,
    /// Shared flushes that make new blobs durable.
    group: GroupSync,
    /// Keys whose bytes were found not to match their record: by the last
    /// scrub, or by a read since.
    corrupt: std::sync::Mutex<HashSet<BlobKey>>,
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
            space: Space::new(max_bytes),
            objects: AtomicU64::new(0),
            commit: Mutex::new(()),
            group: GroupSync::start(root)?,
            corrupt: Default::default(),
        };
        let inventory = store.inventory().await?;
        store
            .space
            .count_stored(inventory.iter().map(|blob| blob.size).sum());
        store
            .objects
            .store(inventory.len() as u64, Ordering::SeqCst);
        Ok(store)
    }

    pub fn max_bytes(&self) -> u64 {
        self.space.max()
    }

    /// Bytes of whole blobs stored (space reserved by writes under way
    /// included, since it is taken until they finish).
    pub fn used_bytes(&self) -> u64 {
        self.space.used()
    }

    /// Flushes made for new blobs so far.
    pub fn group_flushes(&self) -> u64 {
        self.group.flushes()
    }

    pub fn objects(&self) -> u64 {
        self.objects.load(Ordering::SeqCst)
    }

    pub fn path(&self, key: &BlobKey) -> PathBuf {
        self.blobs.join(key.as_str())
    }

    fn sum_path(&self, key: &BlobKey) -> PathBuf {
        self.sums.join(key.as_str())
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
        // A record left by a crash here belongs to no blob and is never read:
        // the scrub walks `blobs/`, and a new write replaces the record.
        let _ = tokio::fs::remove_file(self.sum_path(key)).await;
        let blobs = self.blobs.clone();
        blocking(move || sync_dir(&blobs)).await?;
        self.space.release(size);
        self.objects.fetch_sub(1, Ordering::SeqCst);
        self.corrupt_keys().remove(key);
        Ok(true)
    }

    fn corrupt_keys(&self) -> std::sync::MutexGuard<'_, HashSet<BlobKey>> {
        self.corrupt
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every whole blob with its size, by key.
    pub async fn inventory(&self) -> io::Result<Vec<InventoryEntry>> {
        let mut entries = tokio::fs::read_dir(&self.blobs).await?;
        let mut blobs = Vec::new();
        while let Some(entry) = entries.next_entry().await? {
            if let Some(blob) = self.inventory_entry(&entry).await? {
                blobs.push(blob);
            }
        }
        blobs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(blobs)
    }

    /// One directory entry as an inventory line; `None` for anything that is
    /// not a blob, including a blob deleted since the directory was read
    /// (deletes do not wait for listings, so a listing must not fail on one).
    async fn inventory_entry(
        &self,
        entry: &tokio::fs::DirEntry,
    ) -> io::Result<Option<InventoryEntry>> {
        let meta = match entry.metadata().await {
            Ok(meta) => meta,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err),
        };
        if !meta.is_file() {
            return Ok(None);
        }
        let name = entry.file_name();
        let Some(key) = name.to_str().and_then(|name| BlobKey::parse(name).ok()) else {
            // Only writes put files here, and they take valid keys only.
            tracing::warn!(file = ?name, "a file in the blob directory is not a blob key; ignored");
            return Ok(None);
        };
        Ok(Some(InventoryEntry {
            corrupt: self.corrupt_keys().contains(&key),
            key,
            size: meta.len(),
        }))
    }
}

/// Runs file system calls that may wait on the disk (syncs, renames) on the
/// blocking pool, so they do not hold a runtime thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(io::Error::other)?
}

/// Makes a rename or removal in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
pub(crate) mod tests {
    use bytes::Bytes;
    use futures::Stream;

    use super::*;

    pub fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, io::Error>> {
        futures::stream::iter(
            parts
                .iter()
                .map(|part| Ok(Bytes::from_static(part)))
                .collect::<Vec<_>>(),
        )
    }

    pub fn key(text: &str) -> BlobKey {
        BlobKey::parse(text).unwrap()
    }

    /// Files left in `tmp/` under `root`.
    /// Writes a blob of `parts` under the key `name`, which must succeed.
    pub async fn put(
        store: &BlobStore,
        name: &str,
        parts: &[&'static [u8]],
    ) -> cdn_common::wire::StoredBlob {
        store.write(&key(name), None, chunks(parts)).await.unwrap()
    }

    pub fn debris(root: &Path) -> usize {
        std::fs::read_dir(root.join("tmp")).unwrap().count()
    }

    #[tokio::test]
    async fn counts_replacements_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), 100).await.unwrap();
        put(&store, "a", &[b"hello", b" world"]).await;
        assert_eq!((store.used_bytes(), store.objects()), (11, 1));
        store
            .write(&key("a"), Some(3), chunks(&[b"abc"]))
            .await
            .unwrap();
        assert_eq!((store.used_bytes(), store.objects()), (3, 1));
        assert!(store.delete(&key("a")).await.unwrap());
        assert!(!store.delete(&key("a")).await.unwrap());
        assert_eq!((store.used_bytes(), store.objects()), (0, 0));
        assert!(!dir.path().join("sums").join("a").exists());
    }

    #[tokio::test]
    async fn reopening_recounts_and_clears_interrupted_writes() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = BlobStore::open(dir.path(), 100).await.unwrap();
            put(&store, "a", &[b"12345"]).await;
            put(&store, "b", &[b"678"]).await;
        }
        std::fs::write(dir.path().join("tmp").join("half"), b"debris").unwrap();
        let store = BlobStore::open(dir.path(), 100).await.unwrap();
        assert_eq!((store.used_bytes(), store.objects()), (8, 2));
        assert_eq!(debris(dir.path()), 0);
    }

    #[tokio::test]
    async fn a_blob_deleted_while_listed_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), 100).await.unwrap();
        for name in ["a", "b"] {
            put(&store, name, &[b"bytes"]).await;
        }
        // The listing has read the entry; the delete lands before its size
        // is looked up.
        let mut entries = tokio::fs::read_dir(dir.path().join("blobs")).await.unwrap();
        let entry = entries.next_entry().await.unwrap().unwrap();
        let name = entry.file_name().into_string().unwrap();
        assert!(store.delete(&key(&name)).await.unwrap());
        assert!(store.inventory_entry(&entry).await.unwrap().is_none());

        let listed: Vec<_> = store.inventory().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_ne!(listed[0].key.as_str(), name);
    }

    #[tokio::test]
    async fn the_inventory_ignores_what_is_not_a_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), 100).await.unwrap();
        put(&store, "a", &[b"bytes"]).await;
        std::fs::create_dir(dir.path().join("blobs").join("folder")).unwrap();
        std::fs::write(dir.path().join("blobs").join("not a key"), b"x").unwrap();
        let listed = store.inventory().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].key.as_str(), listed[0].size), ("a", 5));
    }
}
