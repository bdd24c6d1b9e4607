//! Hot objects' bytes, kept whole in memory so a read needs no node.
//!
//! - Only objects up to `CACHE_MAX_OBJECT` are kept, within `CACHE_SIZE`
//!   bytes in all; the cache is `moka`'s, weighed in bytes.
//! - Admission is moka's TinyLFU: while there is room every object read is
//!   kept; once full, a newcomer is kept only if it was asked for more often
//!   than what it would push out. So one scan of cold objects cannot flush
//!   the hot ones, and no object waits for a second read while there is
//!   room, which a fixed "admit on the second read" rule would make it do.
//! - Concurrent misses of one object share one load (`try_get_with`): one
//!   node read, whatever the number of readers.
//! - Bytes are kept only after the whole object matched its SHA-256; a load
//!   that fails keeps nothing, and its readers stream from the copies as if
//!   there were no cache.
//! - An entry is the object's id with the blob it holds, and it is used only
//!   when that blob is the one the record being served points at. A blob
//!   key names one version's bytes forever, so an entry from before a
//!   replacement can never be served for the new version, even before the
//!   change is announced; announcements only free the memory sooner.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use cdn_common::BlobKey;
use cdn_common::wire::CacheStats;
use moka::future::Cache;
use moka::notification::RemovalCause;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::catalog::{ContentRecord, Forgotten};
use crate::metrics;

/// Bytes counted per entry beside the object's own, for its key and
/// bookkeeping, so that many tiny objects cannot outgrow the budget.
const ENTRY_OVERHEAD: u64 = 256;

/// KiB of objects being loaded at once, outside `CACHE_SIZE` until kept:
/// past it a miss streams from the copies instead, so a burst of distinct
/// misses cannot hold unbounded memory.
const LOADING_KIB: u32 = 16 * 1024;

/// One object's bytes, as one version's blob holds them.
struct Entry {
    blob_key: BlobKey,
    bytes: Bytes,
}

/// The hot objects, and what they served.
#[derive(Clone)]
pub struct HotObjects {
    /// `None` when `CACHE_SIZE` is 0.
    cache: Option<Cache<Uuid, Arc<Entry>>>,
    capacity: u64,
    max_object: u64,
    counts: Arc<Counts>,
    /// Room for objects being loaded, in KiB.
    loading: Arc<Semaphore>,
}

#[derive(Default)]
struct Counts {
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Whether a read came from memory or from a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    /// No node read was needed for this reader: the bytes were kept, or a
    /// concurrent reader's load brought them.
    Hit,
    /// This reader's load read the object from a node.
    Miss,
}

impl HotObjects {
    pub fn new(capacity: u64, max_object: u64) -> Self {
        let cache = (capacity > 0).then(|| {
            Cache::builder()
                .max_capacity(capacity)
                .weigher(|_, entry: &Arc<Entry>| {
                    let weight = entry.bytes.len() as u64 + ENTRY_OVERHEAD;
                    u32::try_from(weight).unwrap_or(u32::MAX)
                })
                .eviction_listener(|_, _, cause| {
                    if cause == RemovalCause::Size {
                        metrics::cache_evicted();
                    }
                })
                .build()
        });
        HotObjects {
            cache,
            capacity,
            max_object: max_object.min(capacity),
            counts: Arc::default(),
            loading: Arc::new(Semaphore::new(LOADING_KIB as usize)),
        }
    }

    /// Whether the object's bytes may be kept.
    pub fn keeps(&self, record: &ContentRecord) -> bool {
        self.cache.is_some() && record.size <= self.max_object
    }

    /// The object's bytes: kept ones, or those `load` reads, checked whole
    /// against the SHA-256, then kept. `None` when the load failed, there
    /// was no room to load, or another version was loaded meanwhile: the
    /// caller then reads from the copies itself.
    pub async fn get_or_load<F, E>(
        &self,
        record: &ContentRecord,
        load: F,
    ) -> Option<(Bytes, Served)>
    where
        F: Future<Output = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let cache = self.cache.as_ref()?;
        if let Some(entry) = cache.get(&record.id).await {
            if entry.blob_key == record.blob_key {
                return Some((entry.bytes.clone(), self.count(Served::Hit)));
            }
            // Another version's bytes: never served, and not kept either.
            cache.invalidate(&record.id).await;
        }
        let mut loaded_here = false;
        let loaded = cache
            .try_get_with(record.id, async {
                loaded_here = true;
                let kib = u32::try_from(record.size.div_ceil(1024)).unwrap_or(u32::MAX);
                let _room = self
                    .loading
                    .try_acquire_many(kib.clamp(1, LOADING_KIB))
                    .map_err(|_| "too many objects are being loaded".to_owned())?;
                let bytes = load.await.map_err(|err| err.to_string())?;
                Ok::<_, String>(Arc::new(Entry {
                    blob_key: record.blob_key.clone(),
                    bytes,
                }))
            })
            .await;
        let served = self.count(if loaded_here {
            Served::Miss
        } else {
            Served::Hit
        });
        match loaded {
            Ok(entry) if entry.blob_key == record.blob_key => Some((entry.bytes.clone(), served)),
            Ok(_) => None,
            Err(err) => {
                tracing::debug!(id = %record.id, error = %err, "object not cached");
                None
            }
        }
    }

    /// Drops what a change made stale. Its bytes could not be served anyway
    /// (see the module's notes); this frees their memory now.
    pub fn forget(&self, what: Forgotten) {
        let Some(cache) = &self.cache else {
            return;
        };
        match what {
            Forgotten::All => cache.invalidate_all(),
            Forgotten::One(id) => {
                // Called from synchronous code; the removal itself does not
                // wait for anything.
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    let cache = cache.clone();
                    runtime.spawn(async move { cache.invalidate(&id).await });
                }
            }
        }
    }

    fn count(&self, served: Served) -> Served {
        match served {
            Served::Hit => self.counts.hits.fetch_add(1, Ordering::Relaxed),
            Served::Miss => self.counts.misses.fetch_add(1, Ordering::Relaxed),
        };
        metrics::cache_read(served == Served::Hit);
        served
    }

    /// The figures for `/stats` and `/metrics`.
    pub async fn stats(&self) -> CacheStats {
        let (resident_bytes, objects) = match &self.cache {
            Some(cache) => {
                // Sizes are settled lazily; settle them for a true figure.
                cache.run_pending_tasks().await;
                (cache.weighted_size(), cache.entry_count())
            }
            None => (0, 0),
        };
        let hits = self.counts.hits.load(Ordering::Relaxed);
        let misses = self.counts.misses.load(Ordering::Relaxed);
        let reads = hits + misses;
        CacheStats {
            hit_ratio: if reads == 0 {
                0.0
            } else {
                hits as f64 / reads as f64
            },
            hits,
            misses,
            resident_bytes,
            capacity_bytes: self.capacity,
            objects,
        }
    }
}
