//! The content catalogue in PostgreSQL: objects, where their copies live,
//! and the stray blobs still to be removed from nodes. Only this module
//! speaks SQL.
//!
//! - `content`: objects and their versions (insert, replace, rename,
//!   delete, read).
//! - `listing`: filtered, sorted pages of objects, and their count.
//! - `copies`: what is known of each copy (`replica`), and what the
//!   repair task asks and changes.
//! - `strays`: blobs on nodes that nothing points at (`stray_blob`), to
//!   be removed.
//! - `tokens`: API tokens by their secret's hash, and the key presigned
//!   links are signed with; `access_keys`: the S3 API's access keys.
//! - `buckets`: S3 buckets; `keyed`: objects by bucket and key (put as
//!   create-or-replace, and listings in key order).
//! - `multipart`: S3 multipart uploads, their parts (content rows of
//!   their own) and the objects completed from them.
//! - `memory`: the objects read, kept until a change forgets them, so
//!   hot reads skip the database; `changes`: every change announced to
//!   all distributors (`NOTIFY`), and followed (`LISTEN`).

mod access_keys;
mod buckets;
mod changes;
mod content;
mod copies;
mod keyed;
mod listing;
mod memory;
mod multipart;
mod strays;
mod tokens;

use std::sync::Arc;

use cdn_common::wire::{ReplicaStatus, Visibility};
use cdn_common::{BlobKey, NodeId, Sha256};
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

pub use access_keys::AccessKeyRecord;
pub use buckets::BucketRemoval;
pub use buckets::{BucketRecord, DEFAULT_BUCKET};
pub use changes::ChangeFollower;
pub use content::MetadataChange;
pub use copies::Replication;
pub use keyed::{KeyPageRequest, KeyedWrite, NewEntry};
pub use listing::{After, ContentFilter, PageRequest, SortKey};
pub use memory::{ForgetHook, Forgotten};
pub use multipart::{Completion, PartRecord, UploadRecord};
pub use strays::StrayBlob;
pub use tokens::TokenRecord;

use memory::ContentMemory;

/// Migrations from `migrations/`, built into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

#[derive(Clone)]
pub struct Catalog {
    pool: PgPool,
    /// Objects read, kept until a change forgets them, so that a read of
    /// popular content does not ask PostgreSQL each time.
    memory: Arc<ContentMemory>,
}

/// One object as the catalogue has it.
#[derive(Clone, Debug)]
pub struct ContentRecord {
    pub id: Uuid,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: Sha256,
    pub version: u32,
    pub blob_key: BlobKey,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub replicas: Vec<ReplicaRecord>,
    pub visibility: Visibility,
    /// The S3 key it is found under in its bucket (native uploads: their
    /// id, in the default bucket).
    pub key: String,
    /// Hex MD5 of the bytes, when known: the S3 ETag.
    pub md5: Option<String>,
    /// The S3 headers kept with the object, by lowercase name.
    pub headers: ObjectHeaders,
    /// The parts, in order, of an object completed from a multipart
    /// upload; such an object has no blob (nor copies) of its own.
    pub segments: Vec<Segment>,
    /// Kept in the parts' bucket.
    pub bucket_is_parts: bool,
}

impl ContentRecord {
    /// Whether this is a part of a multipart upload or of an object made
    /// of parts, which only the S3 front and repair see.
    pub fn is_part(&self) -> bool {
        self.bucket_is_parts
    }
}

/// One part of an object made of parts: a content row of its own, with
/// its blob and copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub part_id: Uuid,
    pub size: u64,
}

/// Headers an S3 writer sent that are given back on reads.
pub type ObjectHeaders = std::collections::BTreeMap<String, String>;

/// What is known of one copy.
#[derive(Clone, Debug)]
pub struct ReplicaRecord {
    pub node_id: NodeId,
    pub state: ReplicaState,
}

impl ReplicaRecord {
    pub fn is_ok(&self) -> bool {
        self.state == ReplicaState::Ok
    }
}

/// The `replica_state` type in SQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "replica_state", rename_all = "lowercase")]
pub enum ReplicaState {
    /// The node confirmed a whole copy with the object's SHA-256.
    Ok,
    /// The node no longer has the copy.
    Missing,
    /// The node has bytes that do not match the SHA-256.
    Corrupt,
}

impl From<ReplicaState> for ReplicaStatus {
    fn from(state: ReplicaState) -> Self {
        match state {
            ReplicaState::Ok => ReplicaStatus::Ok,
            ReplicaState::Missing => ReplicaStatus::Missing,
            ReplicaState::Corrupt => ReplicaStatus::Corrupt,
        }
    }
}

/// The bytes of a new object or version, as written to the nodes.
#[derive(Clone, Debug)]
pub struct NewBytes {
    pub blob_key: BlobKey,
    pub size: u64,
    pub sha256: Sha256,
    /// Hex MD5 of the same bytes.
    pub md5: String,
    /// The nodes that confirmed a whole copy.
    pub nodes: Vec<NodeId>,
}

/// A `content` row with its copies as two arrays in node order, so that
/// one query reads an object whole.
#[derive(FromRow)]
struct ContentRow {
    id: Uuid,
    filename: String,
    content_type: String,
    size: i64,
    sha256: Sha256,
    version: i32,
    blob_key: BlobKey,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    visibility: Visibility,
    key: String,
    md5: Option<String>,
    headers: sqlx::types::Json<ObjectHeaders>,
    replica_nodes: Vec<NodeId>,
    replica_states: Vec<ReplicaState>,
    part_ids: Vec<Uuid>,
    part_sizes: Vec<i64>,
    bucket_is_parts: bool,
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
            // The table's CHECKs keep both non-negative.
            size: row.size.max(0) as u64,
            sha256: row.sha256,
            version: row.version.max(1) as u32,
            blob_key: row.blob_key,
            created_at: row.created_at,
            updated_at: row.updated_at,
            replicas,
            visibility: row.visibility,
            key: row.key,
            md5: row.md5,
            headers: row.headers.0,
            segments: row
                .part_ids
                .into_iter()
                .zip(row.part_sizes)
                .map(|(part_id, size)| Segment {
                    part_id,
                    size: size.max(0) as u64,
                })
                .collect(),
            bucket_is_parts: row.bucket_is_parts,
        }
    }
}

/// Reads `ContentRow`s from `content c`; a query adds its own conditions.
/// The parts' bucket is `PARTS_BUCKET`, spelled out as a constant needs.
const SELECT_CONTENT: &str = "
    SELECT c.id, c.filename, c.content_type, c.size, c.sha256, c.version, c.blob_key,
           c.created_at, c.updated_at, c.visibility, c.object_key AS key, c.md5, c.headers,
           coalesce(r.nodes, '{}') AS replica_nodes, coalesce(r.states, '{}') AS replica_states,
           coalesce(s.parts, '{}') AS part_ids, coalesce(s.sizes, '{}') AS part_sizes,
           c.bucket = 'multipart..parts' AS bucket_is_parts
    FROM content c
    LEFT JOIN LATERAL (
        SELECT array_agg(node_id ORDER BY node_id) AS nodes,
               array_agg(state ORDER BY node_id) AS states
        FROM replica WHERE content_id = c.id
    ) r ON true
    LEFT JOIN LATERAL (
        SELECT array_agg(s.part_id ORDER BY s.position) AS parts,
               array_agg(p.size ORDER BY s.position) AS sizes
        FROM content_segment s JOIN content p ON p.id = s.part_id
        WHERE s.content_id = c.id
    ) s ON true";

impl Catalog {
    pub fn new(pool: PgPool) -> Self {
        Catalog {
            pool,
            memory: Arc::default(),
        }
    }

    /// Tells `hook` of every object forgotten by a change, here or on
    /// another distributor, so what is kept of it elsewhere goes too.
    pub fn on_forget(&self, hook: ForgetHook) {
        self.memory.on_forget(hook);
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(drop)
    }

    /// Runs a change on a task of its own, so that it completes even when
    /// the request that asked for it is dropped (a client that hung up): a
    /// transaction cut off between two statements would keep its row
    /// locks until its connection is used again.
    async fn to_completion<T, Fut>(
        &self,
        change: impl FnOnce(Catalog) -> Fut,
    ) -> Result<T, sqlx::Error>
    where
        Fut: Future<Output = Result<T, sqlx::Error>> + Send + 'static,
        T: Send + 'static,
    {
        match tokio::spawn(change(self.clone())).await {
            Ok(outcome) => outcome,
            Err(err) => match err.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(err) => Err(sqlx::Error::WorkerCrashed).inspect_err(|_| {
                    tracing::warn!(error = %err, "a catalogue change was cancelled");
                }),
            },
        }
    }

    /// The database's clock, so that times compared in SQL agree.
    pub async fn now(&self) -> Result<DateTime<Utc>, sqlx::Error> {
        sqlx::query_scalar("SELECT now()")
            .fetch_one(&self.pool)
            .await
    }
}
