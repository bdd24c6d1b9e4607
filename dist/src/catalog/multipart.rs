//! S3 multipart uploads (`multipart_upload`, `upload_part`) and the
//! objects completed from them (`content_segment`). Each part is a content
//! row of its own in the parts' bucket, with its blob and copies, so the
//! rest of the catalogue (repair, strays) needs to know nothing of parts.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use super::buckets::PARTS_BUCKET;
use super::changes::announce;
use super::content::{commit_version, drop_parts, insert_row, replace_row, retire_copies};
use super::{Catalog, ContentRecord, NewBytes, NewEntry, ObjectHeaders, StrayBlob};

/// An upload in progress.
#[derive(Clone, Debug, FromRow)]
pub struct UploadRecord {
    pub id: Uuid,
    pub bucket: String,
    #[sqlx(rename = "object_key")]
    pub key: String,
    pub content_type: Option<String>,
    pub headers: sqlx::types::Json<ObjectHeaders>,
    pub created_at: DateTime<Utc>,
}

/// One part uploaded so far.
#[derive(Clone, Debug, FromRow)]
pub struct PartRecord {
    pub part_number: i32,
    pub part_id: Uuid,
    pub size: i64,
    /// Hex MD5 of the part: its ETag.
    pub md5: Option<String>,
    pub uploaded_at: DateTime<Utc>,
}

/// What a completion did.
#[derive(Debug)]
pub enum Completion {
    /// The object, and the copies now stray (its old version's, and
    /// those of parts left out).
    Done(Box<ContentRecord>, Vec<StrayBlob>),
    NoUpload,
    /// A part was uploaded again meanwhile.
    PartsChanged,
}

const UPLOAD_COLUMNS: &str = "id, bucket, object_key, content_type, headers, created_at";

impl Catalog {
    /// Starts an upload; `false` when the bucket is gone.
    pub async fn create_upload(
        &self,
        id: Uuid,
        bucket: &str,
        key: &str,
        content_type: Option<&str>,
        headers: &ObjectHeaders,
    ) -> Result<bool, sqlx::Error> {
        let created = sqlx::query(
            "INSERT INTO multipart_upload (id, bucket, object_key, content_type, headers)
             SELECT $1, name, $3, $4, $5 FROM bucket WHERE name = $2 AND name <> $6",
        )
        .bind(id)
        .bind(bucket)
        .bind(key)
        .bind(content_type)
        .bind(sqlx::types::Json(headers))
        .bind(PARTS_BUCKET)
        .execute(&self.pool)
        .await?;
        Ok(created.rows_affected() == 1)
    }

    pub async fn upload(&self, id: Uuid) -> Result<Option<UploadRecord>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {UPLOAD_COLUMNS} FROM multipart_upload WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
    }

    /// A bucket's uploads under `prefix`, by key then id, after `after`.
    pub async fn uploads(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<(&str, Uuid)>,
        limit: i64,
    ) -> Result<Vec<UploadRecord>, sqlx::Error> {
        let (after_key, after_id) = match after {
            Some((key, id)) => (Some(key), id),
            None => (None, Uuid::nil()),
        };
        sqlx::query_as(&format!(
            "SELECT {UPLOAD_COLUMNS} FROM multipart_upload
             WHERE bucket = $1 AND starts_with(object_key, $2)
               AND ($3::text IS NULL OR (object_key, id) > ($3 COLLATE \"C\", $4))
             ORDER BY object_key, id LIMIT $5"
        ))
        .bind(bucket)
        .bind(prefix)
        .bind(after_key)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
    }

    /// The parts of an upload, by number.
    pub async fn parts(&self, upload: Uuid) -> Result<Vec<PartRecord>, sqlx::Error> {
        sqlx::query_as(
            "SELECT u.part_number, u.part_id, c.size, c.md5, c.updated_at AS uploaded_at
             FROM upload_part u JOIN content c ON c.id = u.part_id
             WHERE u.upload_id = $1 ORDER BY u.part_number",
        )
        .bind(upload)
        .fetch_all(&self.pool)
        .await
    }

    /// Records a part whose bytes are on their nodes, as content row
    /// `part_id`; a part of the same number before it becomes stray.
    /// `None` when the upload is gone (completed or aborted meanwhile).
    pub async fn add_part(
        &self,
        upload: Uuid,
        part_number: i32,
        part_id: Uuid,
        bytes: NewBytes,
    ) -> Result<Option<Vec<StrayBlob>>, sqlx::Error> {
        self.to_completion(move |catalog| async move {
            let mut tx = catalog.pool.begin().await?;
            let live: Option<Uuid> =
                sqlx::query_scalar("SELECT id FROM multipart_upload WHERE id = $1 FOR SHARE")
                    .bind(upload)
                    .fetch_optional(&mut *tx)
                    .await?;
            if live.is_none() {
                return Ok(None);
            }
            let entry = NewEntry {
                filename: format!("part-{part_number}"),
                content_type: "application/octet-stream".into(),
                visibility: cdn_common::wire::Visibility::Private,
                bucket: PARTS_BUCKET.into(),
                key: part_id.to_string(),
                headers: ObjectHeaders::new(),
            };
            if !insert_row(&mut tx, part_id, &entry, &bytes).await? {
                return Err(sqlx::Error::Protocol("the parts' bucket is missing".into()));
            }
            let replaced: Vec<Uuid> = sqlx::query_scalar(
                "DELETE FROM upload_part WHERE upload_id = $1 AND part_number = $2
                 RETURNING part_id",
            )
            .bind(upload)
            .bind(part_number)
            .fetch_all(&mut *tx)
            .await?;
            let strays = drop_parts(&mut tx, &replaced).await?;
            sqlx::query(
                "INSERT INTO upload_part (upload_id, part_number, part_id) VALUES ($1, $2, $3)",
            )
            .bind(upload)
            .bind(part_number)
            .bind(part_id)
            .execute(&mut *tx)
            .await?;
            commit_version(tx, part_id, &bytes).await?;
            Ok(Some(strays))
        })
        .await
    }

    /// Makes `parts` (in order) the object under the upload's bucket and
    /// key, with `whole`'s size and sums (its blob key is never written),
    /// as a new object or a new version of the one there. Parts left out
    /// become stray with the old version's copies.
    pub async fn complete_upload(
        &self,
        upload: Uuid,
        new_id: Uuid,
        entry: NewEntry,
        parts: Vec<Uuid>,
        whole: NewBytes,
    ) -> Result<Completion, sqlx::Error> {
        self.to_completion(move |catalog| async move {
            let mut tx = catalog.pool.begin().await?;
            let live: Option<Uuid> =
                sqlx::query_scalar("SELECT id FROM multipart_upload WHERE id = $1 FOR UPDATE")
                    .bind(upload)
                    .fetch_optional(&mut *tx)
                    .await?;
            if live.is_none() {
                return Ok(Completion::NoUpload);
            }
            // A part uploaded again since the caller read the list is not
            // the one it checked: the transaction ends with nothing done.
            let current: Vec<Uuid> =
                sqlx::query_scalar("SELECT part_id FROM upload_part WHERE upload_id = $1")
                    .bind(upload)
                    .fetch_all(&mut *tx)
                    .await?;
            if !parts.iter().all(|part| current.contains(part)) {
                return Ok(Completion::PartsChanged);
            }
            let existing: Option<Uuid> = sqlx::query_scalar(
                "SELECT id FROM content WHERE bucket = $1 AND object_key = $2 FOR UPDATE",
            )
            .bind(&entry.bucket)
            .bind(&entry.key)
            .fetch_optional(&mut *tx)
            .await?;
            let mut strays = Vec::new();
            let id = match existing {
                Some(existing) => {
                    let _forget = catalog.memory.forget_when_done(existing);
                    strays = retire_copies(&mut tx, existing).await?.unwrap_or_default();
                    replace_row(&mut tx, existing, &entry, &whole).await?;
                    existing
                }
                None => {
                    if !insert_row(&mut tx, new_id, &entry, &whole).await? {
                        return Err(sqlx::Error::Protocol(
                            "the key was taken or its bucket removed meanwhile".into(),
                        ));
                    }
                    new_id
                }
            };
            let uploaded: Vec<Uuid> = sqlx::query_scalar(
                "DELETE FROM upload_part WHERE upload_id = $1 RETURNING part_id",
            )
            .bind(upload)
            .fetch_all(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO content_segment (content_id, position, part_id)
                 SELECT $1, (t.ord - 1)::int, t.part
                 FROM unnest($2::uuid[]) WITH ORDINALITY AS t(part, ord)",
            )
            .bind(id)
            .bind(&parts)
            .execute(&mut *tx)
            .await?;
            let unused: Vec<Uuid> = uploaded
                .into_iter()
                .filter(|part| !parts.contains(part))
                .collect();
            strays.extend(drop_parts(&mut tx, &unused).await?);
            sqlx::query("DELETE FROM multipart_upload WHERE id = $1")
                .bind(upload)
                .execute(&mut *tx)
                .await?;
            announce(&mut *tx, &[id]).await?;
            let record = commit_version(tx, id, &whole).await?;
            Ok(Completion::Done(Box::new(record), strays))
        })
        .await
    }

    /// Ends an upload without an object: its parts' copies become stray,
    /// due now. `None` when there was no such upload.
    pub async fn abort_upload(&self, upload: Uuid) -> Result<Option<Vec<StrayBlob>>, sqlx::Error> {
        self.to_completion(move |catalog| async move {
            let mut tx = catalog.pool.begin().await?;
            let live: Option<Uuid> =
                sqlx::query_scalar("SELECT id FROM multipart_upload WHERE id = $1 FOR UPDATE")
                    .bind(upload)
                    .fetch_optional(&mut *tx)
                    .await?;
            if live.is_none() {
                return Ok(None);
            }
            let parts: Vec<Uuid> = sqlx::query_scalar(
                "DELETE FROM upload_part WHERE upload_id = $1 RETURNING part_id",
            )
            .bind(upload)
            .fetch_all(&mut *tx)
            .await?;
            let strays = drop_parts(&mut tx, &parts).await?;
            sqlx::query("DELETE FROM multipart_upload WHERE id = $1")
                .bind(upload)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Some(strays))
        })
        .await
    }

    /// Uploads started more than `age` ago, oldest first.
    pub async fn stale_uploads(&self, age: Duration, limit: i64) -> Result<Vec<Uuid>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT id FROM multipart_upload
             WHERE created_at < now() - make_interval(secs => $1)
             ORDER BY created_at LIMIT $2",
        )
        .bind(age.as_secs_f64())
        .bind(limit)
        .fetch_all(&self.pool)
        .await
    }
}
