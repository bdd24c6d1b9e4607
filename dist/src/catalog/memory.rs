//! The memory of objects read, so a hot read asks PostgreSQL nothing.
//!
//! A record stays until a change forgets it, not for a fixed time: every
//! change this distributor makes forgets what it changed at once, and every
//! change any distributor makes is announced with `NOTIFY`, which
//! `changes::follow` turns into the same forgetting here. While nothing
//! follows the announcements (before the first `LISTEN`, or while the
//! connection is lost) a change could go unseen, so then nothing is kept
//! and every read asks PostgreSQL; each start or end of following forgets
//! everything.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{OnceLock, RwLock};

use moka::sync::Cache;
use uuid::Uuid;

use super::ContentRecord;

/// What a change made stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forgotten {
    One(Uuid),
    All,
}

/// Told of everything forgotten, so what is kept beside the records (the
/// hot objects' bytes) goes with them.
pub type ForgetHook = Box<dyn Fn(Forgotten) + Send + Sync>;

pub struct ContentMemory {
    records: Cache<Uuid, ContentRecord>,
    /// Bumped by every change, so a read that raced with a change does not
    /// put back what the change just made stale. A write lock is held while
    /// it is bumped, a read lock while a record is put, so no put can land
    /// between a bump and the forgetting that follows it.
    generation: AtomicU64,
    /// Whether announcements are followed; records are kept only then.
    following: RwLock<bool>,
    hook: OnceLock<ForgetHook>,
}

/// The generation seen before a record was read from PostgreSQL.
#[derive(Clone, Copy, Debug)]
pub struct Ticket(u64);

impl Default for ContentMemory {
    fn default() -> Self {
        ContentMemory::new(Self::CAPACITY)
    }
}

impl ContentMemory {
    /// Records kept at most (a few hundred bytes each); the least used go
    /// first.
    const CAPACITY: u64 = 20_000;

    fn new(capacity: u64) -> Self {
        ContentMemory {
            records: Cache::new(capacity),
            generation: AtomicU64::new(0),
            following: RwLock::new(false),
            hook: OnceLock::new(),
        }
    }

    /// Sets what is told of everything forgotten; only the first call counts.
    pub fn on_forget(&self, hook: ForgetHook) {
        if self.hook.set(hook).is_err() {
            tracing::warn!("a second forget hook was ignored");
        }
    }

    pub fn get(&self, id: Uuid) -> Option<ContentRecord> {
        self.records.get(&id)
    }

    /// Taken before reading a record from PostgreSQL, for [`Self::put`].
    pub fn ticket(&self) -> Ticket {
        Ticket(self.generation.load(Ordering::SeqCst))
    }

    /// Remembers `record`, read after `ticket` was taken, unless a change
    /// landed since or announcements are not followed.
    pub fn put(&self, ticket: Ticket, record: ContentRecord) {
        let following = self.following.read().unwrap_or_else(|p| p.into_inner());
        if *following && self.generation.load(Ordering::SeqCst) == ticket.0 {
            self.records.insert(record.id, record);
        }
    }

    pub fn forget(&self, what: Forgotten) {
        {
            let _no_put = self.following.write().unwrap_or_else(|p| p.into_inner());
            self.generation.fetch_add(1, Ordering::SeqCst);
            match what {
                Forgotten::One(id) => self.records.invalidate(&id),
                Forgotten::All => self.records.invalidate_all(),
            }
        }
        if let Some(hook) = self.hook.get() {
            hook(what);
        }
    }

    /// Starts or stops keeping records, forgetting everything either way:
    /// announcements missed while not following cannot be told apart.
    pub fn set_following(&self, following: bool) {
        {
            let mut state = self.following.write().unwrap_or_else(|p| p.into_inner());
            *state = following;
            self.generation.fetch_add(1, Ordering::SeqCst);
            self.records.invalidate_all();
        }
        if let Some(hook) = self.hook.get() {
            hook(Forgotten::All);
        }
    }

    /// Forgets `id` when the returned guard is dropped: at the end of the
    /// change, whichever way it ends, so that no read made before the
    /// change landed is remembered after it.
    pub fn forget_when_done(&self, id: Uuid) -> ForgetWhenDone<'_> {
        ForgetWhenDone { memory: self, id }
    }
}

pub struct ForgetWhenDone<'a> {
    memory: &'a ContentMemory,
    id: Uuid,
}

impl Drop for ForgetWhenDone<'_> {
    fn drop(&mut self) {
        self.memory.forget(Forgotten::One(self.id));
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
            key: id.to_string(),
            md5: None,
            headers: Default::default(),
            segments: Vec::new(),
            bucket_is_parts: false,
        }
    }

    fn following() -> ContentMemory {
        let memory = ContentMemory::new(100);
        memory.set_following(true);
        memory
    }

    #[test]
    fn a_change_forgets_and_a_read_that_raced_it_is_not_remembered() {
        let memory = following();
        let id = Uuid::now_v7();
        memory.put(memory.ticket(), record(id));
        assert!(memory.get(id).is_some());

        let read_before_change = memory.ticket();
        drop(memory.forget_when_done(id));
        assert!(memory.get(id).is_none());
        memory.put(read_before_change, record(id));
        assert!(memory.get(id).is_none(), "a stale read was remembered");
    }

    #[test]
    fn nothing_is_kept_while_changes_are_not_followed() {
        let memory = ContentMemory::new(100);
        let id = Uuid::now_v7();
        memory.put(memory.ticket(), record(id));
        assert!(memory.get(id).is_none(), "kept before following");

        memory.set_following(true);
        let read_while_following = memory.ticket();
        memory.put(read_while_following, record(id));
        assert!(memory.get(id).is_some());

        memory.set_following(false);
        assert!(memory.get(id).is_none(), "kept after following stopped");
        memory.put(read_while_following, record(id));
        assert!(
            memory.get(id).is_none(),
            "a read from before the loss was kept"
        );
    }

    #[test]
    fn the_hook_hears_every_forgetting() {
        let memory = following();
        let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = heard.clone();
        memory.on_forget(Box::new(move |what| sink.lock().unwrap().push(what)));
        let id = Uuid::now_v7();
        memory.forget(Forgotten::One(id));
        memory.set_following(false);
        assert_eq!(
            *heard.lock().unwrap(),
            vec![Forgotten::One(id), Forgotten::All]
        );
    }
}
