//! Blobs on nodes that no metadata points at (`stray_blob`): the copies an
//! upload is writing, until it commits, and the old copies of replaced or
//! deleted content. The janitor removes those that are due.

use cdn_common::{BlobKey, NodeId};
use sqlx::FromRow;

use super::Catalog;

/// A copy on a node that no metadata points at any more.
#[derive(Clone, Debug, FromRow)]
pub struct StrayBlob {
    pub node_id: NodeId,
    pub blob_key: BlobKey,
}

impl Catalog {
    /// Records that `key` is about to be written to `nodes`, so the copies
    /// are found and removed if the write never commits (a crash, say).
    pub async fn expect_blobs(&self, nodes: &[NodeId], key: &BlobKey) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO stray_blob (node_id, blob_key, due_at)
             SELECT node, $2, now() + interval '1 day' FROM unnest($1::text[]) AS node
             ON CONFLICT DO NOTHING",
        )
        .bind(nodes)
        .bind(key)
        .execute(&self.pool)
        .await
        .map(drop)
    }

    /// Gives up on the copies of `key` on `nodes` that no replica record
    /// points at: they are due for removal now. Returns those. A copy that
    /// a commit did record (one whose answer was lost, say) is left alone.
    pub async fn abandon_blobs(
        &self,
        key: &BlobKey,
        nodes: &[NodeId],
    ) -> Result<Vec<StrayBlob>, sqlx::Error> {
        sqlx::query_as(
            "INSERT INTO stray_blob (node_id, blob_key, due_at)
             SELECT node, $1, now() FROM unnest($2::text[]) AS node
             WHERE NOT EXISTS (
                 SELECT 1 FROM content c JOIN replica r ON r.content_id = c.id
                 WHERE c.blob_key = $1 AND r.node_id = node)
             ON CONFLICT (node_id, blob_key) DO UPDATE SET due_at = now()
             RETURNING node_id, blob_key",
        )
        .bind(key)
        .bind(nodes)
        .fetch_all(&self.pool)
        .await
    }

    /// Nodes holding a copy of `key` that is on its way out.
    pub async fn stray_nodes(&self, key: &BlobKey) -> Result<Vec<NodeId>, sqlx::Error> {
        sqlx::query_scalar("SELECT node_id FROM stray_blob WHERE blob_key = $1")
            .bind(key)
            .fetch_all(&self.pool)
            .await
    }

    /// Stray blobs whose time has come, oldest first, except those on the
    /// `unreachable` nodes.
    pub async fn due_strays(
        &self,
        unreachable: &[NodeId],
        limit: i64,
    ) -> Result<Vec<StrayBlob>, sqlx::Error> {
        sqlx::query_as(
            "SELECT node_id, blob_key FROM stray_blob
             WHERE due_at <= now() AND NOT (node_id = ANY($1))
             ORDER BY due_at LIMIT $2",
        )
        .bind(unreachable)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
    }

    /// The blob is gone from its node.
    pub async fn forget_stray(&self, stray: &StrayBlob) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM stray_blob WHERE node_id = $1 AND blob_key = $2")
            .bind(&stray.node_id)
            .bind(&stray.blob_key)
            .execute(&self.pool)
            .await
            .map(drop)
    }

    /// At start-up no upload is under way, so every copy an earlier run was
    /// still writing is debris, due for removal now.
    pub async fn abandon_unfinished_uploads(&self) -> Result<u64, sqlx::Error> {
        sqlx::query("UPDATE stray_blob SET due_at = now() WHERE due_at > now()")
            .execute(&self.pool)
            .await
            .map(|done| done.rows_affected())
    }
}
