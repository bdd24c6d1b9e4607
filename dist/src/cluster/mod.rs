//! The storage nodes as the distributor sees them: their health and last
//! stats (kept fresh by polling), where new copies go, and how to call
//! them.
//!
//! - `placement`: the placement rule, a pure function.
//! - `node_client`: the nodes' internal API as typed calls, each with the
//!   node secret.
//! - `signed_url`: node URLs that let a client read one blob for a minute.

mod node_client;
mod placement;
mod signed_url;

use std::sync::RwLock;
use std::time::{Duration, Instant};

use cdn_common::NodeId;
use cdn_common::wire::{ConsideredNode, NodeInfo, NodeStats, NodeStatus, StoredBlob};
use chrono::{DateTime, Utc};
use reqwest::Url;

use crate::config::NodeAddress;
use placement::Candidate;

pub use node_client::{NodeCallError, NodeClient};
pub use placement::PlacementError;

pub struct Cluster {
    nodes: Vec<Node>,
    /// How long a node may miss its polls before it counts as down.
    down_after: Duration,
}

pub struct Node {
    pub id: NodeId,
    /// Where the distributor reaches the node.
    pub url: Url,
    health: RwLock<Health>,
}

/// What the last poll found.
#[derive(Clone, Debug)]
struct Health {
    status: NodeStatus,
    last_seen: Option<DateTime<Utc>>,
    last_error: Option<String>,
    stats: Option<NodeStats>,
    /// When a write was last counted by [`Cluster::note_stored`].
    last_write: Option<Instant>,
    /// When the node last answered a poll.
    last_answer: Option<Instant>,
    /// Since when the node has been down.
    down_since: Option<Instant>,
}

impl Node {
    fn health(&self) -> Health {
        self.health
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn update(&self, change: impl FnOnce(&mut Health)) {
        change(
            &mut self
                .health
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
    }

    pub fn is_up(&self) -> bool {
        self.health().status == NodeStatus::Up
    }

    /// How clients outside reach the node: what it reports, or else the URL
    /// the distributor uses.
    pub fn public_url(&self) -> String {
        self.health()
            .stats
            .map(|stats| stats.public_url)
            .unwrap_or_else(|| self.url.as_str().trim_end_matches('/').to_owned())
    }

    /// Storage use in percent, for ordering reads; unknown counts as full.
    pub fn load(&self) -> f64 {
        self.health().stats.map_or(100.0, |stats| stats.storagep)
    }

    pub fn info(&self) -> NodeInfo {
        let health = self.health();
        NodeInfo {
            id: self.id.clone(),
            url: self.url.to_string(),
            public_url: health.stats.as_ref().map(|stats| stats.public_url.clone()),
            status: health.status,
            last_seen: health.last_seen,
            last_error: health.last_error,
            stats: health.stats,
        }
    }

    pub fn stats(&self) -> Option<NodeStats> {
        self.health().stats
    }

    pub fn status(&self) -> NodeStatus {
        self.health().status
    }

    /// How long the node has been down; `None` while it is up.
    pub fn down_for(&self) -> Option<Duration> {
        self.health().down_since.map(|since| since.elapsed())
    }
}

impl Cluster {
    /// Every node starts `down` until its first answer.
    pub fn new(addresses: &[NodeAddress], down_after: Duration) -> Self {
        let nodes = addresses
            .iter()
            .map(|address| Node {
                id: address.id.clone(),
                url: address.url.clone(),
                health: RwLock::new(Health {
                    status: NodeStatus::Down,
                    last_seen: None,
                    last_error: Some("not polled yet".into()),
                    stats: None,
                    last_write: None,
                    last_answer: None,
                    down_since: Some(Instant::now()),
                }),
            })
            .collect();
        Cluster { nodes, down_after }
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn node(&self, id: &NodeId) -> Option<&Node> {
        self.nodes.iter().find(|node| &node.id == id)
    }

    /// The ids of the nodes that `keep` selects.
    pub fn ids_where(&self, keep: impl Fn(&Node) -> bool) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter(|node| keep(node))
            .map(|node| node.id.clone())
            .collect()
    }

    pub fn any_up(&self) -> bool {
        self.nodes.iter().any(Node::is_up)
    }

    /// The nodes for a new object's copies, by the placement rule, leaving
    /// out the nodes in `exclude`.
    pub fn place(
        &self,
        size: Option<u64>,
        copies: usize,
        exclude: &[NodeId],
    ) -> Result<Vec<&Node>, PlacementError> {
        let healths: Vec<(&Node, Health)> = self
            .nodes
            .iter()
            .filter(|node| !exclude.contains(&node.id))
            .map(|node| (node, node.health()))
            .collect();
        let up = healths
            .iter()
            .filter(|(_, health)| health.status == NodeStatus::Up)
            .filter_map(|(node, health)| {
                let stats = health.stats.as_ref()?;
                Some(Candidate {
                    id: &node.id,
                    stats,
                })
            })
            .collect();
        let chosen = placement::choose(up, size, copies)?;
        Ok(chosen.into_iter().filter_map(|id| self.node(id)).collect())
    }

    /// How the placement rule sees every node now, and its verdict on
    /// each for an object of `size` placed on `chosen`: why a write went
    /// where it did.
    pub fn explain_placement(&self, size: Option<u64>, chosen: &[NodeId]) -> Vec<ConsideredNode> {
        let healths: Vec<Health> = self.nodes.iter().map(Node::health).collect();
        let seen: Vec<placement::Seen> = self
            .nodes
            .iter()
            .zip(&healths)
            .map(|(node, health)| placement::Seen {
                id: &node.id,
                up: health.status == NodeStatus::Up,
                stats: health.stats.as_ref(),
            })
            .collect();
        placement::explain(&seen, size, chosen)
    }

    /// Takes the node's figures from its answer to a write, so uploads
    /// between two polls spread as the placement rule intends.
    pub fn note_stored(&self, id: &NodeId, blob: &StoredBlob) {
        if let Some(node) = self.node(id) {
            node.update(|health| {
                health.last_write = Some(Instant::now());
                if let Some(stats) = health.stats.as_mut() {
                    // Answers to concurrent writes may arrive out of order.
                    stats.storage = stats.storage.max(blob.node_storage);
                    stats.objects = stats.objects.max(blob.node_objects);
                    stats.storagep = percent(stats.storage, stats.max_storage);
                }
            });
        }
    }

    /// Asks every node for its stats at once and records who answered.
    pub async fn poll(&self, client: &NodeClient, timeout: Duration) {
        let down_after = self.down_after;
        let polls = self.nodes.iter().map(|node| async move {
            let asked = Instant::now();
            let answer = client.stats(&node.url, timeout).await;
            node.update(|health| match answer {
                Ok(mut stats) => {
                    // An answer sent before a write we counted must not undo it.
                    if let (Some(written), Some(known)) = (health.last_write, &health.stats)
                        && written > asked
                    {
                        stats.storage = stats.storage.max(known.storage);
                        stats.objects = stats.objects.max(known.objects);
                        stats.storagep = percent(stats.storage, stats.max_storage);
                    }
                    if health.status == NodeStatus::Down {
                        tracing::info!(node = %node.id, "node is up");
                    }
                    health.status = NodeStatus::Up;
                    health.last_seen = Some(Utc::now());
                    health.last_answer = Some(Instant::now());
                    health.down_since = None;
                    health.last_error = None;
                    health.stats = Some(stats);
                }
                Err(err) => {
                    health.last_error = Some(err.to_string());
                    // One missed answer is a hiccup; silence for `down_after` is down.
                    let silent_too_long = health
                        .last_answer
                        .is_none_or(|answered| answered.elapsed() >= down_after);
                    if health.status == NodeStatus::Up && silent_too_long {
                        tracing::warn!(node = %node.id, error = %err, "node is down");
                        health.status = NodeStatus::Down;
                        health.down_since = Some(Instant::now());
                    }
                }
            });
        });
        futures::future::join_all(polls).await;
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        100.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}
