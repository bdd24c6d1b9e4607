//! S3 multipart uploads: each part is written like any object (placed,
//! streamed to its nodes, confirmed, recorded as a content row of its
//! own); completing lists the parts as the object's segments, in order, so
//! no byte is copied and an object may be larger than any one node. A
//! part may also be copied from (a range of) another object.

use std::fmt::Display;
use std::time::Duration;

use bytes::Bytes;
use cdn_common::wire::Visibility;
use cdn_common::{BlobKey, Hasher};
use futures::{Stream, StreamExt};
use md5::{Digest, Md5};
use uuid::Uuid;

use super::{Objects, check_content_type, guess_content_type, keyed::filename_of};
use crate::catalog::{
    BucketRecord, Completion, ContentRecord, NewBytes, NewEntry, ObjectHeaders, PartRecord,
    UploadRecord,
};
use crate::error::ApiError;

/// S3's smallest part, except the last.
pub const MIN_PART_SIZE: u64 = 5 << 20;

/// Why a completion was refused, in S3's terms.
#[derive(Debug)]
pub enum CompleteError {
    NoSuchUpload,
    /// A part not uploaded, or with another ETag.
    InvalidPart(i32),
    /// Part numbers not in ascending order.
    InvalidPartOrder,
    /// A part before the last is under 5 MiB.
    EntityTooSmall(i32),
    /// A part was uploaded again while the upload was being completed.
    PartsChanged,
    Service(ApiError),
}

impl From<ApiError> for CompleteError {
    fn from(err: ApiError) -> Self {
        CompleteError::Service(err)
    }
}

impl From<sqlx::Error> for CompleteError {
    fn from(err: sqlx::Error) -> Self {
        CompleteError::Service(err.into())
    }
}

impl Objects {
    /// Starts an upload to `key`; its id.
    pub async fn create_upload(
        &self,
        bucket: &BucketRecord,
        key: &str,
        content_type: Option<&str>,
        headers: &ObjectHeaders,
    ) -> Result<Uuid, ApiError> {
        let content_type = content_type.map(check_content_type).transpose()?;
        let id = Uuid::now_v7();
        if !self
            .catalog
            .create_upload(id, &bucket.name, key, content_type.as_deref(), headers)
            .await?
        {
            return Err(ApiError::NotFound(format!("no bucket {}", bucket.name)));
        }
        Ok(id)
    }

    /// The upload `id`, if it is one to `key` in `bucket`.
    pub async fn upload(
        &self,
        id: &str,
        bucket: &str,
        key: &str,
    ) -> Result<Option<UploadRecord>, ApiError> {
        let Ok(id) = Uuid::try_parse(id) else {
            return Ok(None);
        };
        let upload = self.catalog.upload(id).await?;
        Ok(upload.filter(|upload| upload.bucket == bucket && upload.key == key))
    }

    /// Stores one part through the one write path; its MD5 (the part's
    /// ETag). A part of the same number before it is dropped.
    pub async fn upload_part<S, E>(
        &self,
        upload: &UploadRecord,
        part_number: i32,
        len: Option<u64>,
        body: S,
    ) -> Result<String, ApiError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Display,
    {
        let (bytes, _) = self.write_bytes(len, body).await?;
        let md5 = bytes.md5.clone();
        match self
            .catalog
            .add_part(upload.id, part_number, Uuid::now_v7(), bytes.clone())
            .await
        {
            Ok(Some(replaced)) => {
                self.remove_strays(replaced).await;
                Ok(md5)
            }
            Ok(None) => {
                self.abandon(&bytes.blob_key, &bytes.nodes).await;
                Err(ApiError::NotFound(
                    "the upload was completed or aborted".into(),
                ))
            }
            Err(err) => {
                self.abandon(&bytes.blob_key, &bytes.nodes).await;
                Err(err.into())
            }
        }
    }

    /// Stores the inclusive `range` of `source` (all of it when `None`) as
    /// a part, streamed from its copies into the one write path.
    pub async fn copy_part(
        &self,
        source: &ContentRecord,
        range: Option<(u64, u64)>,
        upload: &UploadRecord,
        part_number: i32,
    ) -> Result<String, ApiError> {
        let len = match range {
            Some((first, last)) => last - first + 1,
            None => source.size,
        };
        let body = Box::pin(self.read(source, range).await?);
        self.upload_part(upload, part_number, Some(len), body).await
    }

    pub async fn parts(&self, upload: &UploadRecord) -> Result<Vec<PartRecord>, ApiError> {
        Ok(self.catalog.parts(upload.id).await?)
    }

    /// A bucket's uploads under `prefix`, by key then id, after `after`.
    pub async fn uploads(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<(&str, Uuid)>,
        limit: usize,
    ) -> Result<Vec<UploadRecord>, ApiError> {
        Ok(self
            .catalog
            .uploads(bucket, prefix, after, limit as i64)
            .await?)
    }

    /// The uploaded parts `chosen` (number and ETag, in order) names,
    /// checked as S3 checks them.
    pub async fn completion_parts(
        &self,
        upload: &UploadRecord,
        chosen: &[(i32, String)],
    ) -> Result<Vec<PartRecord>, CompleteError> {
        let uploaded = self.catalog.parts(upload.id).await?;
        pick_parts(&uploaded, chosen)
    }

    /// Makes the object from `parts` (from [`Objects::completion_parts`]):
    /// its SHA-256 taken by reading the parts back, its ETag the MD5 of the
    /// parts' MD5s with their count.
    pub async fn complete_upload(
        &self,
        upload: &UploadRecord,
        bucket: &BucketRecord,
        parts: &[PartRecord],
    ) -> Result<ContentRecord, CompleteError> {
        let mut hasher = Hasher::default();
        let mut md5s = Md5::new();
        for part in parts {
            let record = self
                .catalog
                .get(part.part_id)
                .await?
                .ok_or_else(|| ApiError::not_found(part.part_id))?;
            let mut body = std::pin::pin!(self.read(&record, None).await?);
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|err| {
                    ApiError::Unavailable(format!("a part could not be read back: {err}"))
                })?;
                hasher.update(&chunk);
            }
            let md5 = part.md5.as_deref().and_then(|md5| hex::decode(md5).ok());
            md5s.update(md5.unwrap_or_default());
        }
        let written = hasher.finish();
        let filename = filename_of(&upload.key);
        let content_type = match &upload.content_type {
            Some(given) => given.clone(),
            None => guess_content_type(&filename),
        };
        let entry = NewEntry {
            filename,
            content_type,
            visibility: if bucket.public {
                Visibility::Public
            } else {
                Visibility::Private
            },
            bucket: upload.bucket.clone(),
            key: upload.key.clone(),
            headers: upload.headers.0.clone(),
        };
        let whole = NewBytes {
            // Never written: the bytes are the parts'.
            blob_key: BlobKey::generate(),
            size: written.size,
            sha256: written.sha256,
            md5: format!("{}-{}", hex::encode(md5s.finalize()), parts.len()),
            nodes: Vec::new(),
        };
        let part_ids = parts.iter().map(|part| part.part_id).collect();
        match self
            .catalog
            .complete_upload(upload.id, Uuid::now_v7(), entry, part_ids, whole)
            .await?
        {
            Completion::Done(record, strays) => {
                self.placements.follow(&record);
                self.remove_strays(strays).await;
                Ok(*record)
            }
            Completion::NoUpload => Err(CompleteError::NoSuchUpload),
            Completion::PartsChanged => Err(CompleteError::PartsChanged),
        }
    }

    /// Ends an upload and removes its parts; `false` when there was none.
    pub async fn abort_upload(&self, upload: Uuid) -> Result<bool, ApiError> {
        match self.catalog.abort_upload(upload).await? {
            Some(strays) => {
                self.remove_strays(strays).await;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Aborts uploads started longer than `age` ago; how many.
    pub async fn expire_uploads(&self, age: Duration) -> Result<usize, ApiError> {
        let stale = self.catalog.stale_uploads(age, 100).await?;
        let mut aborted = 0;
        for upload in stale {
            if self.abort_upload(upload).await? {
                aborted += 1;
            }
        }
        Ok(aborted)
    }
}

/// The uploaded parts `chosen` names, in its order, after S3's checks.
fn pick_parts(
    uploaded: &[PartRecord],
    chosen: &[(i32, String)],
) -> Result<Vec<PartRecord>, CompleteError> {
    let mut picked: Vec<PartRecord> = Vec::with_capacity(chosen.len());
    for (number, etag) in chosen {
        if picked
            .last()
            .is_some_and(|last| last.part_number >= *number)
        {
            return Err(CompleteError::InvalidPartOrder);
        }
        let etag = etag.trim().trim_matches('"');
        let part = uploaded
            .iter()
            .find(|part| part.part_number == *number)
            .filter(|part| part.md5.as_deref() == Some(etag))
            .ok_or(CompleteError::InvalidPart(*number))?;
        picked.push(part.clone());
    }
    if let Some((_, before_last)) = picked.split_last()
        && let Some(small) = before_last
            .iter()
            .find(|part| (part.size.max(0) as u64) < MIN_PART_SIZE)
    {
        return Err(CompleteError::EntityTooSmall(small.part_number));
    }
    Ok(picked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(number: i32, size: u64) -> PartRecord {
        PartRecord {
            part_number: number,
            part_id: Uuid::now_v7(),
            size: size as i64,
            md5: Some(format!("{number:032x}")),
            uploaded_at: chrono::Utc::now(),
        }
    }

    fn etag(number: i32) -> String {
        format!("\"{number:032x}\"")
    }

    #[test]
    fn parts_are_checked_as_s3_checks_them() {
        let uploaded = [part(1, MIN_PART_SIZE), part(2, MIN_PART_SIZE), part(3, 1)];
        let all = [(1, etag(1)), (2, etag(2)), (3, etag(3))];
        let picked = pick_parts(&uploaded, &all).unwrap();
        assert_eq!(picked.len(), 3);
        // A subset is fine, in order.
        assert!(pick_parts(&uploaded, &[(1, etag(1)), (3, etag(3))]).is_ok());
        assert!(matches!(
            pick_parts(&uploaded, &[(2, etag(2)), (1, etag(1))]),
            Err(CompleteError::InvalidPartOrder)
        ));
        assert!(matches!(
            pick_parts(&uploaded, &[(1, etag(2))]),
            Err(CompleteError::InvalidPart(1))
        ));
        assert!(matches!(
            pick_parts(&uploaded, &[(4, etag(4))]),
            Err(CompleteError::InvalidPart(4))
        ));
        assert!(matches!(
            pick_parts(&uploaded, &[(3, etag(3)), (4, etag(4))]),
            Err(CompleteError::InvalidPart(4))
        ));
        let small_first = [part(1, 10), part(2, 10)];
        assert!(matches!(
            pick_parts(&small_first, &[(1, etag(1)), (2, etag(2))]),
            Err(CompleteError::EntityTooSmall(1))
        ));
    }
}
