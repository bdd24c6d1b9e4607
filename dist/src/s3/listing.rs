//! Listings of a bucket's keys: ListObjectsV2 (continuation tokens),
//! ListObjects (markers) and ListObjectVersions (one version per key: no
//! versioning). Keys come in byte order; those that share a prefix up to
//! the delimiter are folded into one CommonPrefix.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::CdnS3;
use super::buckets::{owner, timestamp};
use super::errors::internal;
use super::objects::etag;
use crate::objects::{KeyListing, ListRequest};

/// What `encoding-type=url` leaves as it is, as S3 does.
const URL_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Prefixes, delimiters and markers are keys or parts of them.
const MAX_KEY_BYTES: usize = 1024;

impl CdnS3 {
    async fn list(
        &self,
        bucket: &str,
        prefix: Option<String>,
        delimiter: Option<String>,
        after: Option<String>,
        max_keys: Option<i32>,
    ) -> S3Result<(KeyListing, i32)> {
        self.existing_bucket(bucket).await?;
        let too_long =
            |text: &Option<String>| text.as_ref().is_some_and(|t| t.len() > MAX_KEY_BYTES);
        if too_long(&prefix) || too_long(&delimiter) || too_long(&after) {
            return Err(s3_error!(
                InvalidArgument,
                "a prefix, delimiter or marker is too long"
            ));
        }
        let max_keys = match max_keys {
            None => 1000,
            Some(n) if n < 0 => {
                return Err(s3_error!(InvalidArgument, "max-keys must not be negative"));
            }
            Some(n) => n.min(1000),
        };
        let request = ListRequest {
            prefix: prefix.unwrap_or_default(),
            delimiter,
            after,
            max_keys: max_keys as usize,
        };
        let listing = self
            .objects
            .list_keyed(bucket, &request)
            .await
            .map_err(internal)?;
        Ok((listing, max_keys))
    }

    pub(super) async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let url = wants_url(input.encoding_type.as_ref())?;
        // The token is where the last page ended; it wins over start-after.
        let after = match &input.continuation_token {
            Some(token) => Some(decode_token(token)?),
            None => input.start_after.clone(),
        };
        let (listing, max_keys) = self
            .list(
                &input.bucket,
                input.prefix.clone(),
                input.delimiter.clone(),
                after,
                input.max_keys,
            )
            .await?;
        let key_count = (listing.objects.len() + listing.common_prefixes.len()) as i32;
        let next = listing
            .truncated
            .then(|| {
                listing
                    .last
                    .as_deref()
                    .map(|last| URL_SAFE_NO_PAD.encode(last))
            })
            .flatten();
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(encode(url, input.prefix.unwrap_or_default())),
            delimiter: input.delimiter.map(|d| encode(url, d)),
            start_after: input.start_after.map(|s| encode(url, s)),
            encoding_type: input.encoding_type,
            max_keys: Some(max_keys),
            key_count: Some(key_count),
            continuation_token: input.continuation_token,
            next_continuation_token: next,
            is_truncated: Some(listing.truncated),
            contents: Some(objects(&listing, url)),
            common_prefixes: Some(prefixes(&listing, url)),
            ..Default::default()
        }))
    }

    pub(super) async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let input = req.input;
        let url = wants_url(input.encoding_type.as_ref())?;
        let (listing, max_keys) = self
            .list(
                &input.bucket,
                input.prefix.clone(),
                input.delimiter.clone(),
                input.marker.clone(),
                input.max_keys,
            )
            .await?;
        // S3 gives NextMarker only with a delimiter; clients use the last
        // key otherwise. Giving it always does no harm.
        let next_marker = listing
            .truncated
            .then(|| listing.last.clone().map(|last| encode(url, last)))
            .flatten();
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(encode(url, input.prefix.unwrap_or_default())),
            delimiter: input.delimiter.map(|d| encode(url, d)),
            marker: Some(encode(url, input.marker.unwrap_or_default())),
            encoding_type: input.encoding_type,
            max_keys: Some(max_keys),
            is_truncated: Some(listing.truncated),
            next_marker,
            contents: Some(objects(&listing, url)),
            common_prefixes: Some(prefixes(&listing, url)),
            ..Default::default()
        }))
    }

    pub(super) async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let input = req.input;
        let url = wants_url(input.encoding_type.as_ref())?;
        let (listing, max_keys) = self
            .list(
                &input.bucket,
                input.prefix.clone(),
                input.delimiter.clone(),
                input.key_marker.clone(),
                input.max_keys,
            )
            .await?;
        let versions = listing
            .objects
            .iter()
            .map(|record| ObjectVersion {
                key: Some(encode(url, record.key.clone())),
                e_tag: Some(etag(record)),
                size: Some(record.size as i64),
                last_modified: Some(timestamp(record.updated_at)),
                is_latest: Some(true),
                version_id: Some("null".into()),
                owner: Some(owner()),
                storage_class: Some(ObjectVersionStorageClass::from_static(
                    ObjectVersionStorageClass::STANDARD,
                )),
                ..Default::default()
            })
            .collect();
        let next_key_marker = listing
            .truncated
            .then(|| listing.last.clone().map(|last| encode(url, last)))
            .flatten();
        Ok(S3Response::new(ListObjectVersionsOutput {
            name: Some(input.bucket),
            prefix: Some(encode(url, input.prefix.unwrap_or_default())),
            delimiter: input.delimiter.map(|d| encode(url, d)),
            key_marker: input.key_marker.map(|m| encode(url, m)),
            encoding_type: input.encoding_type,
            max_keys: Some(max_keys),
            is_truncated: Some(listing.truncated),
            next_version_id_marker: next_key_marker.as_ref().map(|_| "null".into()),
            next_key_marker,
            versions: Some(versions),
            common_prefixes: Some(prefixes(&listing, url)),
            ..Default::default()
        }))
    }
}

fn objects(listing: &KeyListing, url: bool) -> Vec<Object> {
    listing
        .objects
        .iter()
        .map(|record| Object {
            key: Some(encode(url, record.key.clone())),
            e_tag: Some(etag(record)),
            size: Some(record.size as i64),
            last_modified: Some(timestamp(record.updated_at)),
            owner: Some(owner()),
            storage_class: Some(ObjectStorageClass::from_static(
                ObjectStorageClass::STANDARD,
            )),
            ..Default::default()
        })
        .collect()
}

fn prefixes(listing: &KeyListing, url: bool) -> Vec<CommonPrefix> {
    listing
        .common_prefixes
        .iter()
        .map(|prefix| CommonPrefix {
            prefix: Some(encode(url, prefix.clone())),
        })
        .collect()
}

fn wants_url(encoding: Option<&EncodingType>) -> S3Result<bool> {
    match encoding.map(EncodingType::as_str) {
        None => Ok(false),
        Some(EncodingType::URL) => Ok(true),
        Some(_) => Err(s3_error!(InvalidArgument, "encoding-type may only be url")),
    }
}

fn encode(url: bool, text: String) -> String {
    if url {
        utf8_percent_encode(&text, URL_KEEP).to_string()
    } else {
        text
    }
}

fn decode_token(token: &str) -> S3Result<String> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|key| key.len() <= MAX_KEY_BYTES)
        .ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "The continuation token provided is incorrect"
            )
        })
}
