//! `GET`/`HEAD /content/{id}/data`: the bytes, streamed from a node.

use std::io;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::access::{Caller, Grant, LinkParams, may_read};
use super::parse_id;
use crate::catalog::ContentRecord;
use crate::edge::caching::{Audience, Pinning, cache_control};
use crate::edge::encoding::{MayCompress, worth_compressing};
use crate::edge::multipart::{Multipart, random_boundary};
use crate::edge::ranges::{Portion, requested_portion};
use crate::edge::{Validators, content_disposition};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct DataParams {
    download: Option<String>,
    redirect: Option<String>,
    /// With `redirect`: the node whose copy to send the client to.
    node: Option<String>,
    /// The version the URL names (`Content.uri`), if any.
    v: Option<String>,
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
    if crate::edge::loaded_as_code_by_this_origin(&request_headers) {
        return Err(ApiError::Forbidden(
            "content is not loaded as a script, style or worker by this origin's pages".into(),
        ));
    }
    let Query(params) = params?;
    let record = state.objects.get(id).await?;
    // Before any header: a refused reader learns not even the checksum.
    let grant = may_read(&state, &caller, &record, Some(&link?.0))?;
    let validators = Validators::new(&record.sha256, record.updated_at);
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, header_value(&validators.etag)?);
    headers.insert(
        header::LAST_MODIFIED,
        header_value(&validators.last_modified_header())?,
    );
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    cdn_common::active::protect(&mut headers, &record.content_type);
    let pinning = Pinning::of(params.v.as_deref(), record.version);
    headers.insert(
        header::CACHE_CONTROL,
        header_value(&cache_control(
            pinning,
            audience(grant),
            state.cache_max_age,
        ))?,
    );

    let size = record.size;
    let portion = requested_portion(&request_headers, size, &validators);
    // A whole text-like body may go compressed; the layer picks the coding.
    let may_compress = MayCompress(
        portion == Portion::Whole && worth_compressing(&record.content_type, Some(size)),
    );
    if validators.not_modified(&request_headers) {
        return Ok(answer(
            StatusCode::NOT_MODIFIED,
            headers,
            may_compress,
            Body::empty(),
        ));
    }
    let disposition = content_disposition(&record.filename, flag(&params.download));
    // An object made of parts is no one node's blob: it is always served
    // from here, part after part.
    if flag(&params.redirect) && record.segments.is_empty() {
        let location =
            super::redirect::location(&state, &record, params.node.as_deref(), &disposition)?;
        headers.insert(header::LOCATION, header_value(&location)?);
        // The signed URL dies in a minute: no cache may keep this answer.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        let status = StatusCode::TEMPORARY_REDIRECT;
        return Ok(answer(status, headers, MayCompress(false), Body::empty()));
    }

    headers.insert(header::CONTENT_TYPE, header_value(&record.content_type)?);
    headers.insert(header::CONTENT_DISPOSITION, header_value(&disposition)?);
    // HEAD reads nothing and answers the same headers.
    let head = method == Method::HEAD;
    let (status, length, body) = match portion {
        Portion::Unsatisfiable => return Err(ApiError::RangeNotSatisfiable { size }),
        Portion::Whole => {
            let body = if head {
                Body::empty()
            } else {
                Body::from_stream(state.objects.read(&record, None).await?)
            };
            (StatusCode::OK, size, body)
        }
        Portion::Range((first, last)) => {
            let range = format!("bytes {first}-{last}/{size}");
            headers.insert(header::CONTENT_RANGE, header_value(&range)?);
            let body = if head {
                Body::empty()
            } else {
                Body::from_stream(state.objects.read(&record, Some((first, last))).await?)
            };
            (StatusCode::PARTIAL_CONTENT, last - first + 1, body)
        }
        Portion::Ranges(parts) => {
            let multipart = Multipart::new(random_boundary(), &record.content_type, size, parts);
            headers.insert(
                header::CONTENT_TYPE,
                header_value(&multipart.content_type())?,
            );
            let length = multipart.content_length();
            let body = if head {
                Body::empty()
            } else {
                multipart_body(&state, record, multipart)
            };
            (StatusCode::PARTIAL_CONTENT, length, body)
        }
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    Ok(answer(status, headers, may_compress, body))
}

fn answer(
    status: StatusCode,
    headers: HeaderMap,
    may_compress: MayCompress,
    body: Body,
) -> Response {
    let mut response = (status, headers, body).into_response();
    response.extensions_mut().insert(may_compress);
    response
}

/// The parts of a `multipart/byteranges` answer, each read from the copies
/// when the one before it has been sent.
fn multipart_body(state: &AppState, record: ContentRecord, multipart: Multipart) -> Body {
    let objects = state.objects.clone();
    let record = Arc::new(record);
    Body::from_stream(multipart.body(move |range| {
        let (objects, record) = (objects.clone(), record.clone());
        async move {
            objects
                .read(&record, Some(range))
                .await
                .map_err(io::Error::other)
        }
    }))
}

/// Who the answer was for, by what allowed the read.
fn audience(grant: Grant) -> Audience {
    match grant {
        Grant::Public => Audience::Everyone,
        Grant::Token => Audience::Token,
        Grant::Link { expires } => {
            let left = expires - chrono::Utc::now().timestamp();
            Audience::Link {
                seconds_left: left.max(0) as u64,
            }
        }
    }
}

fn header_value(text: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(text)
        .map_err(|err| ApiError::Internal(anyhow::anyhow!("header value {text:?}: {err}")))
}
