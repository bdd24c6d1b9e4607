//! Metadata routes: describe, rename, delete (listing is `listing`).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use cdn_common::wire::{Content, ContentPatch, Replica, Scope};

use super::access::{Caller, Writer, may_read};
use super::{base_url, parse_id};
use crate::catalog::ContentRecord;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn info(
    caller: Caller,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Content>, ApiError> {
    let record = state.objects.get(parse_id(&id)?).await?;
    may_read(&state, &caller, &record, None)?;
    Ok(Json(view(&state, &headers, &record)))
}

pub async fn patch(
    caller: Caller,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<ContentPatch>, JsonRejection>,
) -> Result<Json<Content>, ApiError> {
    caller.require(Scope::Write)?;
    let id = parse_id(&id)?;
    let Json(change) = body?;
    if change.visibility.is_some() {
        // Making private content public would let a write-only token read it.
        caller.require(Scope::Read)?;
    }
    let record = state
        .objects
        .patch(
            id,
            change.filename.as_deref(),
            change.content_type.as_deref(),
            change.visibility,
        )
        .await?;
    Ok(Json(view(&state, &headers, &record)))
}

pub async fn remove(
    _writer: Writer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.objects.delete(parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The object described for the client that asked.
pub fn view(state: &AppState, headers: &HeaderMap, record: &ContentRecord) -> Content {
    describe(record, &base_url(state, headers))
}

/// The public description of a stored object.
pub fn describe(record: &ContentRecord, base: &str) -> Content {
    let replicas = record
        .replicas
        .iter()
        // Nodes are sealed: a copy is reached through the distributor,
        // which redirects to a freshly signed node URL (`api::redirect`).
        .map(|replica| Replica {
            node: replica.node_id.clone(),
            uri: format!(
                "{base}/content/{}/data?redirect=1&node={}",
                record.id, replica.node_id
            ),
            status: replica.state.into(),
        })
        .collect();
    Content {
        id: record.id,
        filename: record.filename.clone(),
        size: record.size,
        content_type: record.content_type.clone(),
        sha256: record.sha256,
        version: record.version,
        created_at: record.created_at,
        updated_at: record.updated_at,
        // Names this version: its bytes never change, so caches keep them.
        uri: format!("{base}/content/{}/data?v={}", record.id, record.version),
        replicas,
        status: "OK".into(),
        visibility: record.visibility,
    }
}
