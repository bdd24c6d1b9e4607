//! The admin API of S3 access keys: `POST /keys`, `GET /keys`,
//! `DELETE /keys/{id}`, in the style of `/tokens`.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use cdn_common::wire::{AccessKeyList, NewAccessKey};

use super::access::Admin;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn create(
    _admin: Admin,
    State(state): State<AppState>,
    body: Result<Json<NewAccessKey>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(new) = body?;
    let created = state
        .access
        .create_access_key(&new.name, &new.scopes)
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn list(
    _admin: Admin,
    State(state): State<AppState>,
) -> Result<Json<AccessKeyList>, ApiError> {
    Ok(Json(AccessKeyList {
        keys: state.access.list_access_keys().await?,
    }))
}

pub async fn revoke(
    _admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = uuid::Uuid::try_parse(&id)
        .map_err(|_| ApiError::BadRequest(format!("{id:?} is not an access key's id (a UUID)")))?;
    state.access.revoke_access_key(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
