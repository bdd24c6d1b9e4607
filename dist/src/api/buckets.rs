//! `PATCH /buckets/{name}`: make an S3 bucket public or private, through
//! the same service call as S3's `PutBucketAcl`.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use cdn_common::wire::{BucketInfo, BucketPatch, Visibility};

use super::access::Writer;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn patch(
    _writer: Writer,
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<Json<BucketPatch>, JsonRejection>,
) -> Result<Json<BucketInfo>, ApiError> {
    let Json(patch) = body?;
    let public = patch.visibility == Visibility::Public;
    if !state.objects.set_bucket_public(&name, public).await? {
        return Err(ApiError::NotFound(format!("no bucket {name:?}")));
    }
    Ok(Json(BucketInfo {
        name,
        visibility: patch.visibility,
    }))
}
