//! The S3 API's access keys (`access_key`). SigV4 needs the secret itself
//! to check a signature, so it is kept as issued (see the migration); it
//! leaves this module only to verify a request.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use super::Catalog;

/// One access key, without its secret.
#[derive(Clone, Debug, FromRow)]
pub struct AccessKeyRecord {
    pub id: Uuid,
    pub access_key_id: String,
    pub name: String,
    /// Scope names as stored; the table's CHECK keeps them to known ones.
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const KEY_COLUMNS: &str = "id, access_key_id, name, scopes, created_at, last_used_at, revoked_at";

impl Catalog {
    /// Adds a key. `None` when its access key id is taken already.
    pub async fn insert_access_key(
        &self,
        id: Uuid,
        access_key_id: &str,
        secret: &str,
        name: &str,
        scopes: &[String],
    ) -> Result<Option<AccessKeyRecord>, sqlx::Error> {
        sqlx::query_as(&format!(
            "INSERT INTO access_key (id, access_key_id, secret_access_key, name, scopes)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (access_key_id) DO NOTHING
             RETURNING {KEY_COLUMNS}"
        ))
        .bind(id)
        .bind(access_key_id)
        .bind(secret)
        .bind(name)
        .bind(scopes)
        .fetch_optional(&self.pool)
        .await
    }

    /// A live (not revoked) key and its secret.
    pub async fn live_access_key(
        &self,
        access_key_id: &str,
    ) -> Result<Option<(AccessKeyRecord, String)>, sqlx::Error> {
        #[derive(FromRow)]
        struct WithSecret {
            #[sqlx(flatten)]
            record: AccessKeyRecord,
            secret_access_key: String,
        }
        let row: Option<WithSecret> = sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS}, secret_access_key FROM access_key
             WHERE access_key_id = $1 AND revoked_at IS NULL"
        ))
        .bind(access_key_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| (row.record, row.secret_access_key)))
    }

    /// Oldest first.
    pub async fn list_access_keys(&self) -> Result<Vec<AccessKeyRecord>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM access_key ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await
    }

    /// Revokes a key (a second revocation keeps the first time). `None`
    /// when there is no such key.
    pub async fn revoke_access_key(
        &self,
        id: Uuid,
    ) -> Result<Option<AccessKeyRecord>, sqlx::Error> {
        sqlx::query_as(&format!(
            "UPDATE access_key SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1
             RETURNING {KEY_COLUMNS}"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
    }

    /// Records that a key was just used.
    pub async fn touch_access_key(&self, id: Uuid) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE access_key SET last_used_at = now() WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map(drop)
    }
}
