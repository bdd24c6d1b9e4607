//! Removes stray blobs from nodes: old copies of replaced or deleted
//! content, and copies of uploads that never committed; and aborts S3
//! multipart uploads abandoned for `UPLOAD_EXPIRY`, so their parts go too.

use crate::objects::{Objects, UPLOAD_EXPIRY};

/// Stray blobs handled per round, so a backlog never floods the nodes.
const BATCH: i64 = 100;

/// Removes the stray blobs that are due from the nodes that are up; the
/// rest wait their turn.
pub async fn round(objects: &Objects) {
    match objects.expire_uploads(UPLOAD_EXPIRY).await {
        Ok(0) => {}
        Ok(aborted) => tracing::info!(uploads = aborted, "aborted abandoned multipart uploads"),
        Err(err) => tracing::warn!(error = %err, "cannot expire multipart uploads"),
    }
    let down = objects.cluster().ids_where(|node| !node.is_up());
    match objects.catalog().due_strays(&down, BATCH).await {
        Ok(strays) => objects.remove_strays(strays).await,
        Err(err) => tracing::warn!(error = %err, "cannot list stray blobs"),
    }
}
