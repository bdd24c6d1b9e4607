//! A small, short-lived memory of objects read. Every change this
//! distributor makes forgets what it changes at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::ContentRecord;

/// Objects read lately. Every change this distributor makes forgets what it
/// changes at once; the short lifetime
/// bounds how long anything else (another process writing to the same
/// database) can go unseen.
#[derive(Default)]
pub struct RecentContent {
    entries: Mutex<HashMap<Uuid, (Instant, ContentRecord)>>,
    /// Bumped by every change, so a read that raced with a change does not
    /// put back what the change just made stale.
    generation: AtomicU64,
}

impl RecentContent {
    const LIFETIME: Duration = Duration::from_secs(1);
    const CAPACITY: usize = 10_000;

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, (Instant, ContentRecord)>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn get(&self, id: Uuid) -> Option<ContentRecord> {
        let entries = self.entries();
        let (read_at, record) = entries.get(&id)?;
        (read_at.elapsed() < Self::LIFETIME).then(|| record.clone())
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Remembers `record`, read when the generation was `generation`.
    pub fn put(&self, generation: u64, record: ContentRecord) {
        let mut entries = self.entries();
        if self.generation() != generation {
            return;
        }
        if entries.len() >= Self::CAPACITY {
            entries.retain(|_, (read_at, _)| read_at.elapsed() < Self::LIFETIME);
            if entries.len() >= Self::CAPACITY {
                entries.clear();
            }
        }
        entries.insert(record.id, (Instant::now(), record));
    }

    /// Forgets `id` (or everything, for `None`) when the returned guard is
    /// dropped: at the end of the change, whichever way it ends, so that no
    /// read made before the change landed is remembered after it.
    pub fn forget_when_done(&self, id: Option<Uuid>) -> ForgetWhenDone<'_> {
        ForgetWhenDone { recent: self, id }
    }
}

pub struct ForgetWhenDone<'a> {
    recent: &'a RecentContent,
    id: Option<Uuid>,
}

impl Drop for ForgetWhenDone<'_> {
    fn drop(&mut self) {
        let mut entries = self.recent.entries();
        self.recent.generation.fetch_add(1, Ordering::SeqCst);
        match self.id {
            Some(id) => {
                entries.remove(&id);
            }
            None => entries.clear(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn record(id: Uuid) -> ContentRecord {
        ContentRecord {
            id,
            filename: "a".into(),
            content_type: "text/plain".into(),
            size: 1,
            sha256: cdn_common::Sha256::of(b"a"),
            version: 1,
            blob_key: cdn_common::BlobKey::generate(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
            replicas: Vec::new(),
            visibility: Default::default(),
        }
    }

    #[test]
    fn a_change_forgets_and_a_read_that_raced_it_is_not_remembered() {
        let recent = RecentContent::default();
        let id = Uuid::now_v7();
        recent.put(recent.generation(), record(id));
        assert!(recent.get(id).is_some());

        let read_before_change = recent.generation();
        drop(recent.forget_when_done(Some(id)));
        assert!(recent.get(id).is_none());
        recent.put(read_before_change, record(id));
        assert!(recent.get(id).is_none(), "a stale read was remembered");
    }
}
