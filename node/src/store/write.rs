//! Writing a blob: the body streams into a temporary file, hashed, summed
//! block by block and counted against the quota on its way, is synced, then
//! renamed into place together with its checksum record.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use bytes::Bytes;
use cdn_common::wire::StoredBlob;
use cdn_common::{BlobKey, Fingerprint, HashingStream};
use futures::{Stream, StreamExt};
use tempfile::TempPath;
use tokio::io::AsyncWriteExt;

use super::blocks::{BlockSummer, BlockSums};
use super::quota::{Full, Reservation};
use super::sums::{self, Record};
use super::{BlobStore, blocking, sync_dir};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Full(#[from] Full),
    #[error("the request body broke off: {0}")]
    Body(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl BlobStore {
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
        let mut reservation = self.space.reserve();
        if let Some(len) = expected_len {
            reservation.grow_to(len)?;
        }
        // Both temporary files are removed when dropped, so every early
        // return below leaves nothing in `tmp/`.
        let tmp = self.tmp.clone();
        let (file, blob_tmp) =
            blocking(move || Ok(tempfile::Builder::new().tempfile_in(tmp)?.into_parts())).await?;
        let (written, blocks) = stream_to_file(file, &mut reservation, body).await?;
        // The body may have been shorter than announced: keep only what is used.
        reservation.shrink_to(written.size);
        let tmp = self.tmp.clone();
        let record = Record {
            sha256: written.sha256,
            blocks: Some(blocks),
        };
        let sum_tmp = blocking(move || sums::prepare(&tmp, &record)).await?;

        let places = Places {
            blob: self.path(key),
            sum: self.sum_path(key),
            blobs: self.blobs.clone(),
            sums: self.sums.clone(),
        };
        let commit = self.commit.lock().await;
        let (replaced, places) = blocking(move || {
            let replaced = places.swap_in(blob_tmp, sum_tmp)?;
            Ok((replaced, places))
        })
        .await?;
        reservation.keep();
        self.corrupt_keys().remove(key);
        match replaced {
            Some(old_size) => self.space.release(old_size),
            None => {
                self.objects.fetch_add(1, Ordering::SeqCst);
            }
        }
        drop(commit);
        // The renames are made durable outside the lock: concurrent writes
        // then sync their directories together, which the file system
        // folds into one journal commit, instead of one commit after the
        // other. Nothing is acknowledged before its own sync is done.
        blocking(move || places.sync()).await?;
        Ok(StoredBlob {
            key: key.clone(),
            size: written.size,
            sha256: written.sha256,
            node_storage: self.used_bytes(),
            node_objects: self.objects(),
        })
    }
}

/// Copies `body` into `file`, reserving space for each chunk before writing
/// it, and syncs the file. The block sums are taken from the bytes as they
/// pass, so the file is never read back.
async fn stream_to_file<S, E>(
    file: std::fs::File,
    reservation: &mut Reservation<'_>,
    body: S,
) -> Result<(Fingerprint, BlockSums), WriteError>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let mut file = tokio::fs::File::from_std(file);
    let body = std::pin::pin!(body);
    let mut body = HashingStream::new(body);
    let mut blocks = BlockSummer::default();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|err| WriteError::Body(err.to_string()))?;
        reservation.grow_to(body.size())?;
        blocks.update(&chunk);
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    file.sync_all().await?;
    let fingerprint = body
        .fingerprint()
        .ok_or_else(|| io::Error::other("the body stream did not end"))?;
    Ok((fingerprint, blocks.finish()))
}

/// Where one key's files go.
struct Places {
    blob: PathBuf,
    sum: PathBuf,
    blobs: PathBuf,
    sums: PathBuf,
}

impl Places {
    /// Renames the synced blob and record into place; the size of the blob
    /// replaced, if any. Blocking; the caller holds the commit lock, and
    /// calls [`Places::sync`] before saying the blob is stored.
    ///
    /// The old record goes first: a crash at any point leaves the blob with
    /// its own record or with none (which the next scrub fills in), never
    /// with a record of other bytes that would read as corruption.
    fn swap_in(&self, blob_tmp: TempPath, sum_tmp: TempPath) -> io::Result<Option<u64>> {
        let replaced = match std::fs::metadata(&self.blob) {
            Ok(meta) => Some(meta.len()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => None,
            Err(err) => return Err(err),
        };
        if remove_if_present(&self.sum)? {
            sync_dir(&self.sums)?;
        }
        blob_tmp.persist(&self.blob)?;
        // The blob is in place and counts from here on, whatever happens to
        // its record.
        if let Err(err) = sum_tmp.persist(&self.sum) {
            tracing::warn!(
                blob = %self.blob.display(),
                error = %err,
                "blob stored without its checksum record; the next scrub records it"
            );
        }
        Ok(replaced)
    }

    /// Makes [`Places::swap_in`]'s renames durable. Blocking. A failure to
    /// sync the record's directory only costs the record (see above).
    fn sync(&self) -> io::Result<()> {
        sync_dir(&self.blobs)?;
        if let Err(err) = sync_dir(&self.sums) {
            tracing::warn!(error = %err, "cannot sync the checksum records' directory");
        }
        Ok(())
    }
}

/// Removes `path`; `Ok(false)` when there was nothing to remove.
fn remove_if_present(path: &Path) -> io::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use cdn_common::Sha256;

    use super::super::tests::{chunks, debris, key, put};
    use super::*;

    #[tokio::test]
    async fn a_write_is_hashed_and_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), 100).await.unwrap();
        let stored = store
            .write(&key("a"), Some(11), chunks(&[b"hello", b" ", b"world"]))
            .await
            .unwrap();
        assert_eq!((stored.key.as_str(), stored.size), ("a", 11));
        assert_eq!(stored.sha256, Sha256::of(b"hello world"));
        assert_eq!((stored.node_storage, stored.node_objects), (11, 1));
        assert_eq!(
            std::fs::read(store.path(&key("a"))).unwrap(),
            b"hello world"
        );
        let record = sums::read_now(&dir.path().join("sums").join("a")).unwrap();
        let mut blocks = BlockSummer::default();
        blocks.update(b"hello world");
        let expected = Record {
            sha256: stored.sha256,
            blocks: Some(blocks.finish()),
        };
        assert_eq!(record, expected);
        assert_eq!(debris(dir.path()), 0);

        let replaced = put(&store, "a", &[b"bye"]).await;
        let record = sums::read_now(&dir.path().join("sums").join("a")).unwrap();
        assert_eq!(record.sha256, replaced.sha256);
        assert!(record.blocks.unwrap().check(0, b"bye"));
        assert_eq!(debris(dir.path()), 0);
    }

    #[tokio::test]
    async fn a_write_past_the_limit_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), 10).await.unwrap();
        let err = store
            .write(&key("big"), None, chunks(&[b"123456", b"789012"]))
            .await
            .unwrap_err();
        assert!(matches!(err, WriteError::Full(_)), "{err}");
        let err = store
            .write(&key("big"), Some(11), chunks(&[b"1"]))
            .await
            .unwrap_err();
        assert!(matches!(err, WriteError::Full(_)), "{err}");
        assert_eq!(store.used_bytes(), 0);
        assert!(store.inventory().await.unwrap().is_empty());
        assert_eq!(debris(dir.path()), 0);
    }

    #[tokio::test]
    async fn a_body_that_breaks_off_keeps_the_old_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), 100).await.unwrap();
        put(&store, "a", &[b"old"]).await;
        let broken = futures::stream::iter([
            Ok(Bytes::from_static(b"new")),
            Err(io::Error::other("connection reset")),
        ]);
        let err = store.write(&key("a"), None, broken).await.unwrap_err();
        assert!(matches!(err, WriteError::Body(_)), "{err}");
        assert_eq!(std::fs::read(store.path(&key("a"))).unwrap(), b"old");
        assert_eq!((store.used_bytes(), store.objects()), (3, 1));
        assert_eq!(debris(dir.path()), 0);
    }
}
