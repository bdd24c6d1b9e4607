//! The service layer: every operation on stored objects, whichever front
//! asks (the native API today; S3, the dashboard and repair tomorrow).
//! Fronts translate their protocol to these calls and back; none of them
//! talks to a node or to the catalogue directly.
//!
//! - this module: reading metadata, renaming, deleting, and removing
//!   copies nothing points at.
//! - `write`: storing new bytes (place, fan out, confirm, record) for a new
//!   object or a new version.
//! - `fanout`: streaming one body to several nodes at once.
//! - `replicate`: one more copy of a blob from an existing one.
//! - `read`: reading bytes from the copies, with failover, or from `cache`.
//! - `cache`: hot objects' bytes kept whole in memory.
//! - `placements`: where the latest writes went and why, for the dashboard.
//! - `buckets`, `keyed`: S3's buckets, and objects by bucket and key (put
//!   as create-or-replace, copy, listings with common prefixes); `etag`:
//!   the MD5 of an upload, taken on the write's one pass.
//! - `multipart`: S3 multipart uploads, each part written like an object;
//!   a completed object is its parts in order (`read` streams them).

mod buckets;
mod cache;
mod etag;
mod fanout;
mod keyed;
mod multipart;
mod placements;
mod read;
mod replicate;
mod write;

use std::sync::Arc;

use cdn_common::wire::{CacheStats, PlacementEntry, Visibility};
use uuid::Uuid;

use crate::catalog::{
    Catalog, ContentFilter, ContentRecord, MetadataChange, PageRequest, StrayBlob,
};
use crate::cluster::{Cluster, NodeClient};
use crate::error::ApiError;
use crate::metrics::ReplicaHealth;
use placements::RecentPlacements;

pub use cache::HotObjects;
pub use keyed::{KeyListing, KeyedObject, ListRequest};
pub use multipart::CompleteError;
pub use replicate::{BlobSpec, Owner};
pub use write::NewObject;

/// The object operations and what they need.
#[derive(Clone)]
pub struct Objects {
    catalog: Catalog,
    cluster: Arc<Cluster>,
    nodes: NodeClient,
    /// Copies written of each object.
    replication: usize,
    /// Copies found bad and made again, for `/stats`.
    health: Arc<ReplicaHealth>,
    placements: Arc<RecentPlacements>,
    /// Hot objects' bytes; what the catalogue forgets, it drops.
    hot: HotObjects,
}

impl Objects {
    pub fn new(
        catalog: Catalog,
        cluster: Arc<Cluster>,
        nodes: NodeClient,
        replication: usize,
        health: Arc<ReplicaHealth>,
        hot: HotObjects,
    ) -> Self {
        let forget = hot.clone();
        catalog.on_forget(Box::new(move |what| forget.forget(what)));
        Objects {
            catalog,
            cluster,
            nodes,
            replication,
            health,
            placements: Arc::default(),
            hot,
        }
    }

    /// What the hot-object cache holds and has served.
    pub async fn cache_stats(&self) -> CacheStats {
        self.hot.stats().await
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// The nodes' internal API, for the upkeep tasks' polls and
    /// inventories.
    pub fn node_client(&self) -> &NodeClient {
        &self.nodes
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn health(&self) -> &ReplicaHealth {
        &self.health
    }

    /// Where the latest writes went and why, newest first; private
    /// objects' only when `include_private`.
    pub fn latest_placements(&self, include_private: bool) -> Vec<PlacementEntry> {
        self.placements.latest(include_private)
    }

    pub fn replication(&self) -> usize {
        self.replication
    }

    /// An object by id; never a part of one on its own.
    pub async fn get(&self, id: Uuid) -> Result<ContentRecord, ApiError> {
        self.catalog
            .get(id)
            .await?
            .filter(|record| !record.is_part())
            .ok_or_else(|| ApiError::not_found(id))
    }

    /// One page of the objects `filter` includes, and how many it
    /// includes on all pages.
    pub async fn list(
        &self,
        filter: &ContentFilter,
        page: &PageRequest,
    ) -> Result<(Vec<ContentRecord>, u64), ApiError> {
        let (records, total) = tokio::try_join!(
            self.catalog.list(filter, page),
            self.catalog.count_matching(filter)
        )?;
        Ok((records, total.max(0) as u64))
    }

    pub async fn count(&self) -> Result<u64, ApiError> {
        Ok(self.catalog.count().await?.max(0) as u64)
    }

    /// Renames, retypes or changes the visibility of an object; its bytes
    /// stay as they are.
    pub async fn patch(
        &self,
        id: Uuid,
        filename: Option<&str>,
        content_type: Option<&str>,
        visibility: Option<Visibility>,
    ) -> Result<ContentRecord, ApiError> {
        let filename = filename.map(check_filename).transpose()?;
        let content_type = content_type.map(check_content_type).transpose()?;
        // Parts are changed only with the object they make up.
        self.get(id).await?;
        let change = MetadataChange {
            filename,
            content_type,
            visibility,
        };
        let record = self
            .catalog
            .patch(id, change)
            .await?
            .ok_or_else(|| ApiError::not_found(id))?;
        self.placements.follow(&record);
        Ok(record)
    }

    /// Removes an object and, as far as the nodes answer, its copies.
    pub async fn delete(&self, id: Uuid) -> Result<(), ApiError> {
        // Parts go only with the object (or upload) they belong to.
        self.get(id).await?;
        let strays = self
            .catalog
            .delete(id)
            .await?
            .ok_or_else(|| ApiError::not_found(id))?;
        self.placements.forget(id);
        self.remove_strays(strays).await;
        Ok(())
    }

    /// Removes copies nothing points at from their nodes now, and forgets
    /// those removed; the rest stay listed for the janitor's next round.
    pub async fn remove_strays(&self, strays: Vec<StrayBlob>) {
        let removals = strays.into_iter().map(|stray| async move {
            let Some(node) = self.cluster.node(&stray.node_id) else {
                // The node left the configuration: nothing can reach the blob.
                return (stray, true);
            };
            match self.nodes.delete_blob(&node.url, &stray.blob_key).await {
                Ok(()) => (stray, true),
                Err(err) => {
                    tracing::debug!(node = %stray.node_id, key = %stray.blob_key, error = %err, "stray blob kept for later");
                    (stray, false)
                }
            }
        });
        for (stray, removed) in futures::future::join_all(removals).await {
            if removed && let Err(err) = self.catalog.forget_stray(&stray).await {
                tracing::warn!(error = %err, "cannot record a stray blob's removal");
            }
        }
    }
}

/// A file name is metadata only: any text a person could mean as a name.
pub fn check_filename(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "a file name must be 1 to 255 bytes of text without control characters".into(),
        ));
    }
    Ok(name.to_owned())
}

/// A media type as it will be stored and served back: only its essence and
/// a plain `charset`. Other parameters, quotes and escapes are where
/// browsers and parsers read a type differently (a quoted comma can hide
/// `text/html` behind `text/plain`), so none of them is kept.
pub fn check_content_type(value: &str) -> Result<String, ApiError> {
    let bad = || ApiError::BadRequest(format!("{value:?} is not a media type such as text/plain"));
    if value.contains([',', '"', '\\']) || !value.is_ascii() {
        return Err(bad());
    }
    let mime: mime_guess::mime::Mime = value.trim().parse().map_err(|_| bad())?;
    let mut kept = mime.essence_str().to_owned();
    if let Some(charset) = mime.get_param(mime_guess::mime::CHARSET) {
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
        if !charset.as_str().chars().all(plain) {
            return Err(bad());
        }
        kept.push_str("; charset=");
        kept.push_str(charset.as_str());
    }
    Ok(kept)
}

/// The type a file name suggests. Text-like types say they are UTF-8:
/// without a charset a browser falls back to a legacy encoding and shows
/// "Grüße" as "GrÃ¼ÃŸe". A declared type is kept as declared.
fn guess_content_type(filename: &str) -> String {
    let guess = mime_guess::from_path(filename).first_or_octet_stream();
    let textual = guess.type_() == mime_guess::mime::TEXT
        || matches!(
            guess.essence_str(),
            "application/json" | "application/javascript" | "image/svg+xml"
        );
    if textual {
        format!("{}; charset=utf-8", guess.essence_str())
    } else {
        guess.essence_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_media_type_keeps_only_its_essence_and_charset() {
        assert_eq!(check_content_type("text/plain").unwrap(), "text/plain");
        assert_eq!(
            check_content_type("Text/HTML; charset=UTF-8; x=y").unwrap(),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            check_content_type("image/svg+xml").unwrap(),
            "image/svg+xml"
        );
    }

    #[test]
    fn guessed_text_types_say_they_are_utf8() {
        for (name, expected) in [
            ("grüße.txt", "text/plain; charset=utf-8"),
            ("page.HTML", "text/html; charset=utf-8"),
            ("data.json", "application/json; charset=utf-8"),
            ("drawing.svg", "image/svg+xml; charset=utf-8"),
            ("photo.png", "image/png"),
            ("archive.tar.gz", "application/gzip"),
            ("no-extension", "application/octet-stream"),
        ] {
            assert_eq!(guess_content_type(name), expected, "{name}");
        }
        let script = guess_content_type("app.js");
        assert!(
            script.ends_with("javascript; charset=utf-8"),
            "app.js: {script}"
        );
    }

    #[test]
    fn types_that_browsers_could_read_otherwise_are_refused() {
        for bad in [
            r#"text/plain;a="\";b=",text/html;c=""#,
            "text/plain, text/html",
            "text/plain; a=\"é\"",
            "text/plain; charset=\"utf-8\"",
            "text/plain; charset=a b",
            "not a type",
        ] {
            assert!(check_content_type(bad).is_err(), "{bad:?}");
        }
    }
}
