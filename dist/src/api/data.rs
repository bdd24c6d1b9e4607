//! `GET`/`HEAD /content/{id}/data`: the bytes, streamed from a node.

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cdn_common::wire::Visibility;
use serde::Deserialize;

use super::access::{Caller, LinkParams, may_read};
use super::parse_id;
use crate::edge::{Portion, Validators, content_disposition, requested_portion};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct DataParams {
    download: Option<String>,
    redirect: Option<String>,
    /// With `redirect`: the node whose copy to send the client to.
    node: Option<String>,
}

fn flag(value: &Option<String>) -> bool {
    matches!(value.as_deref(), Some("1" | "true" | "yes" | ""))
}

pub async fn bytes(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Result<Query<DataParams>, QueryRejection>,
    link: Result<Query<LinkParams>, QueryRejection>,
    method: Method,
    request_headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let Query(params) = params?;
    let record = state.objects.get(id).await?;
    // Before any header: a refused reader learns not even the checksum.
    may_read(&state, &caller, &record, Some(&link?.0))?;
    let validators = Validators::new(&record.sha256, record.updated_at);
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, header_value(&validators.etag)?);
    headers.insert(
        header::LAST_MODIFIED,
        header_value(&validators.last_modified_header())?,
    );
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    cdn_common::active::protect(&mut headers, &record.content_type);
    if record.visibility == Visibility::Private {
        // Shared caches must not hand private bytes to the next caller.
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
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
    let disposition = content_disposition(&record.filename, flag(&params.download));
    if flag(&params.redirect) {
        let location =
            super::redirect::location(&state, &record, params.node.as_deref(), &disposition)?;
        headers.insert(header::LOCATION, header_value(&location)?);
        // The signed URL dies in a minute: no cache may keep this answer.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return Ok((StatusCode::TEMPORARY_REDIRECT, headers).into_response());
    }

    headers.insert(header::CONTENT_TYPE, header_value(&record.content_type)?);
    headers.insert(header::CONTENT_DISPOSITION, header_value(&disposition)?);
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
