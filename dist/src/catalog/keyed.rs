//! Objects by bucket and key, as the S3 API sees them: a put creates the
//! key or gives it new bytes, and listings run in key (byte) order.

use cdn_common::wire::Visibility;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::changes::announce;
use super::content::{commit_version, insert_row, replace_row, retire_copies};
use super::{
    Catalog, ContentRecord, ContentRow, NewBytes, ObjectHeaders, SELECT_CONTENT, StrayBlob,
};

/// Everything a new object's row says besides its bytes.
#[derive(Clone, Debug)]
pub struct NewEntry {
    pub filename: String,
    pub content_type: String,
    pub visibility: Visibility,
    pub bucket: String,
    pub key: String,
    pub headers: ObjectHeaders,
}

/// What a put by key did.
#[derive(Debug)]
pub enum KeyedWrite {
    Created(ContentRecord),
    /// The key held an object: it has the new bytes, its old copies are
    /// stray.
    Replaced(ContentRecord, Vec<StrayBlob>),
    NoBucket,
}

/// Where a page of keys starts.
#[derive(Clone, Debug)]
pub enum KeyPageRequest {
    /// Keys after this one.
    After(String),
    /// This key and those after it.
    From(String),
}

/// One page of keys, in order.
pub type KeyPage = Vec<ContentRecord>;

/// Bounded: a second attempt can only meet a key whose row is locked by
/// another put, which then waits for it.
const PUT_ATTEMPTS: usize = 3;

impl Catalog {
    /// Stores bytes, already on their nodes, under `entry`'s bucket and
    /// key: a new object (with id `id`), or a new version of the one there.
    pub async fn put_keyed(
        &self,
        id: Uuid,
        entry: NewEntry,
        bytes: NewBytes,
    ) -> Result<KeyedWrite, sqlx::Error> {
        self.to_completion(move |catalog| async move {
            for _ in 0..PUT_ATTEMPTS {
                let mut tx = catalog.pool.begin().await?;
                let bucket: Option<String> =
                    sqlx::query_scalar("SELECT name FROM bucket WHERE name = $1 FOR SHARE")
                        .bind(&entry.bucket)
                        .fetch_optional(&mut *tx)
                        .await?;
                if bucket.is_none() {
                    return Ok(KeyedWrite::NoBucket);
                }
                let existing: Option<Uuid> = sqlx::query_scalar(
                    "SELECT id FROM content WHERE bucket = $1 AND object_key = $2 FOR UPDATE",
                )
                .bind(&entry.bucket)
                .bind(&entry.key)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(existing) = existing else {
                    if insert_row(&mut tx, id, &entry, &bytes).await? {
                        return Ok(KeyedWrite::Created(commit_version(tx, id, &bytes).await?));
                    }
                    // Another put created the key meanwhile: replace it.
                    continue;
                };
                let _forget = catalog.memory.forget_when_done(existing);
                let Some(strays) = retire_copies(&mut tx, existing).await? else {
                    continue;
                };
                replace_row(&mut tx, existing, &entry, &bytes).await?;
                announce(&mut *tx, &[existing]).await?;
                let record = commit_version(tx, existing, &bytes).await?;
                return Ok(KeyedWrite::Replaced(record, strays));
            }
            Err(sqlx::Error::Protocol(
                "a key kept changing under a put".into(),
            ))
        })
        .await
    }

    /// The object under `key` in `bucket`.
    pub async fn get_keyed(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ContentRecord>, sqlx::Error> {
        let id: Option<Uuid> =
            sqlx::query_scalar("SELECT id FROM content WHERE bucket = $1 AND object_key = $2")
                .bind(bucket)
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        match id {
            // Through the memory of objects read, like every read by id.
            Some(id) => Ok(self.get(id).await?.filter(|record| record.key == key)),
            None => Ok(None),
        }
    }

    /// Up to `limit` objects of `bucket` whose keys start with `prefix`,
    /// in key order from `start`.
    pub async fn list_keyed(
        &self,
        bucket: &str,
        prefix: &str,
        start: Option<&KeyPageRequest>,
        limit: i64,
    ) -> Result<KeyPage, sqlx::Error> {
        let mut query: QueryBuilder<Postgres> = QueryBuilder::new(SELECT_CONTENT);
        query.push(" WHERE c.bucket = ");
        query.push_bind(bucket.to_owned());
        if !prefix.is_empty() {
            // The range lets the (bucket, key) index find the first one.
            query.push(" AND c.object_key >= ");
            query.push_bind(prefix.to_owned());
            query.push(" AND starts_with(c.object_key, ");
            query.push_bind(prefix.to_owned());
            query.push(")");
        }
        match start {
            Some(KeyPageRequest::After(key)) => {
                query.push(" AND c.object_key > ");
                query.push_bind(key.clone());
            }
            Some(KeyPageRequest::From(key)) => {
                query.push(" AND c.object_key >= ");
                query.push_bind(key.clone());
            }
            None => {}
        }
        query.push(" ORDER BY c.object_key LIMIT ");
        query.push_bind(limit);
        let rows: Vec<ContentRow> = query.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(ContentRecord::from).collect())
    }
}
