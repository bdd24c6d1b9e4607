//! Reading a blob back: block by block, each checked against its block sum
//! before any of its bytes leave the store.
//!
//! A block that fails its sum marks the blob corrupt, as the scrub does, so
//! the inventory reports it and the distributor's repair replaces the copy.
//! Unless the blob was replaced while it was read: then the sums read may
//! belong to the new bytes, and nothing is proven.

use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::Arc;

use bytes::Bytes;
use cdn_common::BlobKey;

use super::BlobStore;
use super::blocks::{BLOCK, BlockSums};
use super::sums;

/// One blob, open for reading.
pub struct OpenBlob {
    store: Arc<BlobStore>,
    key: BlobKey,
    file: std::fs::File,
    len: u64,
    /// `None` while the blob's record has no block sums (see `scrub`): its
    /// blocks are then sent unchecked.
    sums: Option<BlockSums>,
}

impl BlobStore {
    /// Opens the blob `key` and reads its block sums; `NotFound` when there
    /// is no such blob. Runs on the calling thread: the open, the stat and
    /// the record's read are quick from the page cache (see `serve`).
    pub fn open_blob(self: &Arc<Self>, key: &BlobKey) -> io::Result<OpenBlob> {
        // The blob first: a replacement renames its record in after its
        // bytes, so sums read now are this blob's, or the next one's (which
        // `still_current` tells), never an older one's.
        let file = std::fs::File::open(self.path(key))?;
        let len = file.metadata()?.len();
        let sums = sums::read_now(&self.sum_path(key))
            .and_then(|record| record.blocks)
            .filter(|sums| sums.fit(len));
        Ok(OpenBlob {
            store: self.clone(),
            key: key.clone(),
            file,
            len,
            sums,
        })
    }
}

impl OpenBlob {
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Block `index`, whole and checked; an `InvalidData` error when it does
    /// not match its sum. Blocking.
    pub fn read_block(&self, index: u64) -> io::Result<Bytes> {
        let start = index * BLOCK;
        let size = BLOCK.min(self.len.saturating_sub(start));
        let mut bytes = vec![0; size as usize];
        self.file.read_exact_at(&mut bytes, start)?;
        match &self.sums {
            Some(sums) if !sums.check(index, &bytes) => Err(self.bad_block(index)),
            _ => Ok(Bytes::from(bytes)),
        }
    }

    /// Marks the blob corrupt, unless it was replaced while it was read.
    fn bad_block(&self, index: u64) -> io::Error {
        if self.still_current() {
            tracing::warn!(key = %self.key, block = index, "a block does not match its checksum; the blob is marked corrupt");
            metrics::counter!(crate::metrics::CORRUPT_BLOCKS).increment(1);
            self.store.corrupt_keys().insert(self.key.clone());
        } else {
            tracing::info!(key = %self.key, "blob replaced while it was read");
        }
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "block {index} of blob {} does not match its checksum",
                self.key
            ),
        )
    }

    /// Whether the open file is still the blob at its path, with the sums it
    /// was opened with.
    fn still_current(&self) -> bool {
        let same_file = match (
            std::fs::metadata(self.store.path(&self.key)),
            self.file.metadata(),
        ) {
            (Ok(at_path), Ok(open)) => (at_path.dev(), at_path.ino()) == (open.dev(), open.ino()),
            _ => false,
        };
        same_file
            && sums::read_now(&self.store.sum_path(&self.key)).and_then(|record| record.blocks)
                == self.sums
    }
}

#[cfg(test)]
mod tests {
    use cdn_common::Sha256;

    use super::super::tests::{key, put};
    use super::*;

    async fn store(dir: &std::path::Path) -> Arc<BlobStore> {
        Arc::new(BlobStore::open(dir, 1 << 20).await.unwrap())
    }

    /// Flips one bit of the blob `name`'s file at `at`.
    fn flip(dir: &std::path::Path, name: &str, at: usize) {
        let path = dir.join("blobs").join(name);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[at] ^= 0x01;
        std::fs::write(path, bytes).unwrap();
    }

    const THREE_BLOCKS: &[u8] = &[9; 2 * BLOCK as usize + 100];

    #[tokio::test]
    async fn blocks_read_back_checked_and_a_bad_one_marks_the_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        put(&store, "a", &[THREE_BLOCKS]).await;
        flip(dir.path(), "a", BLOCK as usize + 5);

        let blob = store.open_blob(&key("a")).unwrap();
        assert_eq!(blob.len(), THREE_BLOCKS.len() as u64);
        assert_eq!(blob.read_block(0).unwrap(), &THREE_BLOCKS[..BLOCK as usize]);
        assert_eq!(
            blob.read_block(2).unwrap(),
            &THREE_BLOCKS[2 * BLOCK as usize..]
        );
        assert!(!store.inventory().await.unwrap()[0].corrupt);
        let err = blob.read_block(1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(store.inventory().await.unwrap()[0].corrupt);

        // A rewrite brings good bytes and clears the mark.
        put(&store, "a", &[THREE_BLOCKS]).await;
        assert!(!store.inventory().await.unwrap()[0].corrupt);
        assert!(store.open_blob(&key("a")).unwrap().read_block(1).is_ok());
    }

    #[tokio::test]
    async fn a_blob_replaced_while_read_is_not_called_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        put(&store, "a", &[THREE_BLOCKS]).await;
        let blob = store.open_blob(&key("a")).unwrap();
        // Bytes of the same length replace it; the open file keeps the old
        // ones, whose sums are gone.
        put(&store, "a", &[&[8; 2 * BLOCK as usize + 100]]).await;
        flip(dir.path(), "a", 0);
        let reopened = store.open_blob(&key("a")).unwrap();
        assert!(reopened.read_block(0).is_err());
        assert!(store.inventory().await.unwrap()[0].corrupt);
        put(&store, "a", &[THREE_BLOCKS]).await;

        // The old open file against a record that changed under it.
        let stale = OpenBlob {
            sums: reopened.sums.clone(),
            ..blob
        };
        assert!(stale.read_block(0).is_err());
        assert!(!store.inventory().await.unwrap()[0].corrupt);
    }

    #[tokio::test]
    async fn a_blob_without_block_sums_is_served_unchecked_not_called_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        put(&store, "old", &[b"written long ago"]).await;
        let sums = dir.path().join("sums").join("old");
        std::fs::write(&sums, Sha256::of(b"written long ago").to_hex()).unwrap();
        let blob = store.open_blob(&key("old")).unwrap();
        assert!(blob.sums.is_none());
        assert_eq!(blob.read_block(0).unwrap(), &b"written long ago"[..]);

        // Nor is a damaged record, or one for bytes of another length.
        std::fs::write(&sums, b"\x00garbage").unwrap();
        assert!(store.open_blob(&key("old")).unwrap().sums.is_none());
        put(&store, "other", &[THREE_BLOCKS]).await;
        std::fs::copy(dir.path().join("sums").join("other"), &sums).unwrap();
        let blob = store.open_blob(&key("old")).unwrap();
        assert!(blob.sums.is_none());
        assert!(blob.read_block(0).is_ok());
        assert!(
            store
                .inventory()
                .await
                .unwrap()
                .iter()
                .all(|blob| !blob.corrupt)
        );
    }
}
