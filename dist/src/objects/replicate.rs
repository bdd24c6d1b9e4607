//! Making one more copy of a blob from a copy that exists: the one
//! replication path, used by an upload whose node failed mid-write and by
//! the repair task alike.
//!
//! Each copy is listed as stray before its first byte, streamed from the
//! source node through the distributor to a target chosen by the placement
//! rule, and counts only if the target confirms the size and SHA-256 the
//! catalogue expects: a corrupt source never spreads.

use cdn_common::wire::StoredBlob;
use cdn_common::{BlobKey, Fingerprint, NodeId};
use uuid::Uuid;

use super::Objects;
use super::fanout::TransferError;
use crate::catalog::ReplicaState;
use crate::cluster::{Node, NodeClient};
use crate::error::ApiError;
use crate::metrics;

/// Whose copy is being made.
#[derive(Clone, Copy, Debug)]
pub enum Owner {
    /// An upload that has not committed: it records its copies itself.
    Upload,
    /// Stored content: each new copy is recorded at once.
    Content(Uuid),
}

/// The blob to copy and what its bytes must be.
#[derive(Clone, Debug)]
pub struct BlobSpec {
    pub key: BlobKey,
    pub expected: Fingerprint,
    pub owner: Owner,
}

/// What one call made.
pub struct Replicated<'a> {
    /// The new copies, with their nodes' answers.
    pub made: Vec<(&'a Node, StoredBlob)>,
    /// A target computed another SHA-256 than expected: the source's bytes
    /// are bad, so no more copies were made from it.
    pub source_bad: bool,
}

impl Objects {
    /// Makes up to `wanted` new copies of `blob` from `source`, on nodes
    /// not in `exclude` (to which each target is added, tried or not).
    pub async fn replicate<'a>(
        &'a self,
        blob: &BlobSpec,
        source: &Node,
        exclude: &mut Vec<NodeId>,
        wanted: usize,
    ) -> Result<Replicated<'a>, ApiError> {
        let mut done = Replicated {
            made: Vec::new(),
            source_bad: false,
        };
        while done.made.len() < wanted {
            let Ok(targets) = self.cluster.place(Some(blob.expected.size), 1, exclude) else {
                tracing::warn!(key = %blob.key, "no node has room for another copy");
                self.count_failure(blob.owner);
                break;
            };
            let target = targets[0];
            exclude.push(target.id.clone());
            let target_id = [target.id.clone()];
            self.catalog.expect_blobs(&target_id, &blob.key).await?;
            match copy_blob(&self.nodes, source, target, &blob.key, blob.expected).await {
                Ok(stored) => {
                    if !self.record_copy(blob, source, target, &stored).await? {
                        // Replaced or deleted meanwhile: the copy is stray.
                        self.abandon(&blob.key, &target_id).await;
                        break;
                    }
                    done.made.push((target, stored));
                }
                Err(err) => {
                    tracing::warn!(key = %blob.key, error = %err, "copy failed");
                    self.count_failure(blob.owner);
                    self.abandon(&blob.key, &target_id).await;
                    if let TransferError::Mismatch { .. } = err {
                        done.source_bad = true;
                        if let Owner::Content(id) = blob.owner {
                            self.catalog
                                .mark_replica(id, &source.id, ReplicaState::Corrupt)
                                .await?;
                        }
                        break;
                    }
                }
            }
        }
        Ok(done)
    }

    /// Records a confirmed copy as its owner requires; `false` when the
    /// content no longer uses this blob.
    async fn record_copy(
        &self,
        blob: &BlobSpec,
        source: &Node,
        target: &Node,
        stored: &StoredBlob,
    ) -> Result<bool, ApiError> {
        let Owner::Content(id) = blob.owner else {
            return Ok(true);
        };
        let added = self
            .catalog
            .add_copy(id, target.id.clone(), blob.key.clone())
            .await?;
        if !added {
            return Ok(false);
        }
        self.cluster.note_stored(&target.id, stored);
        self.health.count_repaired();
        metrics::repair_succeeded(stored.size);
        tracing::info!(%id, from = %source.id, to = %target.id, "copy made");
        Ok(true)
    }

    fn count_failure(&self, owner: Owner) {
        if let Owner::Content(_) = owner {
            self.health.count_failed();
            metrics::repair_failed();
        }
    }
}

/// Copies blob `key` from `source` to `target`, streaming through the
/// distributor. The copy counts only if the target confirms exactly the
/// `expected` size and SHA-256.
async fn copy_blob(
    client: &NodeClient,
    source: &Node,
    target: &Node,
    key: &BlobKey,
    expected: Fingerprint,
) -> Result<StoredBlob, TransferError> {
    let node_error = |node: &Node, error| TransferError::Node {
        node: node.id.clone(),
        error,
    };
    let range = (expected.size > 0).then(|| (0, expected.size - 1));
    let response = client
        .get_blob(&source.url, key, range)
        .await
        .map_err(|error| node_error(source, error))?;
    let body = reqwest::Body::wrap_stream(response.bytes_stream());
    let stored = client
        .put_blob(&target.url, key, body, Some(expected.size))
        .await
        .map_err(|error| node_error(target, error))?;
    if stored.size != expected.size || stored.sha256 != expected.sha256 {
        return Err(TransferError::Mismatch {
            node: source.id.clone(),
            stored: Fingerprint {
                size: stored.size,
                sha256: stored.sha256,
            },
            sent: expected.to_string(),
        });
    }
    Ok(stored)
}
