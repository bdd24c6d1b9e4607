//! Objects and their versions. Each change answers with the object as that
//! change left it, read inside its own transaction, so concurrent changes
//! never answer with each other's version.

use cdn_common::BlobKey;
use cdn_common::wire::Visibility;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::changes::announce;
use super::keyed::NewEntry;
use super::{Catalog, ContentRecord, ContentRow, NewBytes, SELECT_CONTENT, StrayBlob};

/// A change of name, type or visibility; `None` keeps what is there.
#[derive(Clone, Debug, Default)]
pub struct MetadataChange {
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub visibility: Option<Visibility>,
}

impl Catalog {
    pub async fn get(&self, id: Uuid) -> Result<Option<ContentRecord>, sqlx::Error> {
        if let Some(record) = self.memory.get(id) {
            return Ok(Some(record));
        }
        let ticket = self.memory.ticket();
        let record = fetch(&self.pool, id).await?;
        if let Some(record) = &record {
            self.memory.put(ticket, record.clone());
        }
        Ok(record)
    }

    pub async fn count(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT count(*) FROM content WHERE bucket <> $1")
            .bind(super::buckets::PARTS_BUCKET)
            .fetch_one(&self.pool)
            .await
    }

    /// Adds a new object whose bytes are already on their nodes.
    /// `None` when its bucket and key are taken (or the bucket is gone).
    pub async fn insert(
        &self,
        id: Uuid,
        entry: NewEntry,
        bytes: NewBytes,
    ) -> Result<Option<ContentRecord>, sqlx::Error> {
        self.to_completion(move |catalog| async move {
            let mut tx = catalog.pool.begin().await?;
            if !insert_row(&mut tx, id, &entry, &bytes).await? {
                return Ok(None);
            }
            commit_version(tx, id, &bytes).await.map(Some)
        })
        .await
    }

    /// Points the object at new bytes, already on their nodes, in one
    /// transaction: readers see the old version or the new one. Returns the
    /// new version and the old copies, now stray; `None` when the object is
    /// gone.
    pub async fn replace(
        &self,
        id: Uuid,
        change: MetadataChange,
        bytes: NewBytes,
    ) -> Result<Option<(ContentRecord, Vec<StrayBlob>)>, sqlx::Error> {
        self.to_completion(move |catalog| async move {
            let _forget = catalog.memory.forget_when_done(id);
            let mut tx = catalog.pool.begin().await?;
            let Some(strays) = retire_copies(&mut tx, id).await? else {
                return Ok(None);
            };
            sqlx::query(
                "UPDATE content SET
                     filename = coalesce($2, filename),
                     content_type = coalesce($3, content_type),
                     size = $4, sha256 = $5, blob_key = $6,
                     visibility = coalesce($7, visibility), md5 = $8,
                     version = version + 1, updated_at = now()
                 WHERE id = $1",
            )
            .bind(id)
            .bind(change.filename)
            .bind(change.content_type)
            .bind(bytes.size as i64)
            .bind(bytes.sha256)
            .bind(&bytes.blob_key)
            .bind(change.visibility)
            .bind(&bytes.md5)
            .execute(&mut *tx)
            .await?;
            announce(&mut *tx, &[id]).await?;
            Ok(Some((commit_version(tx, id, &bytes).await?, strays)))
        })
        .await
    }

    /// Changes the name or type; `None` when the object does not exist.
    pub async fn patch(
        &self,
        id: Uuid,
        change: MetadataChange,
    ) -> Result<Option<ContentRecord>, sqlx::Error> {
        self.to_completion(move |catalog| async move {
            let _forget = catalog.memory.forget_when_done(id);
            let mut tx = catalog.pool.begin().await?;
            let updated = sqlx::query(
                "UPDATE content SET
                     filename = coalesce($2, filename),
                     content_type = coalesce($3, content_type),
                     visibility = coalesce($4, visibility),
                     updated_at = now()
                 WHERE id = $1",
            )
            .bind(id)
            .bind(change.filename)
            .bind(change.content_type)
            .bind(change.visibility)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 0 {
                return Ok(None);
            }
            announce(&mut *tx, &[id]).await?;
            let record = fetch(&mut *tx, id).await?;
            tx.commit().await?;
            Ok(record)
        })
        .await
    }

    /// Removes the object; its copies become stray. `None` when it did not
    /// exist.
    pub async fn delete(&self, id: Uuid) -> Result<Option<Vec<StrayBlob>>, sqlx::Error> {
        self.to_completion(move |catalog| async move {
            let _forget = catalog.memory.forget_when_done(id);
            let mut tx = catalog.pool.begin().await?;
            let Some(strays) = retire_copies(&mut tx, id).await? else {
                return Ok(None);
            };
            sqlx::query("DELETE FROM content WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            announce(&mut *tx, &[id]).await?;
            tx.commit().await?;
            Ok(Some(strays))
        })
        .await
    }
}

/// Inserts the row of a new object, in a bucket that exists (locked
/// against removal until the transaction ends). `false` when the bucket
/// is gone or the key is taken.
pub(super) async fn insert_row(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    entry: &NewEntry,
    bytes: &NewBytes,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO content
             (id, filename, content_type, size, sha256, md5, blob_key, visibility,
              bucket, object_key, headers)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, b.name, $10, $11
         FROM (SELECT name FROM bucket WHERE name = $9 FOR SHARE) b
         ON CONFLICT (bucket, object_key) DO NOTHING",
    )
    .bind(id)
    .bind(&entry.filename)
    .bind(&entry.content_type)
    .bind(bytes.size as i64)
    .bind(bytes.sha256)
    .bind(&bytes.md5)
    .bind(&bytes.blob_key)
    .bind(entry.visibility)
    .bind(&entry.bucket)
    .bind(&entry.key)
    .bind(sqlx::types::Json(&entry.headers))
    .execute(&mut **tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Points the row of object `id` (locked, its copies retired) at new
/// bytes and a new description, as a new version.
pub(super) async fn replace_row(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    entry: &NewEntry,
    bytes: &NewBytes,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE content SET
             filename = $2, content_type = $3, size = $4, sha256 = $5, md5 = $6,
             blob_key = $7, visibility = $8, headers = $9,
             version = version + 1, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(&entry.filename)
    .bind(&entry.content_type)
    .bind(bytes.size as i64)
    .bind(bytes.sha256)
    .bind(&bytes.md5)
    .bind(&bytes.blob_key)
    .bind(entry.visibility)
    .bind(sqlx::types::Json(&entry.headers))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The object as PostgreSQL has it now (or as `executor`'s transaction
/// sees it).
async fn fetch<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    id: Uuid,
) -> Result<Option<ContentRecord>, sqlx::Error> {
    let row: Option<ContentRow> = sqlx::query_as(&format!("{SELECT_CONTENT} WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(executor)
        .await?;
    Ok(row.map(ContentRecord::from))
}

/// Records the copies of the version just written, commits, and answers
/// with that version as the transaction saw it.
pub(super) async fn commit_version(
    mut tx: Transaction<'_, Postgres>,
    id: Uuid,
    bytes: &NewBytes,
) -> Result<ContentRecord, sqlx::Error> {
    adopt_copies(&mut tx, id, bytes).await?;
    let record = fetch(&mut *tx, id).await?;
    tx.commit().await?;
    record.ok_or(sqlx::Error::RowNotFound)
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

/// Locks the object's row, drops its copy records and lists the copies as
/// stray, due now; `None` when the object does not exist.
pub(super) async fn retire_copies(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
) -> Result<Option<Vec<StrayBlob>>, sqlx::Error> {
    let key: Option<BlobKey> =
        sqlx::query_scalar("SELECT blob_key FROM content WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    let Some(key) = key else {
        return Ok(None);
    };
    let mut strays = retire_parts(tx, id).await?;
    let own: Vec<StrayBlob> = sqlx::query_as(
        "WITH gone AS (DELETE FROM replica WHERE content_id = $1 RETURNING node_id)
         INSERT INTO stray_blob (node_id, blob_key, due_at)
         SELECT node_id, $2, now() FROM gone
         ON CONFLICT (node_id, blob_key) DO UPDATE SET due_at = now()
         RETURNING node_id, blob_key",
    )
    .bind(id)
    .bind(key)
    .fetch_all(&mut **tx)
    .await?;
    strays.extend(own);
    Ok(Some(strays))
}

/// Removes the parts an object is made of (none for most): their rows go
/// and their copies become stray, due now.
async fn retire_parts(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
) -> Result<Vec<StrayBlob>, sqlx::Error> {
    let parts: Vec<Uuid> =
        sqlx::query_scalar("DELETE FROM content_segment WHERE content_id = $1 RETURNING part_id")
            .bind(id)
            .fetch_all(&mut **tx)
            .await?;
    drop_parts(tx, &parts).await
}

/// Deletes part rows nothing refers to any more; their copies become
/// stray, due now.
pub(super) async fn drop_parts(
    tx: &mut Transaction<'_, Postgres>,
    parts: &[Uuid],
) -> Result<Vec<StrayBlob>, sqlx::Error> {
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    let strays = sqlx::query_as(
        "WITH gone AS (
             DELETE FROM replica r USING content c
             WHERE r.content_id = c.id AND c.id = ANY($1)
             RETURNING r.node_id, c.blob_key)
         INSERT INTO stray_blob (node_id, blob_key, due_at)
         SELECT node_id, blob_key, now() FROM gone
         ON CONFLICT (node_id, blob_key) DO UPDATE SET due_at = now()
         RETURNING node_id, blob_key",
    )
    .bind(parts)
    .fetch_all(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM content WHERE id = ANY($1)")
        .bind(parts)
        .execute(&mut **tx)
        .await?;
    announce(&mut **tx, parts).await?;
    Ok(strays)
}
