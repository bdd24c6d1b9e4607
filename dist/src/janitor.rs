//! Removes stray blobs from nodes: old copies of replaced or deleted
//! content, and copies of uploads that never committed.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::catalog::{Catalog, StrayBlob};
use crate::cluster::Cluster;
use crate::every::Every;
use crate::node_client::NodeClient;

/// Stray blobs handled per round, so a backlog never floods the nodes.
const BATCH: i64 = 100;

/// Removes `strays` from their nodes now and forgets those removed; the rest
/// stay listed for a later round.
pub async fn remove_strays(
    catalog: &Catalog,
    cluster: &Cluster,
    client: &NodeClient,
    strays: Vec<StrayBlob>,
) {
    let removals = strays.into_iter().map(|stray| async move {
        let Some(node) = cluster.node(&stray.node_id) else {
            // The node left the configuration: nothing can reach the blob.
            return (stray, true);
        };
        match client.delete_blob(&node.url, &stray.blob_key).await {
            Ok(()) => (stray, true),
            Err(err) => {
                tracing::debug!(node = %stray.node_id, key = %stray.blob_key, error = %err, "stray blob kept for later");
                (stray, false)
            }
        }
    });
    for (stray, removed) in futures::future::join_all(removals).await {
        if removed && let Err(err) = catalog.forget_stray(&stray).await {
            tracing::warn!(error = %err, "cannot record a stray blob's removal");
        }
    }
}

/// Every `interval`, removes the stray blobs that are due, until `stop`.
pub async fn run(
    catalog: Catalog,
    cluster: std::sync::Arc<Cluster>,
    client: NodeClient,
    interval: Duration,
    stop: CancellationToken,
) {
    let mut every = Every::new(interval, stop);
    while every.tick().await {
        // Only nodes that are up can delete; the rest wait their turn.
        let down: Vec<String> = cluster
            .nodes()
            .iter()
            .filter(|node| !node.is_up())
            .map(|node| node.id.to_string())
            .collect();
        match catalog.due_strays(&down, BATCH).await {
            Ok(strays) => remove_strays(&catalog, &cluster, &client, strays).await,
            Err(err) => tracing::warn!(error = %err, "cannot list stray blobs"),
        }
    }
}
