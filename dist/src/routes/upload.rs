//! Writing bytes: `POST /content` and `PUT /content/{id}`, from a raw body
//! or a browser form's `file` field.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use bytes::Bytes;
use cdn_common::wire::Content;
use futures::Stream;
use percent_encoding::percent_decode_str;
use serde::Deserialize;
use uuid::Uuid;

use super::content::{check_content_type, check_filename, remove_now, view};
use super::{AppState, parse_id};
use crate::catalog::NewBytes;
use crate::error::ApiError;
use crate::node_client::NodeCallError;
use crate::transfer::{TransferError, copy_blob, write_copies};

#[derive(Debug, Deserialize)]
pub struct UploadParams {
    filename: Option<String>,
}

/// What a request brought: its bytes, already on their nodes, and the
/// name and type it gave them, if any.
struct Incoming {
    filename: Option<String>,
    content_type: Option<String>,
    bytes: NewBytes,
}

pub async fn create(
    State(state): State<AppState>,
    params: Result<Query<UploadParams>, QueryRejection>,
    request: Request,
) -> Result<impl IntoResponse, ApiError> {
    let Query(params) = params?;
    let headers = request.headers().clone();
    let incoming = receive(&state, params, request).await?;
    let id = Uuid::now_v7();
    let filename = incoming.filename.unwrap_or_else(|| id.to_string());
    let content_type = incoming
        .content_type
        .unwrap_or_else(|| guess_content_type(&filename));
    let inserted = state
        .catalog
        .insert(id, &filename, &content_type, &incoming.bytes)
        .await;
    if let Err(err) = inserted {
        abandon(&state, &incoming.bytes).await;
        return Err(err.into());
    }
    let content = view(&state, &headers, id).await?;
    let location = HeaderValue::from_str(&format!("/content/{id}")).map_err(anyhow::Error::from)?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(content),
    ))
}

pub async fn replace(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Result<Query<UploadParams>, QueryRejection>,
    request: Request,
) -> Result<Json<Content>, ApiError> {
    let id = parse_id(&id)?;
    let Query(params) = params?;
    // Refuse before any byte is written when there is nothing to replace.
    if state.catalog.get(id).await?.is_none() {
        return Err(ApiError::not_found(id));
    }
    let headers = request.headers().clone();
    let incoming = receive(&state, params, request).await?;
    // An explicit type wins; a new name without one gets its type guessed;
    // otherwise the type stays as it was.
    let content_type = incoming
        .content_type
        .or_else(|| incoming.filename.as_deref().map(guess_content_type));
    let replaced = state
        .catalog
        .replace(
            id,
            incoming.filename.as_deref(),
            content_type.as_deref(),
            &incoming.bytes,
        )
        .await;
    match replaced {
        Ok(Some(old_copies)) => {
            remove_now(&state, old_copies).await;
            Ok(Json(view(&state, &headers, id).await?))
        }
        Ok(None) => {
            abandon(&state, &incoming.bytes).await;
            Err(ApiError::not_found(id))
        }
        Err(err) => {
            abandon(&state, &incoming.bytes).await;
            Err(err.into())
        }
    }
}

/// Streams the request's bytes to their nodes.
async fn receive(
    state: &AppState,
    params: UploadParams,
    request: Request,
) -> Result<Incoming, ApiError> {
    let headers = request.headers();
    let named = match params.filename {
        Some(name) => Some(name),
        None => header_filename(headers)?,
    };
    let named = named.as_deref().map(check_filename).transpose()?;
    let declared_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    if declared_type
        .as_deref()
        .is_some_and(|value| value.starts_with("multipart/form-data"))
    {
        return receive_form(state, named, request).await;
    }
    // curl sends this type for `--data-binary` unless told otherwise: it
    // says nothing about the file.
    let content_type = declared_type
        .filter(|value| !value.starts_with("application/x-www-form-urlencoded"))
        .map(|value| check_content_type(&value))
        .transpose()?;
    let len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse().ok());
    let bytes = store_bytes(state, len, request.into_body().into_data_stream()).await?;
    Ok(Incoming {
        filename: named,
        content_type,
        bytes,
    })
}

/// Takes the bytes of the form's `file` field; a name in the URL or header
/// wins over the one the browser sent.
async fn receive_form(
    state: &AppState,
    named: Option<String>,
    request: Request,
) -> Result<Incoming, ApiError> {
    let mut form = Multipart::from_request(request, state)
        .await
        .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    while let Some(field) = form.next_field().await? {
        if field.name() != Some("file") {
            continue;
        }
        let filename = match named {
            Some(name) => Some(name),
            None => field.file_name().map(check_filename).transpose()?,
        };
        let content_type = field
            .content_type()
            .filter(|value| *value != "application/octet-stream")
            .map(check_content_type)
            .transpose()?;
        let bytes = store_bytes(state, None, field).await?;
        return Ok(Incoming {
            filename,
            content_type,
            bytes,
        });
    }
    Err(ApiError::BadRequest(
        "the form has no field named \"file\"".into(),
    ))
}

/// Places, writes and confirms the copies of one body of `len` bytes (when
/// known). On failure no copy is left behind.
async fn store_bytes<S, E>(
    state: &AppState,
    len: Option<u64>,
    body: S,
) -> Result<NewBytes, ApiError>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let chosen = state.cluster.place(len, state.replication, &[])?;
    crate::metrics::placed(&chosen);
    let chosen_ids: Vec<String> = chosen.iter().map(|node| node.id.to_string()).collect();
    let key = Uuid::now_v7().to_string();
    state.catalog.expect_blobs(&chosen_ids, &key).await?;
    let fanout = match write_copies(&state.nodes, &chosen, &key, len, body).await {
        Ok(fanout) => fanout,
        Err(err) => {
            abandon_copies(state, &key, &chosen_ids).await;
            return Err(transfer_error(err));
        }
    };
    let written = fanout.written;
    let mut holders = fanout.stored;
    let failed: Vec<String> = chosen_ids
        .iter()
        .filter(|id| {
            holders
                .iter()
                .all(|(node, _)| node.id.as_str() != id.as_str())
        })
        .cloned()
        .collect();
    if !failed.is_empty() {
        for err in &fanout.failed {
            tracing::warn!(key, error = %err, "a copy failed; placing it elsewhere");
        }
        abandon_copies(state, &key, &failed).await;
    }

    // Make up for nodes that failed mid-write by copying from one that did
    // not, so the upload still ends with every copy it promised.
    let mut tried = chosen_ids.clone();
    while holders.len() < state.replication {
        let excluded: Vec<&str> = tried.iter().map(String::as_str).collect();
        let Ok(spare) = state.cluster.place(Some(written.size), 1, &excluded) else {
            break;
        };
        let target = spare[0];
        tried.push(target.id.to_string());
        let target_id = [target.id.to_string()];
        state.catalog.expect_blobs(&target_id, &key).await?;
        let copied = copy_blob(
            &state.nodes,
            holders[0].0,
            target,
            &key,
            written.size,
            &written.sha256,
        )
        .await;
        match copied {
            Ok(stored) => holders.push((target, stored)),
            Err(err) => {
                tracing::warn!(key, error = %err, "could not copy to a spare node");
                abandon_copies(state, &key, &target_id).await;
            }
        }
    }
    let holder_ids: Vec<String> = holders
        .iter()
        .map(|(node, _)| node.id.to_string())
        .collect();
    if holders.len() < state.replication {
        abandon_copies(state, &key, &holder_ids).await;
        return Err(ApiError::Unavailable(format!(
            "only {} of {} copies could be written",
            holders.len(),
            state.replication
        )));
    }
    for (node, stored) in &holders {
        state.cluster.note_stored(&node.id, stored);
    }
    Ok(NewBytes {
        blob_key: key,
        size: written.size,
        sha256: written.sha256,
        nodes: holder_ids,
    })
}

fn transfer_error(err: TransferError) -> ApiError {
    match err {
        TransferError::Body(_) => ApiError::BadRequest(err.to_string()),
        TransferError::Node {
            error: NodeCallError::Full(_),
            ..
        } => ApiError::InsufficientStorage(err.to_string()),
        TransferError::Node {
            error: NodeCallError::Unreachable(_),
            ..
        } => ApiError::Unavailable(err.to_string()),
        TransferError::Node { .. } | TransferError::Mismatch { .. } => {
            ApiError::BadGateway(err.to_string())
        }
    }
}

/// Removes the copies of bytes that will not be committed.
async fn abandon(state: &AppState, bytes: &NewBytes) {
    abandon_copies(state, &bytes.blob_key, &bytes.nodes).await;
}

/// Makes the copies of `key` on `nodes` stray, due now, and removes them at
/// once where possible. Should PostgreSQL be away, they stay listed as the
/// upload's, due later (and at the next start-up).
async fn abandon_copies(state: &AppState, key: &str, nodes: &[String]) {
    match state.catalog.abandon_blobs(key, nodes).await {
        Ok(strays) => remove_now(state, strays).await,
        Err(err) => tracing::warn!(error = %err, key, "cannot mark copies for removal yet"),
    }
}

/// `X-Filename`, percent-decoded so that any UTF-8 name can be sent.
fn header_filename(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("x-filename") else {
        return Ok(None);
    };
    let bad =
        || ApiError::BadRequest("X-Filename must be UTF-8, percent-encoded where not ASCII".into());
    let text = value.to_str().map_err(|_| bad())?;
    let decoded = percent_decode_str(text).decode_utf8().map_err(|_| bad())?;
    Ok(Some(decoded.into_owned()))
}

fn guess_content_type(filename: &str) -> String {
    mime_guess::from_path(filename)
        .first_or_octet_stream()
        .to_string()
}
