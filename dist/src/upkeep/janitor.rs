//! Removes stray blobs from nodes: old copies of replaced or deleted
//! content, and copies of uploads that never committed; and aborts S3
//! multipart uploads left unfinished for `MULTIPART_EXPIRY`, so their
//! parts go too.

use std::time::Duration;

use crate::objects::Objects;

/// Stray blobs handled per round, so a backlog never floods the nodes.
const BATCH: i64 = 100;

/// Removes the stray blobs that are due from the nodes that are up; the
/// rest wait their turn.
pub async fn round(objects: &Objects, upload_expiry: Duration) {
    match objects.expire_uploads(upload_expiry).await {
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
