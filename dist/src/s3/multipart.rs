//! Multipart uploads: create, upload part (streamed into the one write
//! path, its checksums checked), list parts, list uploads, complete and
//! abort.

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::CdnS3;
use super::buckets::timestamp;
use super::checksums::{self, Claims};
use super::errors::{internal, to_s3};
use super::objects::{etag, kept_headers, stored_encoding};
use crate::catalog::UploadRecord;
use crate::objects::CompleteError;

/// S3's bounds on part numbers, and on the entries of one listing.
const MAX_PART_NUMBER: i32 = 10_000;
const MAX_LISTED: usize = 1000;

fn no_such_upload() -> S3Error {
    s3_error!(
        NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )
}

impl CdnS3 {
    /// The upload named by a request, or NoSuchUpload.
    async fn existing_upload(&self, bucket: &str, key: &str, id: &str) -> S3Result<UploadRecord> {
        self.existing_bucket(bucket).await?;
        self.objects
            .upload(id, bucket, key)
            .await
            .map_err(internal)?
            .ok_or_else(no_such_upload)
    }

    pub(super) async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        let bucket = self.existing_bucket(&input.bucket).await?;
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
        let id = self
            .objects
            .create_upload(&bucket, &input.key, input.content_type.as_deref(), &headers)
            .await
            .map_err(|err| to_s3(err, S3ErrorCode::NoSuchBucket))?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(id.to_string()),
            ..Default::default()
        }))
    }

    pub(super) async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let input = req.input;
        if !(1..=MAX_PART_NUMBER).contains(&input.part_number) {
            return Err(s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive"
            ));
        }
        let upload = self
            .existing_upload(&input.bucket, &input.key, &input.upload_id)
            .await?;
        let claims = Claims::of(&input, &req.headers, req.trailing_headers)?;
        let Some(body) = input.body else {
            return Err(s3_error!(IncompleteBody, "the request has no body"));
        };
        let (body, verdict) = checksums::checked(body, claims);
        let len = input.content_length.and_then(|len| u64::try_from(len).ok());
        let md5 = self
            .objects
            .upload_part(&upload, input.part_number, len, body)
            .await
            .map_err(|err| {
                verdict
                    .failure()
                    .unwrap_or_else(|| to_s3(err, S3ErrorCode::NoSuchUpload))
            })?;
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(ETag::Strong(md5)),
            checksum_crc32: input.checksum_crc32,
            checksum_crc32c: input.checksum_crc32c,
            checksum_crc64nvme: input.checksum_crc64nvme,
            checksum_sha1: input.checksum_sha1,
            checksum_sha256: input.checksum_sha256,
            ..Default::default()
        }))
    }

    pub(super) async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let input = req.input;
        if !(1..=MAX_PART_NUMBER).contains(&input.part_number) {
            return Err(s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive"
            ));
        }
        let CopySource::Bucket {
            bucket: source_bucket,
            key: source_key,
            ..
        } = &input.copy_source
        else {
            return Err(s3_error!(NotImplemented, "copies from access points"));
        };
        let upload = self
            .existing_upload(&input.bucket, &input.key, &input.upload_id)
            .await?;
        let source = self.existing_object(source_bucket, source_key).await?;
        let range = input
            .copy_source_range
            .as_deref()
            .map(|range| source_range(range, source.size))
            .transpose()?;
        let md5 = self
            .objects
            .copy_part(&source, range, &upload, input.part_number)
            .await
            .map_err(|err| to_s3(err, S3ErrorCode::NoSuchUpload))?;
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(ETag::Strong(md5)),
                last_modified: Some(timestamp(chrono::Utc::now())),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    pub(super) async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let input = req.input;
        let upload = self
            .existing_upload(&input.bucket, &input.key, &input.upload_id)
            .await?;
        let max_parts = input.max_parts.unwrap_or(1000).clamp(0, 1000) as usize;
        let marker = input.part_number_marker.unwrap_or(0);
        let after: Vec<_> = self
            .objects
            .parts(&upload)
            .await
            .map_err(internal)?
            .into_iter()
            .filter(|part| part.part_number > marker)
            .collect();
        let truncated = after.len() > max_parts;
        let parts: Vec<Part> = after
            .into_iter()
            .take(max_parts)
            .map(|part| Part {
                part_number: Some(part.part_number),
                size: Some(part.size),
                e_tag: part.md5.map(ETag::Strong),
                last_modified: Some(timestamp(part.uploaded_at)),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            max_parts: Some(max_parts as i32),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: parts.last().and_then(|part| part.part_number),
            is_truncated: Some(truncated),
            parts: Some(parts),
            ..Default::default()
        }))
    }

    pub(super) async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let input = req.input;
        self.existing_bucket(&input.bucket).await?;
        let max = input
            .max_uploads
            .unwrap_or(MAX_LISTED as i32)
            .clamp(0, MAX_LISTED as i32) as usize;
        let prefix = input.prefix.clone().unwrap_or_default();
        let upload_marker = input
            .upload_id_marker
            .as_deref()
            .and_then(|id| uuid::Uuid::try_parse(id).ok());
        // After the key marker alone: every upload of that key is skipped.
        let after = input
            .key_marker
            .as_deref()
            .map(|key| (key, upload_marker.unwrap_or(uuid::Uuid::max())));
        let mut uploads = self
            .objects
            .uploads(&input.bucket, &prefix, after, max + 1)
            .await
            .map_err(internal)?;
        let truncated = uploads.len() > max;
        uploads.truncate(max);
        let last = uploads.last().map(|upload| (upload.key.clone(), upload.id));
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: input.prefix,
            key_marker: input.key_marker,
            upload_id_marker: input.upload_id_marker,
            max_uploads: Some(max as i32),
            is_truncated: Some(truncated),
            next_key_marker: last
                .as_ref()
                .filter(|_| truncated)
                .map(|(key, _)| key.clone()),
            next_upload_id_marker: last
                .as_ref()
                .filter(|_| truncated)
                .map(|(_, id)| id.to_string()),
            uploads: Some(
                uploads
                    .into_iter()
                    .map(|upload| MultipartUpload {
                        key: Some(upload.key),
                        upload_id: Some(upload.id.to_string()),
                        initiated: Some(timestamp(upload.created_at)),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }))
    }

    pub(super) async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = req.input;
        let bucket = self.existing_bucket(&input.bucket).await?;
        let upload = self
            .existing_upload(&input.bucket, &input.key, &input.upload_id)
            .await?;
        let listed = input
            .multipart_upload
            .and_then(|upload| upload.parts)
            .unwrap_or_default();
        if listed.is_empty() {
            return Err(s3_error!(
                MalformedXML,
                "You must specify at least one part"
            ));
        }
        let mut chosen = Vec::with_capacity(listed.len());
        for part in listed {
            let (Some(number), Some(tag)) = (part.part_number, part.e_tag) else {
                return Err(s3_error!(
                    MalformedXML,
                    "each part needs a number and an ETag"
                ));
            };
            chosen.push((number, tag.value().to_owned()));
        }
        // The part list is checked before the answer starts, so its
        // errors are plain ones; reading the parts back for the SHA-256
        // can take long, so the answer's body keeps the connection alive
        // meanwhile (as S3 does) and ends with the result.
        let parts = self
            .objects
            .completion_parts(&upload, &chosen)
            .await
            .map_err(completion_error)?;
        let objects = self.objects.clone();
        let (bucket_name, key) = (input.bucket.clone(), input.key.clone());
        let finish = async move {
            let record = objects
                .complete_upload(&upload, &bucket, &parts)
                .await
                .map_err(completion_error)?;
            Ok(CompleteMultipartUploadOutput {
                bucket: Some(bucket_name),
                key: Some(key),
                e_tag: Some(etag(&record)),
                ..Default::default()
            })
        };
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            future: Some(Box::pin(finish)),
            ..Default::default()
        }))
    }

    pub(super) async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input;
        let upload = self
            .existing_upload(&input.bucket, &input.key, &input.upload_id)
            .await?;
        if !self
            .objects
            .abort_upload(upload.id)
            .await
            .map_err(internal)?
        {
            return Err(no_such_upload());
        }
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }
}

/// A refused completion in S3's terms.
fn completion_error(err: CompleteError) -> S3Error {
    match err {
        CompleteError::NoSuchUpload => no_such_upload(),
        CompleteError::InvalidPart(number) => s3_error!(
            InvalidPart,
            "Part {} could not be found, or its ETag did not match",
            number
        ),
        CompleteError::InvalidPartOrder => s3_error!(
            InvalidPartOrder,
            "The list of parts was not in ascending order"
        ),
        CompleteError::EntityTooSmall(number) => s3_error!(
            EntityTooSmall,
            "Part {} is smaller than the minimum allowed size of 5 MiB",
            number
        ),
        CompleteError::PartsChanged => s3_error!(
            InvalidPart,
            "A part was uploaded again while the upload was being completed"
        ),
        CompleteError::Service(err) => to_s3(err, S3ErrorCode::NoSuchUpload),
    }
}

/// `x-amz-copy-source-range`: `bytes=FIRST-LAST`, both given and within
/// the source's `size` bytes.
fn source_range(text: &str, size: u64) -> S3Result<(u64, u64)> {
    let invalid = || {
        s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
        )
    };
    let (first, last) = text
        .trim()
        .strip_prefix("bytes=")
        .and_then(|range| range.split_once('-'))
        .ok_or_else(invalid)?;
    let first: u64 = first.trim().parse().map_err(|_| invalid())?;
    let last: u64 = last.trim().parse().map_err(|_| invalid())?;
    if first > last {
        return Err(invalid());
    }
    if last >= size {
        return Err(s3_error!(
            InvalidRange,
            "The requested range is not satisfiable"
        ));
    }
    Ok((first, last))
}

#[cfg(test)]
mod tests {
    use super::source_range;

    #[test]
    fn copy_source_ranges_are_inclusive_and_within_the_source() {
        assert_eq!(source_range("bytes=0-9", 10).unwrap(), (0, 9));
        assert_eq!(source_range("bytes=5-5", 10).unwrap(), (5, 5));
        assert!(source_range("bytes=0-10", 10).is_err());
        assert!(source_range("bytes=5-4", 10).is_err());
        assert!(source_range("bytes=-4", 10).is_err());
        assert!(source_range("0-4", 10).is_err());
    }
}
