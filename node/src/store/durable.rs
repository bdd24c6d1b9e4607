//! Group commit for new blobs: instead of syncing each file and directory
//! one by one (four syncs per blob, each a trip to the disk), a writer asks
//! for one `syncfs` of the store's file system after its renames, and all
//! writers that ask while one runs share the next. Under load, many blobs
//! become durable for the price of one flush.
//!
//! Why that is enough: `syncfs` returns once every file's data and every
//! directory change made before the call is on disk (Linux reports write-back
//! errors from it since 5.8), and a writer acknowledges its blob only after a
//! `syncfs` that started after its renames. Until then a crash may leave a
//! new blob's name with less than its bytes; such a blob was never
//! acknowledged, so the distributor never recorded it: it is listed as
//! stray, never read, and removed.
//! Blobs that replace others keep syncing file by file (see `write`), so a
//! crash cannot cost bytes that were acknowledged before.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};

/// How a write becomes durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flush {
    /// Each file and directory synced as it is written.
    EachFile,
    /// One [`GroupSync::sync`] once the files are in place.
    Group,
}

/// One writer waiting for a flush that covers its files.
type Waiter = oneshot::Sender<Result<(), Arc<io::Error>>>;

/// Hands out shared flushes of one file system.
#[derive(Clone)]
pub struct GroupSync {
    waiting: mpsc::UnboundedSender<Waiter>,
    flushes: Arc<AtomicU64>,
}

impl GroupSync {
    /// Flushes the file system that holds `dir`, from a task of its own,
    /// which ends when the last clone is dropped.
    pub fn start(dir: &Path) -> io::Result<GroupSync> {
        let dir = File::open(dir)?;
        let (waiting, queue) = mpsc::unbounded_channel();
        let flushes = Arc::new(AtomicU64::new(0));
        tokio::spawn(flush_for_waiters(Arc::new(dir), queue, flushes.clone()));
        Ok(GroupSync { waiting, flushes })
    }

    /// Returns once everything written before this call is on disk.
    pub async fn sync(&self) -> io::Result<()> {
        let (done, flushed) = oneshot::channel();
        self.waiting
            .send(done)
            .map_err(|_| io::Error::other("the store's flusher has stopped"))?;
        match flushed.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(io::Error::new(err.kind(), err.to_string())),
            Err(_) => Err(io::Error::other("the store's flusher has stopped")),
        }
    }

    /// Flushes done so far, however many writers each served.
    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }
}

async fn flush_for_waiters(
    dir: Arc<File>,
    mut queue: mpsc::UnboundedReceiver<Waiter>,
    flushes: Arc<AtomicU64>,
) {
    while let Some(first) = queue.recv().await {
        // Everyone who asked before this flush starts is served by it.
        let mut waiters = vec![first];
        while let Ok(waiter) = queue.try_recv() {
            waiters.push(waiter);
        }
        let dir = dir.clone();
        let flushed = tokio::task::spawn_blocking(move || flush(&dir))
            .await
            .unwrap_or_else(|err| Err(io::Error::other(err)))
            .map_err(Arc::new);
        flushes.fetch_add(1, Ordering::Relaxed);
        for waiter in waiters {
            // A writer that gave up waiting needs no answer.
            let _ = waiter.send(flushed.clone());
        }
    }
}

/// `syncfs(2)` of the file system holding `dir`. Blocking.
fn flush(dir: &File) -> io::Result<()> {
    // SAFETY: the descriptor is open for the whole call, owned by `dir`.
    if unsafe { libc::syncfs(dir.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On this single-threaded runtime every writer asks before the flusher
    /// runs again, so a hundred writers share a flush or two.
    #[tokio::test]
    async fn writers_waiting_together_share_a_flush() {
        let dir = tempfile::tempdir().unwrap();
        let group = GroupSync::start(dir.path()).unwrap();
        let writers: Vec<_> = (0..100)
            .map(|n| {
                let group = group.clone();
                let path = dir.path().join(n.to_string());
                tokio::spawn(async move {
                    std::fs::write(path, b"bytes").unwrap();
                    group.sync().await
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap().unwrap();
        }
        assert!(
            (1..=2).contains(&group.flushes()),
            "{} flushes",
            group.flushes()
        );
        // A later writer gets a flush of its own.
        group.sync().await.unwrap();
        assert!(group.flushes() >= 2);
    }
}
