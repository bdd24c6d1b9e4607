//! Keeps `REPLICATION` good copies of every object.
//!
//! Each round, the repair task:
//! 1. compares every up node's inventory with the catalogue: copies the node
//!    lacks become `missing`, copies its scrub found bad become `corrupt`,
//!    and blobs nothing points at become stray (the janitor removes them);
//! 2. drops the records of bad copies on up nodes, so their bytes go too;
//! 3. copies each under-replicated object from a good copy to another node,
//!    one copy at a time, checking the SHA-256 the target computes;
//! 4. removes surplus copies, left when a node that was repaired around
//!    comes back.
//!
//! A node counts as available while it is up, and for `REPAIR_GRACE` after it
//! goes down: a restart is not worth copying everything for. Copies are made
//! one at a time and a round handles a bounded batch, so repair takes one
//! stream's worth of bandwidth and never starves user traffic.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cdn_common::wire::RepairStats;
use tokio_util::sync::CancellationToken;

use crate::catalog::{Catalog, ContentRecord, ReplicaState};
use crate::cluster::{Cluster, Node};
use crate::every::Every;
use crate::metrics;
use crate::node_client::NodeClient;
use crate::transfer::{TransferError, copy_blob};

/// Objects handled per round.
const BATCH: i64 = 200;

/// Copies made at once: enough to hide each copy's round trips and syncs,
/// few enough to leave the nodes' bandwidth to user traffic.
const COPIES_AT_ONCE: usize = 4;

/// Everything one repair round needs.
#[derive(Clone)]
pub struct Repairer {
    pub catalog: Catalog,
    pub cluster: Arc<Cluster>,
    pub client: NodeClient,
    pub replication: usize,
    pub grace: Duration,
    /// How long a blob nothing points at is kept before it is removed.
    pub orphan_grace: Duration,
    pub counters: Arc<RepairCounters>,
}

/// Figures for `/stats`.
#[derive(Default)]
pub struct RepairCounters {
    under_replicated: AtomicU64,
    repaired: AtomicU64,
    failed: AtomicU64,
    lost_copies: AtomicU64,
    orphans: AtomicU64,
    surplus_removed: AtomicU64,
}

impl RepairCounters {
    /// A reader found a copy's bytes wrong.
    pub fn count_lost_copy(&self) {
        self.lost_copies.fetch_add(1, Ordering::Relaxed);
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

impl Repairer {
    /// Runs a round every `interval` until `stop`.
    pub async fn run(self, interval: Duration, stop: CancellationToken) {
        let mut every = Every::new(interval, stop);
        while every.tick().await {
            if let Some(Err(err)) = every.unless_stopped(self.round()).await {
                tracing::warn!(error = %err, "repair round failed");
            }
        }
    }

    pub async fn round(&self) -> Result<(), sqlx::Error> {
        let up: Vec<&Node> = self
            .cluster
            .nodes()
            .iter()
            .filter(|node| node.is_up())
            .collect();
        for node in &up {
            self.reconcile(node).await?;
        }
        let up_ids: Vec<String> = up.iter().map(|node| node.id.to_string()).collect();
        let retired = self.catalog.retire_bad_copies(&up_ids).await?;
        if retired > 0 {
            tracing::info!(copies = retired, "dropped bad copies; repairing them");
        }

        let available: Vec<String> = self
            .cluster
            .nodes()
            .iter()
            .filter(|node| node.down_for().is_none_or(|down| down < self.grace))
            .map(|node| node.id.to_string())
            .collect();
        let copies = self.replication as i64;
        let under = self
            .catalog
            .misreplicated(&available, copies, true, BATCH)
            .await?;
        for batch in under.chunks(COPIES_AT_ONCE) {
            let mut restores = Vec::with_capacity(batch.len());
            for record in batch {
                restores.push(self.restore(record, &available));
            }
            for restored in futures::future::join_all(restores).await {
                restored?;
            }
        }
        let under_replicated = self
            .catalog
            .count_under_replicated(&available, copies)
            .await? as u64;
        self.counters
            .under_replicated
            .store(under_replicated, Ordering::Relaxed);
        metrics::set_under_replicated(under_replicated);
        for record in self
            .catalog
            .misreplicated(&up_ids, copies, false, BATCH)
            .await?
        {
            self.trim(&record, &up_ids).await?;
        }
        Ok(())
    }

    /// Compares one node's inventory with the catalogue.
    async fn reconcile(&self, node: &Node) -> Result<(), sqlx::Error> {
        let asked_at = self.catalog.now().await?;
        let inventory = match self.client.inventory(&node.url).await {
            Ok(inventory) => inventory,
            Err(err) => {
                tracing::debug!(node = %node.id, error = %err, "no inventory this round");
                return Ok(());
            }
        };
        let present: Vec<String> = inventory
            .blobs
            .iter()
            .map(|blob| blob.key.clone())
            .collect();
        let corrupt: Vec<String> = inventory
            .blobs
            .iter()
            .filter(|blob| blob.corrupt)
            .map(|blob| blob.key.clone())
            .collect();
        let found = self
            .catalog
            .reconcile_inventory(
                node.id.as_str(),
                asked_at,
                &present,
                &corrupt,
                self.orphan_grace,
            )
            .await?;
        if found.missing + found.corrupt + found.orphans > 0 {
            tracing::warn!(
                node = %node.id,
                missing = found.missing,
                corrupt = found.corrupt,
                orphans = found.orphans,
                "node's inventory differs from the catalogue"
            );
        }
        self.counters
            .lost_copies
            .fetch_add(found.missing + found.corrupt, Ordering::Relaxed);
        self.counters
            .orphans
            .fetch_add(found.orphans, Ordering::Relaxed);
        Ok(())
    }

    /// Makes good copies of one object until it has enough.
    async fn restore(
        &self,
        record: &ContentRecord,
        available: &[String],
    ) -> Result<(), sqlx::Error> {
        let good: Vec<&Node> = record
            .replicas
            .iter()
            .filter(|replica| replica.is_ok())
            .filter_map(|replica| self.cluster.node(&replica.node_id))
            .filter(|node| node.is_up())
            .collect();
        let Some(&source) = good.first() else {
            tracing::warn!(id = %record.id, "no good copy is reachable; cannot repair yet");
            return Ok(());
        };
        let have = record
            .replicas
            .iter()
            .filter(|replica| replica.is_ok() && available.contains(&replica.node_id))
            .count();
        // Nodes holding any record of this object, or a copy on its way out
        // (which the janitor could remove after a new copy landed), are not
        // targets.
        let mut taken: Vec<String> = record.replicas.iter().map(|r| r.node_id.clone()).collect();
        taken.extend(self.catalog.stray_nodes(&record.blob_key).await?);
        for _ in have..self.replication {
            let excluded: Vec<&str> = taken.iter().map(String::as_str).collect();
            let Ok(targets) = self.cluster.place(Some(record.size as u64), 1, &excluded) else {
                tracing::warn!(id = %record.id, "no node has room for another copy");
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                metrics::repair_failed();
                return Ok(());
            };
            let target = targets[0];
            taken.push(target.id.to_string());
            self.copy(record, source, target).await?;
        }
        Ok(())
    }

    async fn copy(
        &self,
        record: &ContentRecord,
        source: &Node,
        target: &Node,
    ) -> Result<(), sqlx::Error> {
        let target_id = [target.id.to_string()];
        self.catalog
            .expect_blobs(&target_id, &record.blob_key)
            .await?;
        let copied = copy_blob(
            &self.client,
            source,
            target,
            &record.blob_key,
            record.size as u64,
            &record.sha256,
        )
        .await;
        match copied {
            Ok(stored)
                if self
                    .catalog
                    .add_copy(record.id, target.id.as_str(), &record.blob_key)
                    .await? =>
            {
                self.cluster.note_stored(&target.id, &stored);
                self.counters.repaired.fetch_add(1, Ordering::Relaxed);
                metrics::repair_succeeded(stored.size);
                tracing::info!(id = %record.id, from = %source.id, to = %target.id, "copy repaired");
            }
            // Replaced or deleted meanwhile: the new copy is stray.
            Ok(_) => {
                self.catalog
                    .abandon_blobs(&record.blob_key, &target_id)
                    .await?;
            }
            Err(err) => {
                tracing::warn!(id = %record.id, error = %err, "repair copy failed");
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                metrics::repair_failed();
                self.catalog
                    .abandon_blobs(&record.blob_key, &target_id)
                    .await?;
                // The target computed another hash than the catalogue's: the
                // source's bytes are bad.
                if let TransferError::Mismatch { .. } = err {
                    self.catalog
                        .mark_replica(record.id, source.id.as_str(), ReplicaState::Corrupt)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Drops the copies beyond `REPLICATION` on the fullest nodes.
    async fn trim(&self, record: &ContentRecord, up: &[String]) -> Result<(), sqlx::Error> {
        let mut holders: Vec<&Node> = record
            .replicas
            .iter()
            .filter(|replica| replica.is_ok() && up.contains(&replica.node_id))
            .filter_map(|replica| self.cluster.node(&replica.node_id))
            .collect();
        holders.sort_by(|a, b| b.load().total_cmp(&a.load()));
        let surplus = holders.len().saturating_sub(self.replication);
        for node in holders.into_iter().take(surplus) {
            self.catalog
                .retire_copy(record.id, node.id.as_str())
                .await?;
            self.counters
                .surplus_removed
                .fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}
