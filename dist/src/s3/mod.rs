//! The S3-compatible API: a second listener whose requests `s3s` parses,
//! authenticates (SigV4 in headers, presigned, streamed with or without
//! trailers) and routes to [`CdnS3`], which answers by calling `objects`
//! like the native API does. No SQL and no node calls here.
//!
//! - `addressing`: which hosts name a bucket (virtual-hosted style).
//! - `auth`: access keys for `s3s`'s signature checks, and who may do
//!   which operation (anonymous reads of public buckets and objects).
//! - `buckets`: bucket operations and their ACLs; `names`: S3's rules for
//!   bucket names.
//! - `objects`: put, get, head, delete, batch delete, copy.
//! - `listing`: ListObjects V1 and V2, ListObjectVersions.
//! - `multipart`: multipart uploads (create, upload part, upload part
//!   copy, list parts and uploads, complete, abort).
//! - `checksums`: `Content-MD5` and `x-amz-checksum-*` (headers or
//!   trailers) checked as the body passes.
//! - `errors`: the service layer's errors as S3 error codes.

mod addressing;
mod auth;
mod buckets;
mod checksums;
mod errors;
mod listing;
mod multipart;
mod names;
mod objects;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use s3s::dto::*;
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{S3Request, S3Response, S3Result};

pub use addressing::parse_domains;

use crate::auth::Access;
use crate::objects::Objects;

/// What the S3 operations need.
#[derive(Clone)]
pub struct CdnS3 {
    objects: Objects,
    region: String,
}

/// The S3 API as a router for the shared HTTP server loop, so it gets the
/// same connection limits, timeouts, request ids and access log.
pub fn router(objects: Objects, access: Access, region: &str, domains: &[String]) -> Router {
    let mut builder = S3ServiceBuilder::new(CdnS3 {
        objects: objects.clone(),
        region: region.to_owned(),
    });
    builder.set_auth(auth::Keys {
        access: access.clone(),
    });
    builder.set_access(auth::Rules {
        objects,
        access,
        region: region.to_owned(),
    });
    builder.set_host(addressing::BucketDomains::new(domains));
    let service = builder.build();
    Router::new()
        .fallback(move |request: Request| serve(service.clone(), request))
        .layer(cdn_common::observe::layer())
}

async fn serve(service: S3Service, request: Request) -> Response {
    let request = request.map(s3s::Body::http_body_unsync);
    match service.call(request).await {
        Ok(response) => response.map(Body::new),
        Err(err) => {
            // s3s answers protocol errors itself; this is only what it
            // could not put into an S3 error body.
            tracing::warn!(error = ?err, "the S3 service failed a request");
            (StatusCode::INTERNAL_SERVER_ERROR, "InternalError").into_response()
        }
    }
}

/// Each operation lives in the file of its concern; this only routes.
/// Operations not listed answer NotImplemented.
#[async_trait::async_trait]
impl s3s::S3 for CdnS3 {
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        CdnS3::list_buckets(self, req).await
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        CdnS3::create_bucket(self, req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        CdnS3::head_bucket(self, req).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        CdnS3::get_bucket_location(self, req).await
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        CdnS3::delete_bucket(self, req).await
    }

    async fn get_bucket_acl(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> S3Result<S3Response<GetBucketAclOutput>> {
        CdnS3::get_bucket_acl(self, req).await
    }

    async fn put_bucket_acl(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> S3Result<S3Response<PutBucketAclOutput>> {
        CdnS3::put_bucket_acl(self, req).await
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        CdnS3::put_object(self, req).await
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        CdnS3::get_object(self, req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        CdnS3::head_object(self, req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        CdnS3::delete_object(self, req).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        CdnS3::delete_objects(self, req).await
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        CdnS3::copy_object(self, req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        CdnS3::list_objects_v2(self, req).await
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        CdnS3::list_objects(self, req).await
    }

    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        CdnS3::list_object_versions(self, req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        CdnS3::create_multipart_upload(self, req).await
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        CdnS3::upload_part(self, req).await
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        CdnS3::list_parts(self, req).await
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        CdnS3::list_multipart_uploads(self, req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        CdnS3::complete_multipart_upload(self, req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        CdnS3::abort_multipart_upload(self, req).await
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        CdnS3::upload_part_copy(self, req).await
    }
}
