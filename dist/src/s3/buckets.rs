//! Bucket operations: list, create, head, delete, and the canned ACLs
//! that make a bucket public (`public-read`) or private again.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::CdnS3;
use super::errors::{internal, to_s3};
use super::names::valid_bucket_name;
use crate::catalog::{BucketRecord, BucketRemoval};

/// The one owner every bucket and object is shown with.
pub fn owner() -> Owner {
    Owner {
        display_name: Some("cdn".into()),
        id: Some("cdn".into()),
    }
}

impl CdnS3 {
    /// The bucket, or NoSuchBucket.
    pub(super) async fn existing_bucket(&self, name: &str) -> S3Result<BucketRecord> {
        self.objects
            .bucket(name)
            .await
            .map_err(internal)?
            .ok_or_else(|| s3_error!(NoSuchBucket, "The specified bucket does not exist"))
    }

    pub(super) async fn list_buckets(
        &self,
        _req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let buckets = self.objects.buckets().await.map_err(internal)?;
        let buckets = buckets
            .into_iter()
            .map(|bucket| Bucket {
                name: Some(bucket.name),
                creation_date: Some(timestamp(bucket.created_at)),
                bucket_region: Some(self.region.clone()),
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(owner()),
            ..Default::default()
        }))
    }

    pub(super) async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let name = &req.input.bucket;
        if !valid_bucket_name(name) {
            return Err(s3_error!(
                InvalidBucketName,
                "The specified bucket is not valid."
            ));
        }
        if !self.objects.create_bucket(name).await.map_err(internal)? {
            return Err(s3_error!(
                BucketAlreadyOwnedByYou,
                "Your previous request to create the named bucket succeeded and you already own it."
            ));
        }
        if let Some(acl) = &req.input.acl {
            self.apply_canned_acl(name, acl.as_str()).await?;
        }
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{name}")),
        }))
    }

    pub(super) async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.existing_bucket(&req.input.bucket).await?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(self.region.clone()),
            ..Default::default()
        }))
    }

    pub(super) async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.existing_bucket(&req.input.bucket).await?;
        // us-east-1 is told as no constraint, as S3 does.
        let constraint = (self.region != "us-east-1")
            .then(|| BucketLocationConstraint::from(self.region.clone()));
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint: constraint,
        }))
    }

    pub(super) async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let name = &req.input.bucket;
        if name == crate::catalog::DEFAULT_BUCKET {
            return Err(s3_error!(AccessDenied, "the default bucket stays"));
        }
        match self.objects.remove_bucket(name).await.map_err(internal)? {
            BucketRemoval::Removed => Ok(S3Response::new(DeleteBucketOutput {})),
            BucketRemoval::Missing => Err(s3_error!(NoSuchBucket)),
            BucketRemoval::NotEmpty => Err(s3_error!(
                BucketNotEmpty,
                "The bucket you tried to delete is not empty"
            )),
        }
    }

    pub(super) async fn get_bucket_acl(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> S3Result<S3Response<GetBucketAclOutput>> {
        let bucket = self.existing_bucket(&req.input.bucket).await?;
        let mut grants = vec![Grant {
            grantee: Some(Grantee {
                type_: Type::from_static(Type::CANONICAL_USER),
                id: Some("cdn".into()),
                display_name: Some("cdn".into()),
                email_address: None,
                uri: None,
            }),
            permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
        }];
        if bucket.public {
            grants.push(Grant {
                grantee: Some(Grantee {
                    type_: Type::from_static(Type::GROUP),
                    uri: Some("http://acs.amazonaws.com/groups/global/AllUsers".into()),
                    id: None,
                    display_name: None,
                    email_address: None,
                }),
                permission: Some(Permission::from_static(Permission::READ)),
            });
        }
        Ok(S3Response::new(GetBucketAclOutput {
            grants: Some(grants),
            owner: Some(owner()),
        }))
    }

    pub(super) async fn put_bucket_acl(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> S3Result<S3Response<PutBucketAclOutput>> {
        let Some(acl) = &req.input.acl else {
            return Err(s3_error!(
                NotImplemented,
                "only the canned ACLs private and public-read are supported"
            ));
        };
        self.existing_bucket(&req.input.bucket).await?;
        self.apply_canned_acl(&req.input.bucket, acl.as_str())
            .await?;
        Ok(S3Response::new(PutBucketAclOutput::default()))
    }

    async fn apply_canned_acl(&self, bucket: &str, acl: &str) -> S3Result<()> {
        let public = match acl {
            BucketCannedACL::PRIVATE => false,
            BucketCannedACL::PUBLIC_READ => true,
            _ => {
                return Err(s3_error!(
                    NotImplemented,
                    "only the canned ACLs private and public-read are supported"
                ));
            }
        };
        if self
            .objects
            .set_bucket_public(bucket, public)
            .await
            .map_err(|err| to_s3(err, s3s::S3ErrorCode::NoSuchBucket))?
        {
            Ok(())
        } else {
            Err(s3_error!(NoSuchBucket))
        }
    }
}

/// A time as S3 writes it.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> Timestamp {
    Timestamp::from(std::time::SystemTime::from(at))
}
