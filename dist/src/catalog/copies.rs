//! What is known of each copy (`replica`), and what the repair task asks
//! of it and changes.

use std::time::Duration;

use cdn_common::{BlobKey, NodeId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::changes::announce;
use super::{Catalog, ContentRecord, ContentRow, ReplicaState, SELECT_CONTENT};

/// What one comparison of a node's inventory changed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reconciled {
    pub missing: u64,
    pub corrupt: u64,
    pub orphans: u64,
}

/// Which side of `REPLICATION` an object's good copies are on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replication {
    Under,
    Over,
}

impl Catalog {
    /// Records what became of one copy.
    pub async fn mark_replica(
        &self,
        content_id: Uuid,
        node_id: &NodeId,
        state: ReplicaState,
    ) -> Result<(), sqlx::Error> {
        let _forget = self.memory.forget_when_done(content_id);
        sqlx::query(
            "UPDATE replica SET state = $3, updated_at = now()
             WHERE content_id = $1 AND node_id = $2",
        )
        .bind(content_id)
        .bind(node_id)
        .bind(state)
        .execute(&self.pool)
        .await?;
        announce(&self.pool, &[content_id]).await
    }

    /// Records a new good copy of `key` on `node`, if `key` is still the
    /// object's current blob; `false` when it is not (replaced or deleted
    /// meanwhile), and the copy stays stray.
    pub async fn add_copy(
        &self,
        content_id: Uuid,
        node: NodeId,
        key: BlobKey,
    ) -> Result<bool, sqlx::Error> {
        self.to_completion(move |catalog| async move {
            let _forget = catalog.memory.forget_when_done(content_id);
            let mut tx = catalog.pool.begin().await?;
            let added = sqlx::query(
                "INSERT INTO replica (content_id, node_id, state)
                 SELECT id, $2, 'ok' FROM content WHERE id = $1 AND blob_key = $3
                 ON CONFLICT (content_id, node_id) DO UPDATE SET state = 'ok', updated_at = now()",
            )
            .bind(content_id)
            .bind(&node)
            .bind(&key)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0;
            if added {
                sqlx::query("DELETE FROM stray_blob WHERE node_id = $1 AND blob_key = $2")
                    .bind(&node)
                    .bind(&key)
                    .execute(&mut *tx)
                    .await?;
                announce(&mut *tx, &[content_id]).await?;
            }
            tx.commit().await?;
            Ok(added)
        })
        .await
    }

    /// Brings the catalogue in line with what a node reported at `asked_at`:
    /// copies it lacks become `missing`, copies its scrub found bad become
    /// `corrupt`, and blobs nothing knows of become stray, due for removal
    /// after `orphan_grace`.
    pub async fn reconcile_inventory(
        &self,
        node: &NodeId,
        asked_at: DateTime<Utc>,
        present: &[BlobKey],
        corrupt: &[BlobKey],
        orphan_grace: Duration,
    ) -> Result<Reconciled, sqlx::Error> {
        // Copies recorded after the node was asked may be missing from its
        // answer without being missing from its disk.
        let missing: Vec<Uuid> = sqlx::query_scalar(
            "UPDATE replica r SET state = 'missing', updated_at = now()
             FROM content c
             WHERE r.content_id = c.id AND r.node_id = $1 AND r.state = 'ok'
               AND r.updated_at < $2 AND NOT (c.blob_key = ANY($3))
             RETURNING r.content_id",
        )
        .bind(node)
        .bind(asked_at)
        .bind(present)
        .fetch_all(&self.pool)
        .await?;
        self.forget_and_announce(&missing).await?;
        let corrupt: Vec<Uuid> = sqlx::query_scalar(
            "UPDATE replica r SET state = 'corrupt', updated_at = now()
             FROM content c
             WHERE r.content_id = c.id AND r.node_id = $1 AND r.state = 'ok'
               AND c.blob_key = ANY($2)
             RETURNING r.content_id",
        )
        .bind(node)
        .bind(corrupt)
        .fetch_all(&self.pool)
        .await?;
        self.forget_and_announce(&corrupt).await?;
        // Every write records its copies as stray before the first byte, so
        // a blob that is neither a replica nor stray is left from a crash.
        let orphans = sqlx::query(
            "INSERT INTO stray_blob (node_id, blob_key, due_at)
             SELECT $1, key, now() + make_interval(secs => $3)
             FROM unnest($2::text[]) AS key
             WHERE NOT EXISTS (
                     SELECT 1 FROM content c JOIN replica r ON r.content_id = c.id
                     WHERE c.blob_key = key AND r.node_id = $1)
               AND NOT EXISTS (
                     SELECT 1 FROM stray_blob s WHERE s.node_id = $1 AND s.blob_key = key)
             ON CONFLICT DO NOTHING",
        )
        .bind(node)
        .bind(present)
        .bind(orphan_grace.as_secs_f64())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(Reconciled {
            missing: missing.len() as u64,
            corrupt: corrupt.len() as u64,
            orphans,
        })
    }

    /// Drops the records of copies known to be bad on `nodes`, listing them
    /// as stray so their bytes go too. Returns how many.
    pub async fn retire_bad_copies(&self, nodes: &[NodeId]) -> Result<u64, sqlx::Error> {
        let retired: Vec<Uuid> = sqlx::query_scalar(
            "WITH bad AS (
                 DELETE FROM replica r USING content c
                 WHERE r.content_id = c.id AND r.state <> 'ok' AND r.node_id = ANY($1)
                 RETURNING r.content_id, r.node_id, c.blob_key),
             listed AS (
                 INSERT INTO stray_blob (node_id, blob_key, due_at)
                 SELECT node_id, blob_key, now() FROM bad
                 ON CONFLICT (node_id, blob_key) DO UPDATE SET due_at = now())
             SELECT content_id FROM bad",
        )
        .bind(nodes)
        .fetch_all(&self.pool)
        .await?;
        self.forget_and_announce(&retired).await?;
        Ok(retired.len() as u64)
    }

    /// Drops the record of one copy, listing it as stray.
    pub async fn retire_copy(&self, content_id: Uuid, node: &NodeId) -> Result<(), sqlx::Error> {
        let _forget = self.memory.forget_when_done(content_id);
        sqlx::query(
            "WITH gone AS (
                 DELETE FROM replica r USING content c
                 WHERE r.content_id = c.id AND r.content_id = $1 AND r.node_id = $2
                 RETURNING r.node_id, c.blob_key)
             INSERT INTO stray_blob (node_id, blob_key, due_at)
             SELECT node_id, blob_key, now() FROM gone
             ON CONFLICT (node_id, blob_key) DO UPDATE SET due_at = now()",
        )
        .bind(content_id)
        .bind(node)
        .execute(&self.pool)
        .await?;
        announce(&self.pool, &[content_id]).await
    }

    /// Content whose good copies on `available` nodes are fewer than
    /// `copies` (`Under`) or more (`Over`), oldest first. An object made
    /// of parts has no copies of its own; each part is content here.
    pub async fn misreplicated(
        &self,
        side: Replication,
        available: &[NodeId],
        copies: i64,
        limit: i64,
    ) -> Result<Vec<ContentRecord>, sqlx::Error> {
        let rows: Vec<ContentRow> = sqlx::query_as(&format!(
            "{SELECT_CONTENT}
             CROSS JOIN LATERAL (
                 SELECT count(*) AS good FROM replica g
                 WHERE g.content_id = c.id AND g.state = 'ok' AND g.node_id = ANY($1)
             ) g
             WHERE CASE WHEN $3 THEN g.good < $2 ELSE g.good > $2 END
               AND NOT EXISTS (SELECT 1 FROM content_segment s WHERE s.content_id = c.id)
             ORDER BY c.id LIMIT $4"
        ))
        .bind(available)
        .bind(copies)
        .bind(side == Replication::Under)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(ContentRecord::from).collect())
    }

    pub async fn count_under_replicated(
        &self,
        available: &[NodeId],
        copies: i64,
    ) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT count(*) FROM content c
             WHERE (SELECT count(*) FROM replica r
                    WHERE r.content_id = c.id AND r.state = 'ok' AND r.node_id = ANY($1)) < $2
               AND NOT EXISTS (SELECT 1 FROM content_segment s WHERE s.content_id = c.id)",
        )
        .bind(available)
        .bind(copies)
        .fetch_one(&self.pool)
        .await
    }
}
