//! S3 buckets: made, listed, made public or private, removed when empty.

use super::Objects;
use crate::catalog::{BucketRecord, BucketRemoval};
use crate::error::ApiError;

impl Objects {
    pub async fn buckets(&self) -> Result<Vec<BucketRecord>, ApiError> {
        Ok(self.catalog.buckets().await?)
    }

    pub async fn bucket(&self, name: &str) -> Result<Option<BucketRecord>, ApiError> {
        Ok(self.catalog.bucket(name).await?)
    }

    /// `false` when the name is taken. The name must be checked already
    /// (the table refuses the worst, not every rule).
    pub async fn create_bucket(&self, name: &str) -> Result<bool, ApiError> {
        Ok(self.catalog.create_bucket(name).await?)
    }

    pub async fn remove_bucket(&self, name: &str) -> Result<BucketRemoval, ApiError> {
        Ok(self.catalog.remove_bucket(name).await?)
    }

    /// Public: anyone may list it and read its objects. `false` when there
    /// is no such bucket.
    pub async fn set_bucket_public(&self, name: &str, public: bool) -> Result<bool, ApiError> {
        Ok(self.catalog.set_bucket_public(name, public).await?)
    }
}
