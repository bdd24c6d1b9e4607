//! API tokens (`api_token`) and the key presigned links are signed with
//! (`signing_key`). Tokens are found by the SHA-256 of their secret; the
//! secret itself is never stored.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use super::Catalog;

/// One token as the catalogue has it.
#[derive(Clone, Debug, FromRow)]
pub struct TokenRecord {
    pub id: Uuid,
    pub name: String,
    /// Scope names as stored; the table's CHECK keeps them to known ones.
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const TOKEN_COLUMNS: &str = "id, name, scopes, created_at, last_used_at, revoked_at";

impl Catalog {
    /// Adds a token by its secret's hash. `None` when a token with that
    /// hash exists already.
    pub async fn insert_token(
        &self,
        id: Uuid,
        name: &str,
        secret_hash: &str,
        scopes: &[String],
    ) -> Result<Option<TokenRecord>, sqlx::Error> {
        sqlx::query_as(&format!(
            "INSERT INTO api_token (id, name, secret_hash, scopes) VALUES ($1, $2, $3, $4)
             ON CONFLICT (secret_hash) DO NOTHING
             RETURNING {TOKEN_COLUMNS}"
        ))
        .bind(id)
        .bind(name)
        .bind(secret_hash)
        .bind(scopes)
        .fetch_optional(&self.pool)
        .await
    }

    /// The token whose secret hashes to `secret_hash`, revoked or not.
    pub async fn token_by_hash(
        &self,
        secret_hash: &str,
    ) -> Result<Option<TokenRecord>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_token WHERE secret_hash = $1"
        ))
        .bind(secret_hash)
        .fetch_optional(&self.pool)
        .await
    }

    /// Oldest first.
    pub async fn list_tokens(&self) -> Result<Vec<TokenRecord>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_token ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await
    }

    /// Revokes a token (a second revocation keeps the first time). `None`
    /// when there is no such token.
    pub async fn revoke_token(&self, id: Uuid) -> Result<Option<TokenRecord>, sqlx::Error> {
        sqlx::query_as(&format!(
            "UPDATE api_token SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1
             RETURNING {TOKEN_COLUMNS}"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
    }

    /// Records that a token was just used.
    pub async fn touch_token(&self, id: Uuid) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE api_token SET last_used_at = now() WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map(drop)
    }

    /// Whether some token that is not revoked has the `admin` scope.
    pub async fn has_live_admin_token(&self) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM api_token
                            WHERE revoked_at IS NULL AND 'admin' = ANY(scopes))",
        )
        .fetch_one(&self.pool)
        .await
    }

    /// The key kept for presigned links: `candidate` is stored when there
    /// is none yet, else the stored one wins, so every start agrees.
    pub async fn signing_key(&self, candidate: &[u8]) -> Result<Vec<u8>, sqlx::Error> {
        sqlx::query("INSERT INTO signing_key (key) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(candidate)
            .execute(&self.pool)
            .await?;
        sqlx::query_scalar("SELECT key FROM signing_key")
            .fetch_one(&self.pool)
            .await
    }
}
