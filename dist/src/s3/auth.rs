//! Who may do what through the S3 API. `s3s` checks each signature with
//! the secret [`Keys`] finds; [`Rules`] then checks that it was signed for
//! this region and decides by operation: a signed request needs `read` to
//! read and list, `write` for the rest, and both to copy (which reads its
//! source); an unsigned one may only read objects that are public and list
//! or head a public bucket.

use cdn_common::wire::{Scope, Visibility};
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

use super::errors::internal;
use crate::auth::Access;
use crate::objects::Objects;

/// The operations that only read.
const READS: &[&str] = &[
    "GetObject",
    "HeadObject",
    "ListObjects",
    "ListObjectsV2",
    "ListObjectVersions",
    "HeadBucket",
    "GetBucketLocation",
    "GetBucketAcl",
    "ListBuckets",
];

/// The operations that read another object as their source.
const COPIES: &[&str] = &["CopyObject", "UploadPartCopy"];

/// The secrets of live access keys, for signature checks.
pub struct Keys {
    pub access: Access,
}

#[async_trait::async_trait]
impl S3Auth for Keys {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self
            .access
            .signing_key(access_key)
            .await
            .map_err(internal)?
        {
            Some(key) => Ok(SecretKey::from(key.secret)),
            None => Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            )),
        }
    }
}

pub struct Rules {
    pub objects: Objects,
    pub access: Access,
    pub region: String,
}

#[async_trait::async_trait]
impl S3Access for Rules {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let operation = cx.s3_op().name();
        let reads = READS.contains(&operation);
        let Some(credentials) = cx.credentials() else {
            return self.anonymous(operation, cx).await;
        };
        let key = self
            .access
            .signing_key(&credentials.access_key)
            .await
            .map_err(internal)?
            .ok_or_else(|| s3_error!(InvalidAccessKeyId))?;
        self.check_region(cx)?;
        let needed: &[Scope] = if reads {
            &[Scope::Read]
        } else if COPIES.contains(&operation) {
            &[Scope::Read, Scope::Write]
        } else {
            &[Scope::Write]
        };
        match needed.iter().find(|scope| !key.principal.allows(**scope)) {
            None => Ok(()),
            Some(missing) => Err(s3_error!(
                AccessDenied,
                "this access key lacks the {} scope",
                missing
            )),
        }
    }
}

impl Rules {
    /// A signature for another region is refused as S3 refuses it, so a
    /// misconfigured client learns which region to use.
    fn check_region(&self, cx: &S3AccessContext<'_>) -> S3Result<()> {
        let Some((region, presigned)) = signed_region(cx) else {
            return Ok(());
        };
        if region == self.region {
            return Ok(());
        }
        let message = format!(
            "the region '{region}' is wrong; expecting '{}'",
            self.region
        );
        Err(if presigned {
            s3_error!(AuthorizationQueryParametersError, "{message}")
        } else {
            s3_error!(AuthorizationHeaderMalformed, "{message}")
        })
    }

    /// An unsigned request: reads of what is public, nothing else.
    async fn anonymous(&self, operation: &str, cx: &S3AccessContext<'_>) -> S3Result<()> {
        let denied = || s3_error!(AccessDenied, "Access Denied");
        let path = cx.s3_path();
        let Some(bucket_name) = path.get_bucket_name() else {
            return Err(denied());
        };
        let bucket = self.objects.bucket(bucket_name).await.map_err(internal)?;
        let bucket_public = bucket.as_ref().is_some_and(|bucket| bucket.public);
        match (operation, path.get_object_key()) {
            ("GetObject" | "HeadObject", Some(key)) => {
                let record = self
                    .objects
                    .get_keyed(bucket_name, key)
                    .await
                    .map_err(internal)?;
                // A missing key in a public bucket is the operation's
                // NoSuchKey; elsewhere it is not told apart from a
                // private one.
                match record {
                    Some(record) if record.visibility == Visibility::Public => Ok(()),
                    None if bucket_public => Ok(()),
                    _ => Err(denied()),
                }
            }
            ("ListObjects" | "ListObjectsV2" | "ListObjectVersions" | "HeadBucket", None)
                if bucket_public =>
            {
                Ok(())
            }
            _ => Err(denied()),
        }
    }
}

/// The region of a SigV4 credential scope (`KEY/DATE/REGION/s3/aws4_request`),
/// from the `Authorization` header or a presigned link's `X-Amz-Credential`,
/// and whether it came from the link. `s3s` has verified the signature
/// over it; SigV2 requests have no region.
fn signed_region(cx: &S3AccessContext<'_>) -> Option<(String, bool)> {
    let region_of = |scope: &str| scope.split('/').nth(2).map(str::to_owned);
    if let Some(header) = cx.headers().get(axum::http::header::AUTHORIZATION) {
        let header = header.to_str().ok()?;
        let scope = header
            .split("Credential=")
            .nth(1)?
            .split([',', ' '])
            .next()?;
        return region_of(scope).map(|region| (region, false));
    }
    let query = cx.uri().query()?;
    let credential = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("X-Amz-Credential="))?;
    let scope = percent_encoding::percent_decode_str(credential)
        .decode_utf8()
        .ok()?;
    region_of(&scope).map(|region| (region, true))
}
