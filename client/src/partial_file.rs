//! [`PartialFile`]: a download on its way to disk, never seen half-written.

use std::path::{Path, PathBuf};

use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncWriteExt, BufWriter};
use uuid::Uuid;

use crate::error::{Error, Result};

/// A download being written: a hidden file beside the target, removed when
/// dropped unless [`PartialFile::persist`] renamed it into place, so the
/// target is never seen half-written.
pub(crate) struct PartialFile {
    path: PathBuf,
    writer: BufWriter<File>,
    persisted: bool,
}

impl PartialFile {
    /// A new hidden file in `target`'s directory, buffering `buffer` bytes
    /// per write.
    pub(crate) async fn create_beside(target: &Path, buffer: usize) -> Result<Self> {
        let dir = match target.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        // Same directory, so the final rename stays on one file system and
        // is atomic; a fresh unique name, so parallel downloads do not clash.
        let path = dir.join(format!(".{}.cdn-part", Uuid::now_v7().simple()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(|error| Error::io("cannot create", &path, error))?;
        Ok(Self {
            path,
            writer: BufWriter::with_capacity(buffer, file),
            persisted: false,
        })
    }

    pub(crate) async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.writer
            .write_all(bytes)
            .await
            .map_err(|error| Error::io("cannot write", &self.path, error))
    }

    /// Syncs the bytes and renames the file to `target`, replacing it.
    pub(crate) async fn persist(mut self, target: &Path) -> Result<()> {
        self.writer
            .flush()
            .await
            .map_err(|error| Error::io("cannot write", &self.path, error))?;
        // Synced before the rename, so after a crash the target holds either
        // its old bytes or all of the new ones.
        self.writer
            .get_ref()
            .sync_all()
            .await
            .map_err(|error| Error::io("cannot sync", &self.path, error))?;
        tokio::fs::rename(&self.path, target)
            .await
            .map_err(|error| Error::io("cannot move the download to", target, error))?;
        self.persisted = true;
        Ok(())
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if !self.persisted {
            // Best effort: the error that brought us here is the one to report.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUFFER: usize = 1024;

    #[tokio::test]
    async fn an_abandoned_partial_file_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.bin");
        let mut partial = PartialFile::create_beside(&target, BUFFER).await.unwrap();
        partial.write(b"half").await.unwrap();
        let partial_path = partial.path.clone();
        assert!(partial_path.exists());
        drop(partial);
        assert!(!partial_path.exists());
        assert!(!target.exists());
    }

    #[tokio::test]
    async fn a_persisted_partial_file_replaces_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.bin");
        std::fs::write(&target, b"old bytes").unwrap();
        let mut partial = PartialFile::create_beside(&target, BUFFER).await.unwrap();
        partial.write(b"new ").await.unwrap();
        partial.write(b"bytes").await.unwrap();
        partial.persist(&target).await.unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new bytes");
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "only the target should remain");
    }
}
