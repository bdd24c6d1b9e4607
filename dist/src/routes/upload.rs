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

use super::content::{check_content_type, check_filename, describe, remove_now};
use super::{AppState, base_url, parse_id};
use crate::catalog::NewBytes;
use crate::error::ApiError;
use crate::node_client::NodeCallError;
use crate::upload::{UploadError, write_copies};

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
    let record = state
        .catalog
        .insert(id, &filename, &content_type, &incoming.bytes)
        .await;
    let record = match record {
        Ok(record) => record,
        Err(err) => {
            abandon(&state, &incoming.bytes).await;
            return Err(err.into());
        }
    };
    let content = describe(&record, &base_url(&state, &headers), &state.cluster);
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
        Ok(Some((record, old_copies))) => {
            remove_now(&state, old_copies).await;
            Ok(Json(describe(
                &record,
                &base_url(&state, &headers),
                &state.cluster,
            )))
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
    let nodes = state.cluster.place(len, state.replication)?;
    crate::metrics::placed(&nodes);
    let node_ids: Vec<String> = nodes.iter().map(|node| node.id.to_string()).collect();
    let key = Uuid::now_v7().to_string();
    state.catalog.expect_blobs(&node_ids, &key).await?;
    let pending = NewBytes {
        blob_key: key,
        size: 0,
        sha256: String::new(),
        nodes: node_ids,
    };
    match write_copies(&state.nodes, &nodes, &pending.blob_key, len, body).await {
        Ok(written) => {
            for node in &nodes {
                state.cluster.note_stored(&node.id, written.size);
            }
            Ok(NewBytes {
                size: written.size,
                sha256: written.sha256,
                ..pending
            })
        }
        Err(err) => {
            abandon(state, &pending).await;
            Err(upload_error(err))
        }
    }
}

fn upload_error(err: UploadError) -> ApiError {
    match err {
        UploadError::Body(_) => ApiError::BadRequest(err.to_string()),
        UploadError::Node {
            error: NodeCallError::Full(_),
            ..
        } => ApiError::InsufficientStorage(err.to_string()),
        UploadError::Node {
            error: NodeCallError::Unreachable(_),
            ..
        } => ApiError::Unavailable(err.to_string()),
        UploadError::Node { .. } | UploadError::Mismatch { .. } => {
            ApiError::BadGateway(err.to_string())
        }
    }
}

/// Removes the copies of bytes that will not be committed.
async fn abandon(state: &AppState, bytes: &NewBytes) {
    if let Err(err) = state.catalog.abandon_blobs(&bytes.blob_key).await {
        tracing::warn!(error = %err, key = %bytes.blob_key, "cannot mark copies for removal; the next start-up will");
    }
    let strays = bytes
        .nodes
        .iter()
        .map(|node| crate::catalog::StrayBlob {
            node_id: node.clone(),
            blob_key: bytes.blob_key.clone(),
        })
        .collect();
    remove_now(state, strays).await;
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
