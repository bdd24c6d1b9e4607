//! The content catalogue in PostgreSQL: objects, where their copies live,
//! and the stray blobs still to be removed from nodes. Only this module
//! speaks SQL.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool, Postgres, Transaction};
use uuid::Uuid;

/// Migrations from `migrations/`, built into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

#[derive(Clone)]
pub struct Catalog {
    pool: PgPool,
    /// Objects read lately, so that a read of popular content does not ask
    /// PostgreSQL each time.
    recent: Arc<RecentContent>,
}

#[derive(Clone, Debug)]
pub struct ContentRecord {
    pub id: Uuid,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub version: i32,
    pub blob_key: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub replicas: Vec<ReplicaRecord>,
}

#[derive(Clone, Debug)]
pub struct ReplicaRecord {
    pub node_id: String,
    state: String,
}

/// A `content` row with its copies as two arrays in node order, so that
/// one query reads an object whole.
#[derive(FromRow)]
struct ContentRow {
    id: Uuid,
    filename: String,
    content_type: String,
    size: i64,
    sha256: String,
    version: i32,
    blob_key: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    replica_nodes: Vec<String>,
    replica_states: Vec<String>,
}

impl From<ContentRow> for ContentRecord {
    fn from(row: ContentRow) -> Self {
        let replicas = row
            .replica_nodes
            .into_iter()
            .zip(row.replica_states)
            .map(|(node_id, state)| ReplicaRecord { node_id, state })
            .collect();
        ContentRecord {
            id: row.id,
            filename: row.filename,
            content_type: row.content_type,
            size: row.size,
            sha256: row.sha256,
            version: row.version,
            blob_key: row.blob_key,
            created_at: row.created_at,
            updated_at: row.updated_at,
            replicas,
        }
    }
}

/// What is known of one copy: the replica states of the wire format.
pub use cdn_common::wire::ReplicaStatus as ReplicaState;

impl ReplicaRecord {
    pub fn state(&self) -> ReplicaState {
        // The table's CHECK admits only the three names.
        ReplicaState::parse(&self.state).unwrap_or(ReplicaState::Missing)
    }

    pub fn is_ok(&self) -> bool {
        self.state() == ReplicaState::Ok
    }
}

/// The bytes of a new object or version, as written to the nodes.
#[derive(Clone, Debug)]
pub struct NewBytes {
    pub blob_key: String,
    pub size: u64,
    pub sha256: String,
    pub nodes: Vec<String>,
}

/// What one comparison of a node's inventory changed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reconciled {
    pub missing: u64,
    pub corrupt: u64,
    pub orphans: u64,
}

/// A copy on a node that no metadata points at any more.
#[derive(Clone, Debug, FromRow)]
pub struct StrayBlob {
    pub node_id: String,
    pub blob_key: String,
}

/// Reads `ContentRow`s from `content c`; a query adds its own conditions.
const SELECT_CONTENT: &str = "
    SELECT c.id, c.filename, c.content_type, c.size, c.sha256, c.version, c.blob_key,
           c.created_at, c.updated_at,
           coalesce(r.nodes, '{}') AS replica_nodes, coalesce(r.states, '{}') AS replica_states
    FROM content c
    LEFT JOIN LATERAL (
        SELECT array_agg(node_id ORDER BY node_id) AS nodes,
               array_agg(state ORDER BY node_id) AS states
        FROM replica WHERE content_id = c.id
    ) r ON true";

impl Catalog {
    pub fn new(pool: PgPool) -> Self {
        Catalog {
            pool,
            recent: Arc::default(),
        }
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(drop)
    }

    pub async fn get(&self, id: Uuid) -> Result<Option<ContentRecord>, sqlx::Error> {
        if let Some(record) = self.recent.get(id) {
            return Ok(Some(record));
        }
        let generation = self.recent.generation();
        let record = self.fetch(id).await?;
        if let Some(record) = &record {
            self.recent.put(generation, record.clone());
        }
        Ok(record)
    }

    /// The object as PostgreSQL has it now.
    async fn fetch(&self, id: Uuid) -> Result<Option<ContentRecord>, sqlx::Error> {
        let row: Option<ContentRow> = sqlx::query_as(&format!("{SELECT_CONTENT} WHERE c.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(ContentRecord::from))
    }

    /// Newest first (ids are time-ordered UUIDv7), starting after `before`.
    pub async fn list(
        &self,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<ContentRecord>, sqlx::Error> {
        let rows: Vec<ContentRow> = sqlx::query_as(&format!(
            "{SELECT_CONTENT}
             WHERE $1::uuid IS NULL OR c.id < $1
             ORDER BY c.id DESC LIMIT $2"
        ))
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(ContentRecord::from).collect())
    }

    pub async fn count(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT count(*) FROM content")
            .fetch_one(&self.pool)
            .await
    }

    /// Records that `key` is about to be written to `nodes`, so the copies
    /// are found and removed if the upload never commits (a crash, say).
    pub async fn expect_blobs(&self, nodes: &[String], key: &str) -> Result<(), sqlx::Error> {
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
        key: &str,
        nodes: &[String],
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

    /// Adds a new object whose bytes are already on its nodes.
    pub async fn insert(
        &self,
        id: Uuid,
        filename: &str,
        content_type: &str,
        bytes: &NewBytes,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO content (id, filename, content_type, size, sha256, blob_key)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(filename)
        .bind(content_type)
        .bind(bytes.size as i64)
        .bind(&bytes.sha256)
        .bind(&bytes.blob_key)
        .execute(&mut *tx)
        .await?;
        adopt_copies(&mut tx, id, bytes).await?;
        tx.commit().await
    }

    /// Points the object at new bytes, already on their nodes, in one
    /// transaction: readers see the old version or the new one. Returns the
    /// old copies, now stray; `None` when the object is gone.
    pub async fn replace(
        &self,
        id: Uuid,
        filename: Option<&str>,
        content_type: Option<&str>,
        bytes: &NewBytes,
    ) -> Result<Option<Vec<StrayBlob>>, sqlx::Error> {
        let _forget = self.recent.forget_when_done(Some(id));
        let mut tx = self.pool.begin().await?;
        let old_key: Option<String> =
            sqlx::query_scalar("SELECT blob_key FROM content WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(old_key) = old_key else {
            return Ok(None);
        };
        let strays = retire_copies(&mut tx, id, &old_key).await?;
        sqlx::query(
            "UPDATE content SET
                 filename = coalesce($2, filename),
                 content_type = coalesce($3, content_type),
                 size = $4, sha256 = $5, blob_key = $6,
                 version = version + 1, updated_at = now()
             WHERE id = $1",
        )
        .bind(id)
        .bind(filename)
        .bind(content_type)
        .bind(bytes.size as i64)
        .bind(&bytes.sha256)
        .bind(&bytes.blob_key)
        .execute(&mut *tx)
        .await?;
        adopt_copies(&mut tx, id, bytes).await?;
        tx.commit().await?;
        Ok(Some(strays))
    }

    /// Records what became of one copy.
    pub async fn mark_replica(
        &self,
        content_id: Uuid,
        node_id: &str,
        state: ReplicaState,
    ) -> Result<(), sqlx::Error> {
        let _forget = self.recent.forget_when_done(Some(content_id));
        sqlx::query(
            "UPDATE replica SET state = $3, updated_at = now()
             WHERE content_id = $1 AND node_id = $2",
        )
        .bind(content_id)
        .bind(node_id)
        .bind(state.as_str())
        .execute(&self.pool)
        .await
        .map(drop)
    }

    /// Changes the name or type; `None` when the object does not exist.
    pub async fn patch(
        &self,
        id: Uuid,
        filename: Option<&str>,
        content_type: Option<&str>,
    ) -> Result<Option<ContentRecord>, sqlx::Error> {
        let _forget = self.recent.forget_when_done(Some(id));
        let updated = sqlx::query(
            "UPDATE content SET
                 filename = coalesce($2, filename),
                 content_type = coalesce($3, content_type),
                 updated_at = now()
             WHERE id = $1",
        )
        .bind(id)
        .bind(filename)
        .bind(content_type)
        .execute(&self.pool)
        .await?;
        if updated.rows_affected() == 0 {
            return Ok(None);
        }
        self.fetch(id).await
    }

    /// Removes the object; its copies become stray. `None` when it did not
    /// exist.
    pub async fn delete(&self, id: Uuid) -> Result<Option<Vec<StrayBlob>>, sqlx::Error> {
        let _forget = self.recent.forget_when_done(Some(id));
        let mut tx = self.pool.begin().await?;
        let key: Option<String> =
            sqlx::query_scalar("SELECT blob_key FROM content WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(key) = key else {
            return Ok(None);
        };
        let strays = retire_copies(&mut tx, id, &key).await?;
        sqlx::query("DELETE FROM content WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(strays))
    }

    /// The database's clock, so that times compared in SQL agree.
    pub async fn now(&self) -> Result<DateTime<Utc>, sqlx::Error> {
        sqlx::query_scalar("SELECT now()")
            .fetch_one(&self.pool)
            .await
    }

    /// Brings the catalogue in line with what a node reported at `asked_at`:
    /// copies it lacks become `missing`, copies its scrub found bad become
    /// `corrupt`, and blobs nothing knows of become stray, due for removal
    /// after `orphan_grace`.
    pub async fn reconcile_inventory(
        &self,
        node: &str,
        asked_at: DateTime<Utc>,
        present: &[String],
        corrupt: &[String],
        orphan_grace: std::time::Duration,
    ) -> Result<Reconciled, sqlx::Error> {
        let _forget = self.recent.forget_when_done(None);
        // Copies recorded after the node was asked may be missing from its
        // answer without being missing from its disk.
        let missing = sqlx::query(
            "UPDATE replica r SET state = 'missing', updated_at = now()
             FROM content c
             WHERE r.content_id = c.id AND r.node_id = $1 AND r.state = 'ok'
               AND r.updated_at < $2 AND NOT (c.blob_key = ANY($3))",
        )
        .bind(node)
        .bind(asked_at)
        .bind(present)
        .execute(&self.pool)
        .await?
        .rows_affected();
        let corrupt = sqlx::query(
            "UPDATE replica r SET state = 'corrupt', updated_at = now()
             FROM content c
             WHERE r.content_id = c.id AND r.node_id = $1 AND r.state = 'ok'
               AND c.blob_key = ANY($2)",
        )
        .bind(node)
        .bind(corrupt)
        .execute(&self.pool)
        .await?
        .rows_affected();
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
            missing,
            corrupt,
            orphans,
        })
    }

    /// Drops the records of copies known to be bad on `nodes`, listing them
    /// as stray so their bytes go too. Returns how many.
    pub async fn retire_bad_copies(&self, nodes: &[String]) -> Result<u64, sqlx::Error> {
        let _forget = self.recent.forget_when_done(None);
        sqlx::query(
            "WITH bad AS (
                 DELETE FROM replica r USING content c
                 WHERE r.content_id = c.id AND r.state <> 'ok' AND r.node_id = ANY($1)
                 RETURNING r.node_id, c.blob_key)
             INSERT INTO stray_blob (node_id, blob_key, due_at)
             SELECT node_id, blob_key, now() FROM bad
             ON CONFLICT (node_id, blob_key) DO UPDATE SET due_at = now()",
        )
        .bind(nodes)
        .execute(&self.pool)
        .await
        .map(|done| done.rows_affected())
    }

    /// Drops the record of one copy, listing it as stray.
    pub async fn retire_copy(&self, content_id: Uuid, node: &str) -> Result<(), sqlx::Error> {
        let _forget = self.recent.forget_when_done(Some(content_id));
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
        .await
        .map(drop)
    }

    /// Content with fewer than `copies` good copies on `available` nodes
    /// (`fewer` true) or more (`fewer` false), oldest first.
    pub async fn misreplicated(
        &self,
        available: &[String],
        copies: i64,
        fewer: bool,
        limit: i64,
    ) -> Result<Vec<ContentRecord>, sqlx::Error> {
        let comparison = if fewer { "<" } else { ">" };
        let rows: Vec<ContentRow> = sqlx::query_as(&format!(
            "{SELECT_CONTENT}
             WHERE (SELECT count(*) FROM replica g
                    WHERE g.content_id = c.id AND g.state = 'ok' AND g.node_id = ANY($1)) {comparison} $2
             ORDER BY c.id LIMIT $3"
        ))
        .bind(available)
        .bind(copies)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(ContentRecord::from).collect())
    }

    pub async fn count_under_replicated(
        &self,
        available: &[String],
        copies: i64,
    ) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT count(*) FROM content c
             WHERE (SELECT count(*) FROM replica r
                    WHERE r.content_id = c.id AND r.state = 'ok' AND r.node_id = ANY($1)) < $2",
        )
        .bind(available)
        .bind(copies)
        .fetch_one(&self.pool)
        .await
    }

    /// Nodes holding a copy of `key` that is on its way out.
    pub async fn stray_nodes(&self, key: &str) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT node_id FROM stray_blob WHERE blob_key = $1")
            .bind(key)
            .fetch_all(&self.pool)
            .await
    }

    /// Records a new good copy of `key` on `node`, if `key` is still the
    /// object's current blob; `false` when it is not (replaced or deleted
    /// meanwhile), and the copy stays stray.
    pub async fn add_copy(
        &self,
        content_id: Uuid,
        node: &str,
        key: &str,
    ) -> Result<bool, sqlx::Error> {
        let _forget = self.recent.forget_when_done(Some(content_id));
        let mut tx = self.pool.begin().await?;
        let added = sqlx::query(
            "INSERT INTO replica (content_id, node_id, state)
             SELECT id, $2, 'ok' FROM content WHERE id = $1 AND blob_key = $3
             ON CONFLICT (content_id, node_id) DO UPDATE SET state = 'ok', updated_at = now()",
        )
        .bind(content_id)
        .bind(node)
        .bind(key)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if added {
            sqlx::query("DELETE FROM stray_blob WHERE node_id = $1 AND blob_key = $2")
                .bind(node)
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Stray blobs whose time has come, oldest first, except those on the
    /// `unreachable` nodes.
    pub async fn due_strays(
        &self,
        unreachable: &[String],
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

/// Records the new copies and clears them from the stray list.
async fn adopt_copies(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    bytes: &NewBytes,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO replica (content_id, node_id, state)
         SELECT $1, node, 'ok' FROM unnest($2::text[]) AS node",
    )
    .bind(id)
    .bind(&bytes.nodes)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM stray_blob WHERE blob_key = $1 AND node_id = ANY($2)")
        .bind(&bytes.blob_key)
        .bind(&bytes.nodes)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Drops the object's copy records and lists the copies as stray, due now.
async fn retire_copies(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    key: &str,
) -> Result<Vec<StrayBlob>, sqlx::Error> {
    sqlx::query_as(
        "WITH gone AS (DELETE FROM replica WHERE content_id = $1 RETURNING node_id)
         INSERT INTO stray_blob (node_id, blob_key, due_at)
         SELECT node_id, $2, now() FROM gone
         ON CONFLICT (node_id, blob_key) DO UPDATE SET due_at = now()
         RETURNING node_id, blob_key",
    )
    .bind(id)
    .bind(key)
    .fetch_all(&mut **tx)
    .await
}

/// A small, short-lived memory of objects read. Every change this
/// distributor makes forgets what it changes at once; the short lifetime
/// bounds how long anything else (another process writing to the same
/// database) can go unseen.
#[derive(Default)]
struct RecentContent {
    entries: Mutex<HashMap<Uuid, (Instant, ContentRecord)>>,
    /// Bumped by every change, so a read that raced with a change does not
    /// put back what the change just made stale.
    generation: AtomicU64,
}

impl RecentContent {
    const LIFETIME: Duration = Duration::from_secs(1);
    const CAPACITY: usize = 10_000;

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, (Instant, ContentRecord)>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get(&self, id: Uuid) -> Option<ContentRecord> {
        let entries = self.entries();
        let (read_at, record) = entries.get(&id)?;
        (read_at.elapsed() < Self::LIFETIME).then(|| record.clone())
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Remembers `record`, read when the generation was `generation`.
    fn put(&self, generation: u64, record: ContentRecord) {
        let mut entries = self.entries();
        if self.generation() != generation {
            return;
        }
        if entries.len() >= Self::CAPACITY {
            entries.retain(|_, (read_at, _)| read_at.elapsed() < Self::LIFETIME);
            if entries.len() >= Self::CAPACITY {
                entries.clear();
            }
        }
        entries.insert(record.id, (Instant::now(), record));
    }

    /// Forgets `id` (or everything, for `None`) when the returned guard is
    /// dropped: at the end of the change, whichever way it ends, so that no
    /// read made before the change landed is remembered after it.
    fn forget_when_done(&self, id: Option<Uuid>) -> ForgetWhenDone<'_> {
        ForgetWhenDone { recent: self, id }
    }
}

struct ForgetWhenDone<'a> {
    recent: &'a RecentContent,
    id: Option<Uuid>,
}

impl Drop for ForgetWhenDone<'_> {
    fn drop(&mut self) {
        let mut entries = self.recent.entries();
        self.recent.generation.fetch_add(1, Ordering::SeqCst);
        match self.id {
            Some(id) => {
                entries.remove(&id);
            }
            None => entries.clear(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: Uuid) -> ContentRecord {
        ContentRecord {
            id,
            filename: "a".into(),
            content_type: "text/plain".into(),
            size: 1,
            sha256: String::new(),
            version: 1,
            blob_key: "k".into(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
            replicas: Vec::new(),
        }
    }

    #[test]
    fn a_change_forgets_and_a_read_that_raced_it_is_not_remembered() {
        let recent = RecentContent::default();
        let id = Uuid::now_v7();
        recent.put(recent.generation(), record(id));
        assert!(recent.get(id).is_some());

        let read_before_change = recent.generation();
        drop(recent.forget_when_done(Some(id)));
        assert!(recent.get(id).is_none());
        recent.put(read_before_change, record(id));
        assert!(recent.get(id).is_none(), "a stale read was remembered");
    }
}
