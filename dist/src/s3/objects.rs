//! Object operations: put (streamed into the one write path), get (whole
//! or one range, conditional), head, delete, batch delete and copy.

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use sync_wrapper::SyncStream;

use super::CdnS3;
use super::buckets::timestamp;
use super::checksums::{self, Claims};
use super::errors::{internal, to_s3};
use crate::catalog::{ContentRecord, ObjectHeaders};
use crate::objects::KeyedObject;

/// S3's limit on user metadata (`x-amz-meta-*` names and values).
const MAX_METADATA_BYTES: usize = 2048;

/// The stored headers given back on reads, besides `Content-Type`.
const KEPT: [&str; 4] = [
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
];
const META: &str = "x-amz-meta-";

/// A batch delete names at most this many keys, as S3.
const MAX_BATCH: usize = 1000;

impl CdnS3 {
    pub(super) async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let input = req.input;
        let bucket = self.existing_bucket(&input.bucket).await?;
        let claims = Claims::of(&input, &req.headers, req.trailing_headers)?;
        let content_encoding = stored_encoding(input.content_encoding.as_deref());
        let headers = kept_headers(
            [
                input.cache_control.as_deref(),
                input.content_disposition.as_deref(),
                content_encoding.as_deref(),
                input.content_language.as_deref(),
            ],
            input.metadata.as_ref(),
        )?;
        let Some(body) = input.body else {
            return Err(s3_error!(IncompleteBody, "the request has no body"));
        };
        let new = KeyedObject {
            content_type: input.content_type.clone(),
            len: input.content_length.and_then(|len| u64::try_from(len).ok()),
            headers,
        };
        let (body, verdict) = checksums::checked(body, claims);
        let record = self
            .objects
            .put_keyed(&bucket, &input.key, new, body)
            .await
            .map_err(|err| {
                verdict
                    .failure()
                    .unwrap_or_else(|| to_s3(err, S3ErrorCode::NoSuchBucket))
            })?;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(etag(&record)),
            size: Some(record.size as i64),
            ..Default::default()
        }))
    }

    /// The object under the request's key, or NoSuchKey.
    pub(super) async fn existing_object(&self, bucket: &str, key: &str) -> S3Result<ContentRecord> {
        self.existing_bucket(bucket).await?;
        self.objects
            .get_keyed(bucket, key)
            .await
            .map_err(internal)?
            .ok_or_else(|| s3_error!(NoSuchKey, "The specified key does not exist."))
    }

    pub(super) async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        let record = self.existing_object(&input.bucket, &input.key).await?;
        check_conditions(
            &record,
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
            input.if_modified_since.as_ref(),
            input.if_unmodified_since.as_ref(),
        )?;
        let range = match &input.range {
            None => None,
            Some(range) => {
                let range = range.check(record.size).map_err(|_| {
                    s3_error!(InvalidRange, "The requested range is not satisfiable")
                })?;
                Some((range.start, range.end - 1))
            }
        };
        let body = self
            .objects
            .read(&record, range)
            .await
            .map_err(|err| to_s3(err, S3ErrorCode::NoSuchKey))?;
        let (length, content_range) = match range {
            Some((first, last)) => (
                last - first + 1,
                Some(format!("bytes {first}-{last}/{}", record.size)),
            ),
            None => (record.size, None),
        };
        let described = describe(&record);
        Ok(S3Response::new(GetObjectOutput {
            body: Some(StreamingBlob::wrap(SyncStream::new(Box::pin(body)))),
            content_length: Some(length as i64),
            content_range,
            accept_ranges: Some("bytes".into()),
            e_tag: described.e_tag,
            last_modified: described.last_modified,
            content_type: described.content_type,
            cache_control: described.cache_control,
            content_disposition: described.content_disposition,
            content_encoding: described.content_encoding,
            content_language: described.content_language,
            metadata: described.metadata,
            ..Default::default()
        }))
    }

    pub(super) async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        let record = self.existing_object(&input.bucket, &input.key).await?;
        check_conditions(
            &record,
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
            input.if_modified_since.as_ref(),
            input.if_unmodified_since.as_ref(),
        )?;
        Ok(S3Response::new(describe(&record)))
    }

    pub(super) async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.existing_bucket(&req.input.bucket).await?;
        // Deleting a key that is not there succeeds, as in S3.
        self.objects
            .delete_keyed(&req.input.bucket, &req.input.key)
            .await
            .map_err(internal)?;
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    pub(super) async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let input = req.input;
        self.existing_bucket(&input.bucket).await?;
        if input.delete.objects.len() > MAX_BATCH {
            return Err(s3_error!(MalformedXML, "at most 1000 keys per request"));
        }
        let quiet = input.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for object in input.delete.objects {
            match self.objects.delete_keyed(&input.bucket, &object.key).await {
                Ok(_) if quiet => {}
                Ok(_) => deleted.push(DeletedObject {
                    key: Some(object.key),
                    ..Default::default()
                }),
                Err(err) => {
                    let err = to_s3(err, S3ErrorCode::NoSuchKey);
                    errors.push(Error {
                        code: Some(err.code().as_str().to_owned()),
                        key: Some(object.key),
                        message: err.message().map(str::to_owned),
                        version_id: None,
                    });
                }
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: Some(errors),
            ..Default::default()
        }))
    }

    pub(super) async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let input = req.input;
        let CopySource::Bucket {
            bucket: source_bucket,
            key: source_key,
            ..
        } = &input.copy_source
        else {
            return Err(s3_error!(NotImplemented, "copies from access points"));
        };
        let source = self.existing_object(source_bucket, source_key).await?;
        let target = self.existing_bucket(&input.bucket).await?;
        let replace = input
            .metadata_directive
            .as_ref()
            .is_some_and(|directive| directive.as_str() == MetadataDirective::REPLACE);
        let new = if replace {
            KeyedObject {
                content_type: input.content_type.clone(),
                len: None,
                headers: kept_headers(
                    [
                        input.cache_control.as_deref(),
                        input.content_disposition.as_deref(),
                        input.content_encoding.as_deref(),
                        input.content_language.as_deref(),
                    ],
                    input.metadata.as_ref(),
                )?,
            }
        } else {
            KeyedObject {
                content_type: Some(source.content_type.clone()),
                len: None,
                headers: source.headers.clone(),
            }
        };
        let record = self
            .objects
            .copy_keyed(&source, &target, &input.key, new)
            .await
            .map_err(|err| to_s3(err, S3ErrorCode::NoSuchKey))?;
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag(&record)),
                last_modified: Some(timestamp(record.updated_at)),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }
}

/// The S3 ETag: the MD5 of the bytes, or for objects stored before it was
/// kept, their SHA-256 (opaque to clients all the same).
pub fn etag(record: &ContentRecord) -> ETag {
    ETag::Strong(record.md5.clone().unwrap_or_else(|| record.sha256.to_hex()))
}

/// What HEAD tells of an object (and GET, with the body).
fn describe(record: &ContentRecord) -> HeadObjectOutput {
    let header = |name: &str| record.headers.get(name).cloned();
    let metadata: Metadata = record
        .headers
        .iter()
        .filter_map(|(name, value)| Some((name.strip_prefix(META)?.to_owned(), value.clone())))
        .collect();
    HeadObjectOutput {
        content_length: Some(record.size as i64),
        content_type: Some(record.content_type.clone()),
        e_tag: Some(etag(record)),
        last_modified: Some(timestamp(record.updated_at)),
        accept_ranges: Some("bytes".into()),
        cache_control: header("cache-control"),
        content_disposition: header("content-disposition"),
        content_encoding: header("content-encoding"),
        content_language: header("content-language"),
        metadata: (!metadata.is_empty()).then_some(metadata),
        ..Default::default()
    }
}

/// The `Content-Encoding` of the object itself: `aws-chunked` only says
/// how this request's body was framed, so S3 drops it.
pub(super) fn stored_encoding(given: Option<&str>) -> Option<String> {
    let kept: Vec<&str> = given?
        .split(',')
        .map(str::trim)
        .filter(|coding| !coding.is_empty() && !coding.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!kept.is_empty()).then(|| kept.join(", "))
}

/// The headers to keep with a new object, within S3's limits.
pub(super) fn kept_headers(
    values: [Option<&str>; 4],
    metadata: Option<&Metadata>,
) -> S3Result<ObjectHeaders> {
    let mut headers = ObjectHeaders::new();
    for (name, value) in KEPT.iter().zip(values) {
        if let Some(value) = value {
            if value.len() > MAX_METADATA_BYTES {
                return Err(s3_error!(
                    InvalidArgument,
                    "the {} header is too long",
                    name
                ));
            }
            headers.insert((*name).to_owned(), value.to_owned());
        }
    }
    let mut meta_bytes = 0;
    for (name, value) in metadata.into_iter().flatten() {
        meta_bytes += name.len() + value.len();
        if meta_bytes > MAX_METADATA_BYTES {
            return Err(S3Error::with_message(
                S3ErrorCode::MetadataTooLarge,
                "user metadata may take 2 KiB at most",
            ));
        }
        headers.insert(
            format!("{META}{}", name.to_ascii_lowercase()),
            value.clone(),
        );
    }
    Ok(headers)
}

/// If-Match / If-Unmodified-Since (412), then If-None-Match /
/// If-Modified-Since (304), as S3 orders them.
fn check_conditions(
    record: &ContentRecord,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> S3Result<()> {
    let current = etag(record);
    let matches = |condition: &ETagCondition| match condition {
        ETagCondition::Any => true,
        ETagCondition::ETag(tag) => tag.value() == current.value(),
    };
    // HTTP dates have whole seconds.
    let modified = record.updated_at.timestamp();
    let seconds = |at: &Timestamp| time::OffsetDateTime::from(at.clone()).unix_timestamp();
    let failed = || {
        s3_error!(
            PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold"
        )
    };
    match (if_match, if_unmodified_since) {
        (Some(condition), _) if !matches(condition) => return Err(failed()),
        (None, Some(since)) if modified > seconds(since) => return Err(failed()),
        _ => {}
    }
    match (if_none_match, if_modified_since) {
        (Some(condition), _) if matches(condition) => Err(s3_error!(NotModified)),
        (None, Some(since)) if modified <= seconds(since) => Err(s3_error!(NotModified)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::stored_encoding;

    #[test]
    fn the_chunked_framing_is_not_the_objects_encoding() {
        assert_eq!(stored_encoding(Some("aws-chunked")), None);
        assert_eq!(
            stored_encoding(Some("aws-chunked, gzip")).as_deref(),
            Some("gzip")
        );
        assert_eq!(stored_encoding(Some("br")).as_deref(), Some("br"));
        assert_eq!(stored_encoding(None), None);
    }
}
