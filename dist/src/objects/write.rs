//! Storing new bytes: a new object, or a new version of one.
//!
//! The bytes are placed on `REPLICATION` nodes, streamed to all of them at
//! once, and confirmed by each node's size and SHA-256; a node that fails
//! mid-write is made up for by a copy from one that did not. Only then is
//! the object recorded. On any failure no copy is left behind: each was
//! listed as stray before its first byte.

use std::fmt::Display;

use bytes::Bytes;
use cdn_common::wire::{ConsideredNode, Visibility};
use cdn_common::{BlobKey, Fingerprint, NodeId};
use futures::Stream;
use uuid::Uuid;

use super::etag::Md5Stream;
use super::fanout::{TransferError, write_copies};
use super::replicate::{BlobSpec, Owner};
use super::{Objects, check_content_type, check_filename, guess_content_type};
use crate::catalog::{ContentRecord, DEFAULT_BUCKET, MetadataChange, NewBytes, NewEntry};
use crate::cluster::NodeCallError;
use crate::error::ApiError;
use crate::metrics;

/// What a writer says of new bytes besides the bytes themselves.
#[derive(Clone, Debug, Default)]
pub struct NewObject {
    pub filename: Option<String>,
    pub content_type: Option<String>,
    /// The length announced, if any, so a node without room refuses before
    /// the first byte.
    pub len: Option<u64>,
    /// Public unless said; a replacement keeps what was there.
    pub visibility: Option<Visibility>,
}

impl NewObject {
    /// The name and type, each checked when given.
    fn checked(&self) -> Result<(Option<String>, Option<String>), ApiError> {
        Ok((
            self.filename.as_deref().map(check_filename).transpose()?,
            self.content_type
                .as_deref()
                .map(check_content_type)
                .transpose()?,
        ))
    }
}

impl Objects {
    /// Stores a new object. Its name defaults to its id, its type to one
    /// guessed from the name.
    pub async fn create<S, E>(&self, new: NewObject, body: S) -> Result<ContentRecord, ApiError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Display,
    {
        let (filename, content_type) = new.checked()?;
        let (bytes, considered) = self.write_bytes(new.len, body).await?;
        let id = Uuid::now_v7();
        let filename = filename.unwrap_or_else(|| id.to_string());
        let content_type = content_type.unwrap_or_else(|| guess_content_type(&filename));
        // Native uploads land in the default bucket under their id.
        let entry = NewEntry {
            filename,
            content_type,
            visibility: new.visibility.unwrap_or_default(),
            bucket: DEFAULT_BUCKET.to_owned(),
            key: id.to_string(),
            headers: Default::default(),
        };
        let inserted = self.catalog.insert(id, entry, bytes.clone()).await;
        let inserted = inserted.and_then(|record| record.ok_or(sqlx::Error::RowNotFound));
        match inserted {
            Ok(record) => {
                self.placements
                    .record(&record, self.replication, bytes.nodes, considered);
                Ok(record)
            }
            Err(err) => {
                self.abandon(&bytes.blob_key, &bytes.nodes).await;
                Err(err.into())
            }
        }
    }

    /// Replaces an object's bytes with a new version. An explicit type
    /// wins; a new name without one gets its type guessed; otherwise the
    /// type stays as it was.
    pub async fn replace<S, E>(
        &self,
        id: Uuid,
        new: NewObject,
        body: S,
    ) -> Result<ContentRecord, ApiError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Display,
    {
        let (filename, content_type) = new.checked()?;
        let content_type = content_type.or_else(|| filename.as_deref().map(guess_content_type));
        // Refuse before any byte is written when there is nothing to replace.
        self.get(id).await?;
        let (bytes, considered) = self.write_bytes(new.len, body).await?;
        let change = MetadataChange {
            filename,
            content_type,
            visibility: new.visibility,
        };
        match self.catalog.replace(id, change, bytes.clone()).await {
            Ok(Some((record, old_copies))) => {
                // A replacement may change the name and visibility earlier
                // entries show.
                self.placements.follow(&record);
                self.placements
                    .record(&record, self.replication, bytes.nodes, considered);
                self.remove_strays(old_copies).await;
                Ok(record)
            }
            Ok(None) => {
                self.abandon(&bytes.blob_key, &bytes.nodes).await;
                Err(ApiError::not_found(id))
            }
            Err(err) => {
                self.abandon(&bytes.blob_key, &bytes.nodes).await;
                Err(err.into())
            }
        }
    }

    /// Places, writes and confirms the copies of one body of `len` bytes
    /// (when known), and says how the placement rule saw the nodes. On
    /// failure no copy is left behind.
    pub(super) async fn write_bytes<S, E>(
        &self,
        len: Option<u64>,
        body: S,
    ) -> Result<(NewBytes, Vec<ConsideredNode>), ApiError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Display,
    {
        let chosen = self.cluster.place(len, self.replication, &[])?;
        metrics::placed(&chosen);
        let chosen_ids: Vec<NodeId> = chosen.iter().map(|node| node.id.clone()).collect();
        // Before the write's own figures arrive: what the rule compared.
        let considered = self.cluster.explain_placement(len, &chosen_ids);
        let key = BlobKey::generate();
        self.catalog.expect_blobs(&chosen_ids, &key).await?;
        // The MD5 (S3's ETag) is taken on the same pass as the SHA-256.
        let mut body = Md5Stream::new(body);
        let fanout = match write_copies(&self.nodes, &chosen, &key, len, &mut body).await {
            Ok(fanout) => fanout,
            Err(err) => {
                self.abandon(&key, &chosen_ids).await;
                return Err(transfer_error(err));
            }
        };
        let mut holders = fanout.stored;
        let failed: Vec<NodeId> = chosen_ids
            .iter()
            .filter(|id| holders.iter().all(|(node, _)| &node.id != *id))
            .cloned()
            .collect();
        if !failed.is_empty() {
            for err in &fanout.failed {
                tracing::warn!(%key, error = %err, "a copy failed; placing it elsewhere");
            }
            self.abandon(&key, &failed).await;
        }

        // Make up for nodes that failed mid-write by copying from one that
        // did not, so the upload still ends with every copy it promised.
        if holders.len() < self.replication {
            let blob = BlobSpec {
                key: key.clone(),
                expected: fanout.written,
                owner: Owner::Upload,
            };
            let mut tried = chosen_ids.clone();
            let wanted = self.replication - holders.len();
            let replicated = self
                .replicate(&blob, holders[0].0, &mut tried, wanted)
                .await?;
            holders.extend(replicated.made);
        }
        let holder_ids: Vec<NodeId> = holders.iter().map(|(node, _)| node.id.clone()).collect();
        if holders.len() < self.replication {
            self.abandon(&key, &holder_ids).await;
            return Err(ApiError::Unavailable(format!(
                "only {} of {} copies could be written",
                holders.len(),
                self.replication
            )));
        }
        for (node, stored) in &holders {
            self.cluster.note_stored(&node.id, stored);
        }
        let Fingerprint { size, sha256 } = fanout.written;
        let bytes = NewBytes {
            blob_key: key,
            size,
            sha256,
            md5: body.finish(),
            nodes: holder_ids,
        };
        Ok((bytes, considered))
    }

    /// Makes the copies of `key` on `nodes` stray, due now, and removes
    /// them at once where possible. Should PostgreSQL be away, they stay
    /// listed as the upload's, due later (and at the next start-up).
    pub(super) async fn abandon(&self, key: &BlobKey, nodes: &[NodeId]) {
        match self.catalog.abandon_blobs(key, nodes).await {
            Ok(strays) => self.remove_strays(strays).await,
            Err(err) => tracing::warn!(error = %err, %key, "cannot mark copies for removal yet"),
        }
    }
}

fn transfer_error(err: TransferError) -> ApiError {
    match err {
        TransferError::Body(_) => ApiError::BadRequest(err.to_string()),
        TransferError::Node {
            error: NodeCallError::Full(_),
            ..
        } => ApiError::InsufficientStorage(err.to_string()),
        TransferError::Node {
            error: NodeCallError::Unreachable(_),
            ..
        } => ApiError::Unavailable(err.to_string()),
        TransferError::Node { .. } | TransferError::Mismatch { .. } => {
            ApiError::BadGateway(err.to_string())
        }
    }
}
