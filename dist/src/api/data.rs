//! `GET`/`HEAD /content/{id}/data`: the bytes, streamed from a node.

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::parse_id;
use crate::edge::{Portion, Validators, content_disposition, requested_portion};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct DataParams {
    download: Option<String>,
    redirect: Option<String>,
}

fn flag(value: &Option<String>) -> bool {
    matches!(value.as_deref(), Some("1" | "true" | "yes" | ""))
}

pub async fn bytes(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Result<Query<DataParams>, QueryRejection>,
    method: Method,
    request_headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let Query(params) = params?;
    let record = state.objects.get(id).await?;
    let validators = Validators::new(&record.sha256, record.updated_at);
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, header_value(&validators.etag)?);
    headers.insert(
        header::LAST_MODIFIED,
        header_value(&validators.last_modified_header())?,
    );
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if validators.not_modified(&request_headers) {
        return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
    }

    let size = record.size;
    let portion = requested_portion(&request_headers, size, &validators);
    let (status, range) = match portion {
        Portion::Whole => (StatusCode::OK, None),
        Portion::Range { first, last } => (StatusCode::PARTIAL_CONTENT, Some((first, last))),
        Portion::Unsatisfiable => return Err(ApiError::RangeNotSatisfiable { size }),
    };
    if flag(&params.redirect) {
        let node = state
            .objects
            .readable_copies(&record)
            .into_iter()
            .find(|node| node.is_up())
            .ok_or_else(|| ApiError::Unavailable("no node holding this content is up".into()))?;
        let location = format!("{}/blobs/{}", node.public_url(), record.blob_key);
        headers.insert(header::LOCATION, header_value(&location)?);
        return Ok((StatusCode::TEMPORARY_REDIRECT, headers).into_response());
    }

    headers.insert(header::CONTENT_TYPE, header_value(&record.content_type)?);
    headers.insert(
        header::CONTENT_DISPOSITION,
        header_value(&content_disposition(
            &record.filename,
            flag(&params.download),
        ))?,
    );
    let length = match range {
        Some((first, last)) => {
            headers.insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes {first}-{last}/{size}"))?,
            );
            last - first + 1
        }
        None => size,
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if method == Method::HEAD {
        return Ok((status, headers).into_response());
    }
    let body = Body::from_stream(state.objects.read(&record, range).await?);
    Ok((status, headers, body).into_response())
}

fn header_value(text: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(text)
        .map_err(|err| ApiError::Internal(anyhow::anyhow!("header value {text:?}: {err}")))
}
