//! The distributor's metrics, on top of the HTTP ones that
//! `cdn_common::observe` records for every request: what it knows of each
//! node, where it places uploads, and how well copies are kept.
//!
//! The node figures are read from the [`Cluster`] when `/metrics` is
//! scraped, so an age is the age now, not at the last poll. The rest are
//! counted where they happen, through the functions below.

use std::sync::atomic::{AtomicU64, Ordering};

use cdn_common::wire::{CacheStats, NodeStatus, RepairStats};
use chrono::Utc;

use crate::cluster::{Cluster, Node};

const NODE_UP: &str = "cdn_node_up";
const NODE_POLL_AGE: &str = "cdn_node_last_poll_age_seconds";
const NODE_STORED_BYTES: &str = "cdn_node_storage_used_bytes";
const NODE_MAX_BYTES: &str = "cdn_node_storage_max_bytes";
const NODE_OBJECTS: &str = "cdn_node_objects";
const NODE_MEMORY: &str = "cdn_node_memory_used_bytes";
const PLACEMENTS: &str = "cdn_placements_total";
const UNDER_REPLICATED: &str = "cdn_under_replicated_objects";
const REPAIRS: &str = "cdn_repairs_total";
const REPAIRED_BYTES: &str = "cdn_repaired_bytes_total";
const CACHE_READS: &str = "cdn_cache_reads_total";
const CACHE_HIT_BYTES: &str = "cdn_cache_hit_bytes_total";
const CACHE_EVICTIONS: &str = "cdn_cache_evictions_total";
const CACHE_RESIDENT_BYTES: &str = "cdn_cache_resident_bytes";
const CACHE_OBJECTS: &str = "cdn_cache_objects";

/// Installs the recorder and names and explains the distributor's metrics.
/// The repair figures start at zero, so they are there before any repair.
pub fn init() {
    cdn_common::observe::recorder();
    use metrics::{Unit, describe_counter, describe_gauge};
    describe_gauge!(
        NODE_UP,
        "1 while the node answers its polls, 0 once it does not."
    );
    describe_gauge!(
        NODE_POLL_AGE,
        Unit::Seconds,
        "Seconds since the node last answered a poll (+Inf before its first answer)."
    );
    describe_gauge!(
        NODE_STORED_BYTES,
        Unit::Bytes,
        "Bytes stored on the node: its last report plus the writes placed since."
    );
    describe_gauge!(NODE_MAX_BYTES, Unit::Bytes, "The node's MAX_STORAGE.");
    describe_gauge!(
        NODE_OBJECTS,
        "Blobs stored on the node: its last report plus the writes placed since."
    );
    describe_gauge!(
        NODE_MEMORY,
        Unit::Bytes,
        "Memory in use on the node (its container's, where it has one), as last reported."
    );
    describe_counter!(
        PLACEMENTS,
        "Copies of uploaded bytes placed on the node (one per copy, per upload or replacement)."
    );
    describe_gauge!(
        UNDER_REPLICATED,
        "Objects with fewer good copies than REPLICATION, as the last repair pass counted."
    );
    describe_counter!(
        REPAIRS,
        "Copies the repair made again, by outcome (ok, failed)."
    );
    describe_counter!(
        REPAIRED_BYTES,
        Unit::Bytes,
        "Bytes copied by successful repairs."
    );
    describe_counter!(
        CACHE_READS,
        "Reads of cacheable objects, by outcome: hit (no node read of its own) or miss."
    );
    describe_counter!(
        CACHE_HIT_BYTES,
        Unit::Bytes,
        "Bytes sent from the hot-object cache without a node read."
    );
    describe_counter!(
        CACHE_EVICTIONS,
        "Objects the hot-object cache pushed out to make room."
    );
    describe_gauge!(
        CACHE_RESIDENT_BYTES,
        Unit::Bytes,
        "Bytes the hot-object cache holds, with a small allowance per object."
    );
    describe_gauge!(CACHE_OBJECTS, "Objects the hot-object cache holds.");
    metrics::counter!(CACHE_READS, "outcome" => "hit").absolute(0);
    metrics::counter!(CACHE_READS, "outcome" => "miss").absolute(0);
    metrics::counter!(CACHE_HIT_BYTES).absolute(0);
    metrics::counter!(CACHE_EVICTIONS).absolute(0);
    metrics::gauge!(UNDER_REPLICATED).set(0.0);
    metrics::counter!(REPAIRS, "outcome" => "ok").absolute(0);
    metrics::counter!(REPAIRS, "outcome" => "failed").absolute(0);
    metrics::counter!(REPAIRED_BYTES).absolute(0);
}

/// Sets the node gauges from what the cluster knows now; called when
/// `/metrics` is scraped.
pub fn observe_cluster(cluster: &Cluster) {
    let now = Utc::now();
    for node in cluster.nodes() {
        let info = node.info();
        let id = info.id.to_string();
        let up = info.status == NodeStatus::Up;
        metrics::gauge!(NODE_UP, "node" => id.clone()).set(if up { 1.0 } else { 0.0 });
        let age = info.last_seen.map_or(f64::INFINITY, |seen| {
            (now - seen).num_milliseconds().max(0) as f64 / 1000.0
        });
        metrics::gauge!(NODE_POLL_AGE, "node" => id.clone()).set(age);
        if let Some(stats) = info.stats {
            metrics::gauge!(NODE_STORED_BYTES, "node" => id.clone()).set(stats.storage as f64);
            metrics::gauge!(NODE_MAX_BYTES, "node" => id.clone()).set(stats.max_storage as f64);
            metrics::gauge!(NODE_OBJECTS, "node" => id.clone()).set(stats.objects as f64);
            metrics::gauge!(NODE_MEMORY, "node" => id).set(stats.memory as f64);
        }
    }
}

/// Counts one read of a cacheable object.
pub fn cache_read(hit: bool) {
    let outcome = if hit { "hit" } else { "miss" };
    metrics::counter!(CACHE_READS, "outcome" => outcome).increment(1);
}

/// Counts bytes sent from the cache without a node read.
pub fn cache_hit_bytes(bytes: u64) {
    metrics::counter!(CACHE_HIT_BYTES).increment(bytes);
}

pub fn cache_evicted() {
    metrics::counter!(CACHE_EVICTIONS).increment(1);
}

/// Sets the cache gauges; called when `/metrics` is scraped.
pub fn observe_cache(stats: &CacheStats) {
    metrics::gauge!(CACHE_RESIDENT_BYTES).set(stats.resident_bytes as f64);
    metrics::gauge!(CACHE_OBJECTS).set(stats.objects as f64);
}

/// Counts one placement decision: a copy of new bytes goes to each of
/// `nodes`.
pub fn placed(nodes: &[&Node]) {
    for node in nodes {
        metrics::counter!(PLACEMENTS, "node" => node.id.to_string()).increment(1);
    }
}

/// Counts one copy made again by the repair, `bytes` long.
pub fn repair_succeeded(bytes: u64) {
    metrics::counter!(REPAIRS, "outcome" => "ok").increment(1);
    metrics::counter!(REPAIRED_BYTES).increment(bytes);
}

/// Counts one copy the repair tried and failed to make.
pub fn repair_failed() {
    metrics::counter!(REPAIRS, "outcome" => "failed").increment(1);
}

/// What has become of copies since start-up, for `/stats`: found bad by
/// readers or by the repair task, and made again.
#[derive(Default)]
pub struct ReplicaHealth {
    under_replicated: AtomicU64,
    repaired: AtomicU64,
    failed: AtomicU64,
    lost_copies: AtomicU64,
    orphans: AtomicU64,
    surplus_removed: AtomicU64,
}

impl ReplicaHealth {
    /// Copies found missing or corrupt (by a reader or an inventory).
    pub fn count_lost_copy(&self) {
        self.count_lost_copies(1);
    }

    pub fn count_lost_copies(&self, copies: u64) {
        self.lost_copies.fetch_add(copies, Ordering::Relaxed);
    }

    pub fn count_repaired(&self) {
        self.repaired.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_orphans(&self, blobs: u64) {
        self.orphans.fetch_add(blobs, Ordering::Relaxed);
    }

    pub fn count_surplus_removed(&self) {
        self.surplus_removed.fetch_add(1, Ordering::Relaxed);
    }

    /// How many objects lack copies, as the last repair round counted.
    pub fn set_under_replicated(&self, objects: u64) {
        self.under_replicated.store(objects, Ordering::Relaxed);
        metrics::gauge!(UNDER_REPLICATED).set(objects as f64);
    }

    pub fn snapshot(&self) -> RepairStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RepairStats {
            under_replicated: read(&self.under_replicated),
            repaired: read(&self.repaired),
            failed: read(&self.failed),
            lost_copies: read(&self.lost_copies),
            orphans: read(&self.orphans),
            surplus_removed: read(&self.surplus_removed),
        }
    }
}
