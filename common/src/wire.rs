//! JSON bodies exchanged between the client, the distributor and the nodes.
//!
//! Field names are part of the public contract (see the README): rename
//! nothing here without changing it there.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::digest::Sha256;
use crate::ids::{BlobKey, NodeId};

mod access;

pub use access::{
    AccessKeyInfo, AccessKeyList, BucketInfo, BucketPatch, CreatedAccessKey, CreatedToken,
    NewAccessKey, NewToken, Scope, ShareRequest, SharedLink, TokenInfo, TokenList, Visibility,
};

/// Pages of `GET /content`: how many items when the caller does not say,
/// and the most one page holds.
pub const DEFAULT_PAGE: u32 = 100;
pub const MAX_PAGE: u32 = 1000;

/// One stored object, as the distributor describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Content {
    pub id: Uuid,
    pub filename: String,
    pub size: u64,
    pub content_type: String,
    /// SHA-256 of the bytes; the strong `ETag` is made from it.
    pub sha256: Sha256,
    /// Starts at 1 and grows by one with every replacement of the bytes.
    pub version: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Absolute URL of the bytes, `…/content/{id}/data`.
    pub uri: String,
    pub replicas: Vec<Replica>,
    /// Always `"OK"` for content that can be listed.
    pub status: String,
    /// Who may read it; absent from older servers, whose content is public.
    #[serde(default)]
    pub visibility: Visibility,
}

/// Where one copy of an object lives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Replica {
    pub node: NodeId,
    /// The distributor's URL of this copy, `…/data?redirect=1&node={node}`:
    /// it redirects to the node with a short-lived signed URL (nodes are
    /// sealed, so a bare node URL would not open).
    pub uri: String,
    pub status: ReplicaStatus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplicaStatus {
    /// The node confirmed a whole, synced copy.
    Ok,
    /// The node no longer has the copy.
    Missing,
    /// The node has bytes that do not match the checksum.
    Corrupt,
}

impl ReplicaStatus {
    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicaStatus::Ok => "ok",
            ReplicaStatus::Missing => "missing",
            ReplicaStatus::Corrupt => "corrupt",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContentList {
    pub items: Vec<Content>,
    /// Pass as `?cursor=` (with the same filters and order) to get the next
    /// page; `null` on the last.
    pub next_cursor: Option<String>,
    /// How many objects match, on all pages.
    #[serde(default)]
    pub total: u64,
}

/// Body of `PATCH /content/{id}`: only the fields given change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
}

/// What a storage node reports about itself on `GET /stats`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeStats {
    pub node_id: NodeId,
    /// Bytes of memory in use (the container's, where there is one).
    pub memory: u64,
    pub memory_total: u64,
    /// Bytes of blobs stored.
    pub storage: u64,
    /// `storage` as a percentage of `max_storage`.
    pub storagep: f64,
    pub max_storage: u64,
    pub objects: u64,
    pub public_url: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeStatus {
    Up,
    Down,
}

/// A storage node as the distributor sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub id: NodeId,
    pub url: String,
    pub public_url: Option<String>,
    pub status: NodeStatus,
    pub last_seen: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub stats: Option<NodeStats>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeList {
    pub nodes: Vec<NodeInfo>,
}

/// Body of the distributor's `GET /stats`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterStats {
    pub nodes: Vec<NodeStatsEntry>,
    pub totals: Totals,
    #[serde(default)]
    pub repair: RepairStats,
    /// The distributor's hot-object cache; absent from older distributors.
    #[serde(default)]
    pub cache: CacheStats,
}

/// What the distributor's hot-object cache holds and has served since it
/// started.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheStats {
    /// `hits / (hits + misses)`, 0 before the first read.
    pub hit_ratio: f64,
    /// Reads of cacheable objects that needed no node read of their own.
    pub hits: u64,
    /// Reads of cacheable objects that read from a node.
    pub misses: u64,
    /// Bytes held, with a small allowance per object.
    pub resident_bytes: u64,
    /// `CACHE_SIZE`; 0 when the cache is off.
    pub capacity_bytes: u64,
    /// Objects held.
    pub objects: u64,
}

/// What the distributor's repair task has found and done since it started.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RepairStats {
    /// Objects with fewer good copies than `REPLICATION` at the last round.
    pub under_replicated: u64,
    /// Copies made again from a good copy.
    pub repaired: u64,
    /// Copies that could not be made (retried next round).
    pub failed: u64,
    /// Copies found missing from their node or corrupt on it.
    pub lost_copies: u64,
    /// Blobs found on nodes that nothing pointed at (removed).
    pub orphans: u64,
    /// Surplus copies removed (left when a node came back after repair).
    pub surplus_removed: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeStatsEntry {
    pub id: NodeId,
    pub status: NodeStatus,
    /// The node's last report, absent until it has answered once.
    #[serde(flatten)]
    pub stats: Option<NodeStats>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Bytes stored on the nodes that have reported, copies included.
    pub storage: u64,
    pub max_storage: u64,
    /// Objects in the catalogue (each counted once, whatever its copies).
    pub objects: u64,
}

/// Answer of the distributor's `GET /placements`: the latest writes, newest
/// first, with where their copies went and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlacementLog {
    pub placements: Vec<PlacementEntry>,
}

/// One write's placement: the nodes that took its copies, and every node
/// the rule looked at, with the figures it compared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlacementEntry {
    pub content_id: Uuid,
    pub filename: String,
    pub version: u32,
    pub size: u64,
    pub at: DateTime<Utc>,
    /// Copies asked for (`REPLICATION`).
    pub copies: usize,
    /// The nodes that hold the copies now.
    pub chosen: Vec<NodeId>,
    pub candidates: Vec<ConsideredNode>,
}

/// A node as the placement rule saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsideredNode {
    pub node: NodeId,
    pub status: NodeStatus,
    /// The figures compared, as last reported; absent for a node never
    /// heard from.
    pub storagep: Option<f64>,
    pub memory: Option<u64>,
    /// Bytes of room left.
    pub free: Option<u64>,
    pub outcome: PlacementOutcome,
    /// Its place in the rule's order among the nodes with room (1 is
    /// first choice).
    pub rank: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlacementOutcome {
    Chosen,
    /// Not up: gets no new writes.
    Down,
    /// Up, but without room for the object.
    NoRoom,
    /// Up with room, but others came first.
    NotNeeded,
}

/// Every error body: `{"error": {"code": "not_found", "message": "…"}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
            },
        }
    }

    /// Reads an error answer: the detail when `body` is an `ErrorBody`,
    /// `None` when it is anything else.
    pub fn decode(body: &[u8]) -> Option<ErrorDetail> {
        serde_json::from_slice::<ErrorBody>(body)
            .ok()
            .map(|body| body.error)
    }
}

/// A node's answer to `PUT /blobs/{key}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredBlob {
    pub key: BlobKey,
    pub size: u64,
    pub sha256: Sha256,
    /// The node's `storage` and `objects` just after this write, so the
    /// distributor's view is current before its next poll.
    #[serde(default)]
    pub node_storage: u64,
    #[serde(default)]
    pub node_objects: u64,
}

/// A node's answer to `GET /blobs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    pub blobs: Vec<InventoryEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InventoryEntry {
    pub key: BlobKey,
    pub size: u64,
    /// The last scrub found bytes that no longer match the blob's SHA-256.
    #[serde(default)]
    pub corrupt: bool,
}

/// A node's answer to `POST /scrub`: every blob was read and its SHA-256
/// compared with the one recorded when it was written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScrubReport {
    pub checked: u64,
    /// Keys of the blobs whose bytes no longer match.
    pub corrupt: Vec<BlobKey>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_stats_flatten_into_the_cluster_view() {
        let entry = NodeStatsEntry {
            id: NodeId::parse("node1").unwrap(),
            status: NodeStatus::Up,
            stats: Some(NodeStats {
                node_id: NodeId::parse("node1").unwrap(),
                memory: 1,
                memory_total: 2,
                storage: 3,
                storagep: 4.5,
                max_storage: 6,
                objects: 7,
                public_url: "http://localhost:8001".into(),
            }),
        };
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json["status"], "up");
        assert_eq!(json["storagep"], 4.5);
        let back: NodeStatsEntry = serde_json::from_value(json).unwrap();
        assert_eq!(back, entry);
    }

    #[test]
    fn a_down_node_without_stats_has_only_id_and_status() {
        let entry = NodeStatsEntry {
            id: NodeId::parse("node2").unwrap(),
            status: NodeStatus::Down,
            stats: None,
        };
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json, serde_json::json!({"id": "node2", "status": "down"}));
    }
}
