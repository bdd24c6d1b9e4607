//! Objects by bucket and key, for the S3 front: a put creates the key or
//! gives it a new version, through the same write as every upload; a copy
//! streams one object's bytes into that write; a listing walks keys in
//! order and folds those under a delimiter into common prefixes.

use std::fmt::Display;

use bytes::Bytes;
use cdn_common::wire::Visibility;
use futures::Stream;
use uuid::Uuid;

use super::{Objects, check_content_type, guess_content_type};
use crate::catalog::{
    BucketRecord, ContentRecord, KeyPageRequest, KeyedWrite, NewEntry, ObjectHeaders,
};
use crate::error::ApiError;

/// What an S3 writer says of new bytes besides the bytes.
#[derive(Clone, Debug, Default)]
pub struct KeyedObject {
    pub content_type: Option<String>,
    /// The length announced, so a node without room refuses at once.
    pub len: Option<u64>,
    /// Headers given back on reads (`x-amz-meta-*`, `Cache-Control`, …).
    pub headers: ObjectHeaders,
}

/// One page of a listing by key.
#[derive(Clone, Debug, Default)]
pub struct ListRequest {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// Start after this key (or, when it is a common prefix, after every
    /// key under it).
    pub after: Option<String>,
    /// 1 to 1000 entries, objects and common prefixes together.
    pub max_keys: usize,
}

#[derive(Clone, Debug, Default)]
pub struct KeyListing {
    pub objects: Vec<ContentRecord>,
    pub common_prefixes: Vec<String>,
    /// Whether more entries follow; then `last` is where to go on from.
    pub truncated: bool,
    pub last: Option<String>,
}

/// The most entries one listing page returns, as S3.
pub const MAX_KEYS: usize = 1000;

impl Objects {
    /// Stores `body` under `key` in `bucket`: a new object, or a new
    /// version of the one there. Its visibility follows the bucket's.
    pub async fn put_keyed<S, E>(
        &self,
        bucket: &BucketRecord,
        key: &str,
        new: KeyedObject,
        body: S,
    ) -> Result<ContentRecord, ApiError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Display,
    {
        let filename = filename_of(key);
        let content_type = match new.content_type.as_deref() {
            Some(given) => check_content_type(given)?,
            None => guess_content_type(&filename),
        };
        let (bytes, considered) = self.write_bytes(new.len, body).await?;
        let entry = NewEntry {
            filename,
            content_type,
            visibility: if bucket.public {
                Visibility::Public
            } else {
                Visibility::Private
            },
            bucket: bucket.name.clone(),
            key: key.to_owned(),
            headers: new.headers,
        };
        let nodes = bytes.nodes.clone();
        match self
            .catalog
            .put_keyed(Uuid::now_v7(), entry, bytes.clone())
            .await
        {
            Ok(KeyedWrite::Created(record)) => {
                self.placements
                    .record(&record, self.replication, nodes, considered);
                Ok(record)
            }
            Ok(KeyedWrite::Replaced(record, old_copies)) => {
                self.placements.follow(&record);
                self.placements
                    .record(&record, self.replication, nodes, considered);
                self.remove_strays(old_copies).await;
                Ok(record)
            }
            Ok(KeyedWrite::NoBucket) => {
                self.abandon(&bytes.blob_key, &bytes.nodes).await;
                Err(ApiError::NotFound(format!("no bucket {}", bucket.name)))
            }
            Err(err) => {
                self.abandon(&bytes.blob_key, &bytes.nodes).await;
                Err(err.into())
            }
        }
    }

    pub async fn get_keyed(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ContentRecord>, ApiError> {
        Ok(self.catalog.get_keyed(bucket, key).await?)
    }

    /// Removes the object under `key`; `false` when there was none.
    pub async fn delete_keyed(&self, bucket: &str, key: &str) -> Result<bool, ApiError> {
        let Some(record) = self.get_keyed(bucket, key).await? else {
            return Ok(false);
        };
        match self.delete(record.id).await {
            Ok(()) => Ok(true),
            Err(ApiError::NotFound(_)) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Writes `source`'s bytes under `key` in `bucket`, streamed from its
    /// copies into the one write path.
    pub async fn copy_keyed(
        &self,
        source: &ContentRecord,
        bucket: &BucketRecord,
        key: &str,
        mut new: KeyedObject,
    ) -> Result<ContentRecord, ApiError> {
        let body = Box::pin(self.read(source, None).await?);
        new.len = Some(source.size);
        self.put_keyed(bucket, key, new, body).await
    }

    /// One page of `bucket`'s keys in byte order, those sharing a
    /// delimited prefix folded into one common prefix.
    pub async fn list_keyed(
        &self,
        bucket: &str,
        request: &ListRequest,
    ) -> Result<KeyListing, ApiError> {
        let max_keys = request.max_keys.min(MAX_KEYS);
        let mut listing = KeyListing::default();
        let delimiter = request.delimiter.as_deref().filter(|d| !d.is_empty());
        let mut start = request.after.as_ref().map(|after| {
            match delimiter.and_then(|d| common_prefix(after, &request.prefix, d)) {
                Some(prefix) if prefix == *after => KeyPageRequest::From(past(&prefix)),
                _ => KeyPageRequest::After(after.clone()),
            }
        });
        if max_keys == 0 {
            return Ok(listing);
        }
        // Each round either fills the page or ends at a common prefix, so
        // there are at most `max_keys` + 1 rounds.
        for _ in 0..=max_keys {
            let wanted = max_keys - listing.objects.len() - listing.common_prefixes.len();
            let page = self
                .catalog
                .list_keyed(bucket, &request.prefix, start.as_ref(), wanted as i64 + 1)
                .await?;
            let mut skipped_to = None;
            for record in page {
                if listing.objects.len() + listing.common_prefixes.len() == max_keys {
                    listing.truncated = true;
                    return Ok(listing);
                }
                if let Some(prefix) =
                    delimiter.and_then(|d| common_prefix(&record.key, &request.prefix, d))
                {
                    skipped_to = Some(past(&prefix));
                    listing.last = Some(prefix.clone());
                    listing.common_prefixes.push(prefix);
                    break;
                }
                listing.last = Some(record.key.clone());
                listing.objects.push(record);
            }
            // A whole page without a common prefix returned above.
            match skipped_to {
                Some(next) => start = Some(KeyPageRequest::From(next)),
                None => return Ok(listing),
            }
        }
        Ok(listing)
    }
}

/// The part of `key` after `prefix` up to and including the first
/// `delimiter`, with the prefix: the common prefix `key` is folded into.
fn common_prefix(key: &str, prefix: &str, delimiter: &str) -> Option<String> {
    let rest = key.strip_prefix(prefix)?;
    let at = rest.find(delimiter)?;
    Some(key[..prefix.len() + at + delimiter.len()].to_owned())
}

/// The first key after every key that starts with `prefix`: its last
/// character moved up by one (UTF-8 orders bytes as code points).
fn past(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = (last as u32 + 1..=0x10FFFF).find_map(char::from_u32) {
            chars.push(next);
            return chars.into_iter().collect();
        }
    }
    // Only a prefix of nothing but U+10FFFF gets here: past everything.
    "\u{10FFFF}".repeat(prefix.chars().count() + 1)
}

/// The file name an S3 key stands for: its last non-empty segment, within
/// the 255 bytes a name may have, control characters replaced.
pub(super) fn filename_of(key: &str) -> String {
    let segment = key
        .rsplit('/')
        .find(|part| !part.trim().is_empty())
        .unwrap_or("object");
    let mut name = String::new();
    for c in segment.trim().chars() {
        let c = if c.is_control() { '_' } else { c };
        if name.len() + c.len_utf8() > 255 {
            break;
        }
        name.push(c);
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fold_into_the_prefix_up_to_the_delimiter() {
        assert_eq!(common_prefix("a/b/c", "", "/").as_deref(), Some("a/"));
        assert_eq!(common_prefix("a/b/c", "a/", "/").as_deref(), Some("a/b/"));
        assert_eq!(common_prefix("a/b", "a/", "/"), None);
        assert_eq!(common_prefix("x/b", "a/", "/"), None);
    }

    #[test]
    fn past_a_prefix_comes_after_all_its_keys() {
        assert_eq!(past("a/"), "a0");
        assert!(past("é/").as_str() > "é/\u{10FFFF}");
        assert!(past("a\u{10FFFF}").as_str() > "a\u{10FFFF}z");
    }

    #[test]
    fn a_key_names_its_file_by_its_last_segment() {
        assert_eq!(filename_of("photos/2024/cat.jpg"), "cat.jpg");
        assert_eq!(filename_of("dir/"), "dir");
        assert_eq!(filename_of("a\tb"), "a_b");
        assert_eq!(filename_of(&"é".repeat(300)).len(), 254);
    }
}
