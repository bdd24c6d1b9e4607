//! Metadata routes: list, describe, rename, delete.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use cdn_common::wire::{Content, ContentList, ContentPatch, Replica};
use serde::Deserialize;
use uuid::Uuid;

use super::{AppState, base_url, parse_id};
use crate::catalog::{ContentRecord, StrayBlob};
use crate::cluster::Cluster;
use crate::error::ApiError;
use crate::janitor;

#[derive(Debug, Deserialize)]
pub struct ListParams {
    limit: Option<i64>,
    cursor: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<ContentList>, ApiError> {
    let Query(params) = params?;
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1 to 1000, not {limit}"
        )));
    }
    let before = params
        .cursor
        .as_deref()
        .map(|cursor| {
            uuid::Uuid::try_parse(cursor).map_err(|_| {
                ApiError::BadRequest(format!("{cursor:?} is not a cursor from a previous page"))
            })
        })
        .transpose()?;
    // One more than asked tells whether another page follows.
    let mut records = state.catalog.list(before, limit + 1).await?;
    let next_cursor = if records.len() as i64 > limit {
        records.truncate(limit as usize);
        records.last().map(|record| record.id.to_string())
    } else {
        None
    };
    let base = base_url(&state, &headers);
    Ok(Json(ContentList {
        items: records
            .iter()
            .map(|record| describe(record, &base, &state.cluster))
            .collect(),
        next_cursor,
    }))
}

pub async fn info(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Content>, ApiError> {
    let id = parse_id(&id)?;
    Ok(Json(view(&state, &headers, id).await?))
}

/// The object as it is now, described for the client.
pub async fn view(state: &AppState, headers: &HeaderMap, id: Uuid) -> Result<Content, ApiError> {
    let record = state
        .catalog
        .get(id)
        .await?
        .ok_or_else(|| ApiError::not_found(id))?;
    Ok(describe(&record, &base_url(state, headers), &state.cluster))
}

pub async fn patch(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<ContentPatch>, JsonRejection>,
) -> Result<Json<Content>, ApiError> {
    let id = parse_id(&id)?;
    let Json(change) = body?;
    let filename = change.filename.as_deref().map(check_filename).transpose()?;
    let content_type = change
        .content_type
        .as_deref()
        .map(check_content_type)
        .transpose()?;
    let record = state
        .catalog
        .patch(id, filename.as_deref(), content_type.as_deref())
        .await?
        .ok_or_else(|| ApiError::not_found(id))?;
    Ok(Json(describe(
        &record,
        &base_url(&state, &headers),
        &state.cluster,
    )))
}

pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    let strays = state
        .catalog
        .delete(id)
        .await?
        .ok_or_else(|| ApiError::not_found(id))?;
    remove_now(&state, strays).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes copies nothing points at any more; whatever cannot be removed
/// now stays listed for the janitor.
pub async fn remove_now(state: &AppState, strays: Vec<StrayBlob>) {
    janitor::remove_strays(&state.catalog, &state.cluster, &state.nodes, strays).await;
}

/// The public description of a stored object.
pub fn describe(record: &ContentRecord, base: &str, cluster: &Cluster) -> Content {
    let replicas = record
        .replicas
        .iter()
        .map(|replica| {
            let public = cluster
                .node(&replica.node_id)
                .map(|node| node.public_url())
                .unwrap_or_default();
            Replica {
                node: replica.node_id.clone(),
                uri: format!("{public}/blobs/{}", record.blob_key),
                status: replica.state(),
            }
        })
        .collect();
    Content {
        id: record.id,
        filename: record.filename.clone(),
        size: record.size as u64,
        content_type: record.content_type.clone(),
        sha256: record.sha256.clone(),
        version: record.version as u32,
        created_at: record.created_at,
        updated_at: record.updated_at,
        uri: format!("{base}/content/{}/data", record.id),
        replicas,
        status: "OK".into(),
    }
}

/// A file name is metadata only: any text a person could mean as a name.
pub fn check_filename(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "a file name must be 1 to 255 bytes of text without control characters".into(),
        ));
    }
    Ok(name.to_owned())
}

pub fn check_content_type(value: &str) -> Result<String, ApiError> {
    value
        .trim()
        .parse::<mime_guess::mime::Mime>()
        .map(|mime| mime.to_string())
        .map_err(|_| {
            ApiError::BadRequest(format!("{value:?} is not a media type such as text/plain"))
        })
}
