//! `POST /content/{id}/share`: a presigned link to an object's bytes, for
//! callers with `read`.

use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use cdn_common::wire::{ShareRequest, SharedLink};
use chrono::DateTime;

use super::access::Reader;
use super::{base_url, parse_id};
use crate::error::ApiError;
use crate::state::AppState;

/// How long a link works when the request does not say.
const DEFAULT_LIFETIME: &str = "1h";

pub async fn share(
    _reader: Reader,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<bytes::Bytes, BytesRejection>,
) -> Result<Json<SharedLink>, ApiError> {
    let id = parse_id(&id)?;
    let body = body.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(rejection.body_text())
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    })?;
    // An empty body asks for the default lifetime.
    let request: ShareRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ShareRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|err| ApiError::BadRequest(format!("bad share request: {err}")))?
    };
    let text = request.expires_in.as_deref().unwrap_or(DEFAULT_LIFETIME);
    let lifetime = humantime::parse_duration(text)
        .map_err(|err| ApiError::BadRequest(format!("expires_in {text:?}: {err}")))?;
    let record = state.objects.get(id).await?;
    let (expires, signature) = state.access.presign(record.id, lifetime)?;
    let expires_at = DateTime::from_timestamp(expires, 0)
        .ok_or_else(|| ApiError::BadRequest("that expiry is out of range".into()))?;
    let base = base_url(&state, &headers);
    Ok(Json(SharedLink {
        url: format!(
            "{base}/content/{}/data?expires={expires}&signature={signature}",
            record.id
        ),
        expires_at,
    }))
}
