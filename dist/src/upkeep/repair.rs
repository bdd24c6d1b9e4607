//! Keeps `REPLICATION` good copies of every object.
//!
//! Each round, the repair task:
//! 1. compares every up node's inventory with the catalogue: copies the node
//!    lacks become `missing`, copies its scrub found bad become `corrupt`,
//!    and blobs nothing points at become stray (the janitor removes them);
//! 2. drops the records of bad copies on up nodes, so their bytes go too;
//! 3. copies each under-replicated object from a good copy to another node
//!    (the object layer's one replication path, which checks the SHA-256
//!    the target computes);
//! 4. removes surplus copies, left when a node that was repaired around
//!    comes back.
//!
//! A node counts as available while it is up, and for `REPAIR_GRACE` after it
//! goes down: a restart is not worth copying everything for. A round
//! handles a bounded batch, a few copies at a time, so repair never starves
//! user traffic.

use std::time::Duration;

use cdn_common::NodeId;

use crate::catalog::{ContentRecord, Replication};
use crate::cluster::Node;
use crate::error::ApiError;
use crate::objects::{BlobSpec, Objects, Owner};

/// Objects handled per round.
const BATCH: i64 = 200;

/// Copies made at once: enough to hide each copy's round trips and syncs,
/// few enough to leave the nodes' bandwidth to user traffic.
const COPIES_AT_ONCE: usize = 4;

/// Everything one repair round needs.
#[derive(Clone)]
pub struct Repairer {
    pub objects: Objects,
    /// How long a node may be down before its copies are made elsewhere.
    pub grace: Duration,
    /// How long a blob nothing points at is kept before it is removed.
    pub orphan_grace: Duration,
}

impl Repairer {
    pub async fn round(&self) -> Result<(), ApiError> {
        let cluster = self.objects.cluster();
        let catalog = self.objects.catalog();
        for node in cluster.nodes().iter().filter(|node| node.is_up()) {
            self.reconcile(node).await?;
        }
        let up = cluster.ids_where(Node::is_up);
        let retired = catalog.retire_bad_copies(&up).await?;
        if retired > 0 {
            tracing::info!(copies = retired, "dropped bad copies; repairing them");
        }

        let available =
            cluster.ids_where(|node| node.down_for().is_none_or(|down| down < self.grace));
        let copies = self.objects.replication() as i64;
        let under = catalog
            .misreplicated(Replication::Under, &available, copies, BATCH)
            .await?;
        for batch in under.chunks(COPIES_AT_ONCE) {
            let restores = batch.iter().map(|record| self.restore(record, &available));
            for restored in futures::future::join_all(restores).await {
                restored?;
            }
        }
        let under_replicated = catalog.count_under_replicated(&available, copies).await?;
        self.objects
            .health()
            .set_under_replicated(under_replicated.max(0) as u64);
        for record in catalog
            .misreplicated(Replication::Over, &up, copies, BATCH)
            .await?
        {
            self.trim(&record, &up).await?;
        }
        Ok(())
    }

    /// Compares one node's inventory with the catalogue.
    async fn reconcile(&self, node: &Node) -> Result<(), ApiError> {
        let catalog = self.objects.catalog();
        let asked_at = catalog.now().await?;
        let inventory = match self.objects.node_client().inventory(&node.url).await {
            Ok(inventory) => inventory,
            Err(err) => {
                tracing::debug!(node = %node.id, error = %err, "no inventory this round");
                return Ok(());
            }
        };
        let present: Vec<_> = inventory
            .blobs
            .iter()
            .map(|blob| blob.key.clone())
            .collect();
        let corrupt: Vec<_> = inventory
            .blobs
            .iter()
            .filter(|blob| blob.corrupt)
            .map(|blob| blob.key.clone())
            .collect();
        let found = catalog
            .reconcile_inventory(&node.id, asked_at, &present, &corrupt, self.orphan_grace)
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
        let health = self.objects.health();
        health.count_lost_copies(found.missing + found.corrupt);
        health.count_orphans(found.orphans);
        Ok(())
    }

    /// Makes good copies of one object until it has enough.
    async fn restore(&self, record: &ContentRecord, available: &[NodeId]) -> Result<(), ApiError> {
        let cluster = self.objects.cluster();
        let Some(source) = record
            .replicas
            .iter()
            .filter(|replica| replica.is_ok())
            .filter_map(|replica| cluster.node(&replica.node_id))
            .find(|node| node.is_up())
        else {
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
        let mut taken: Vec<NodeId> = record.replicas.iter().map(|r| r.node_id.clone()).collect();
        taken.extend(self.objects.catalog().stray_nodes(&record.blob_key).await?);
        let blob = BlobSpec {
            key: record.blob_key.clone(),
            expected: cdn_common::Fingerprint {
                size: record.size,
                sha256: record.sha256,
            },
            owner: Owner::Content(record.id),
        };
        let wanted = self.objects.replication().saturating_sub(have);
        self.objects
            .replicate(&blob, source, &mut taken, wanted)
            .await?;
        Ok(())
    }

    /// Drops the copies beyond `REPLICATION` on the fullest nodes.
    async fn trim(&self, record: &ContentRecord, up: &[NodeId]) -> Result<(), ApiError> {
        let cluster = self.objects.cluster();
        let mut holders: Vec<&Node> = record
            .replicas
            .iter()
            .filter(|replica| replica.is_ok() && up.contains(&replica.node_id))
            .filter_map(|replica| cluster.node(&replica.node_id))
            .collect();
        holders.sort_by(|a, b| b.load().total_cmp(&a.load()));
        let surplus = holders.len().saturating_sub(self.objects.replication());
        for node in holders.into_iter().take(surplus) {
            self.objects
                .catalog()
                .retire_copy(record.id, &node.id)
                .await?;
            self.objects.health().count_surplus_removed();
        }
        Ok(())
    }
}
