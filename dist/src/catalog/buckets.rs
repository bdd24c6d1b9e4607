//! S3 buckets (`bucket`). Objects point at their bucket, so a bucket with
//! objects in it cannot be removed.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::Catalog;
use super::changes::announce;

/// The bucket native uploads land in (made by the migration that added
/// buckets, and never removed).
pub const DEFAULT_BUCKET: &str = "content";

/// Where the parts of multipart uploads are kept, one content row each: a
/// name S3's rules refuse, so no client reaches it (see the migration).
pub const PARTS_BUCKET: &str = "multipart..parts";

#[derive(Clone, Debug, FromRow)]
pub struct BucketRecord {
    pub name: String,
    pub public: bool,
    pub created_at: DateTime<Utc>,
}

/// What a removal found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BucketRemoval {
    Removed,
    Missing,
    NotEmpty,
}

impl Catalog {
    /// Adds a bucket; `false` when one of that name exists.
    pub async fn create_bucket(&self, name: &str) -> Result<bool, sqlx::Error> {
        let created = sqlx::query("INSERT INTO bucket (name) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(created.rows_affected() == 1)
    }

    /// A bucket clients may use (never the parts' own).
    pub async fn bucket(&self, name: &str) -> Result<Option<BucketRecord>, sqlx::Error> {
        sqlx::query_as("SELECT name, public, created_at FROM bucket WHERE name = $1 AND name <> $2")
            .bind(name)
            .bind(PARTS_BUCKET)
            .fetch_optional(&self.pool)
            .await
    }

    /// Every bucket, by name.
    pub async fn buckets(&self) -> Result<Vec<BucketRecord>, sqlx::Error> {
        sqlx::query_as("SELECT name, public, created_at FROM bucket WHERE name <> $1 ORDER BY name")
            .bind(PARTS_BUCKET)
            .fetch_all(&self.pool)
            .await
    }

    /// Removes an empty bucket. The row lock of `keyed` writes keeps an
    /// object from landing in a bucket being removed.
    pub async fn remove_bucket(&self, name: &str) -> Result<BucketRemoval, sqlx::Error> {
        let name = name.to_owned();
        self.to_completion(move |catalog| async move {
            let mut tx = catalog.pool.begin().await?;
            let found: Option<String> = sqlx::query_scalar(
                "SELECT name FROM bucket WHERE name = $1 AND name <> $2 FOR UPDATE",
            )
            .bind(&name)
            .bind(PARTS_BUCKET)
            .fetch_optional(&mut *tx)
            .await?;
            if found.is_none() {
                return Ok(BucketRemoval::Missing);
            }
            let occupied: bool =
                // Uploads in progress keep their bucket too.
                sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM content WHERE bucket = $1)
                         OR EXISTS (SELECT 1 FROM multipart_upload WHERE bucket = $1)",
                )
                    .bind(&name)
                    .fetch_one(&mut *tx)
                    .await?;
            if occupied {
                return Ok(BucketRemoval::NotEmpty);
            }
            sqlx::query("DELETE FROM bucket WHERE name = $1")
                .bind(&name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(BucketRemoval::Removed)
        })
        .await
    }

    /// Makes a bucket public or private, and every object in it with it:
    /// an object's visibility is the one rule for reading its bytes,
    /// through either API. `false` when there is no such bucket.
    pub async fn set_bucket_public(&self, name: &str, public: bool) -> Result<bool, sqlx::Error> {
        let name = name.to_owned();
        self.to_completion(move |catalog| async move {
            let mut tx = catalog.pool.begin().await?;
            let found = sqlx::query("UPDATE bucket SET public = $2 WHERE name = $1 AND name <> $3")
                .bind(&name)
                .bind(public)
                .bind(PARTS_BUCKET)
                .execute(&mut *tx)
                .await?;
            if found.rows_affected() == 0 {
                return Ok(false);
            }
            let changed: Vec<uuid::Uuid> = sqlx::query_scalar(
                "UPDATE content SET visibility = $2, updated_at = now()
                 WHERE bucket = $1 AND visibility <> $2 RETURNING id",
            )
            .bind(&name)
            .bind(if public {
                cdn_common::wire::Visibility::Public
            } else {
                cdn_common::wire::Visibility::Private
            })
            .fetch_all(&mut *tx)
            .await?;
            announce(&mut *tx, &changed).await?;
            tx.commit().await?;
            for id in changed {
                catalog.memory.forget(super::Forgotten::One(id));
            }
            Ok(true)
        })
        .await
    }
}
