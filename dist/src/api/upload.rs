//! Writing bytes: `POST /content` and `PUT /content/{id}`, from a raw body
//! or a browser form's `file` field. This module only reads the request;
//! the object layer stores the bytes.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use cdn_common::wire::{Content, Scope, Visibility};
use percent_encoding::percent_decode_str;
use serde::Deserialize;

use super::access::{Caller, Writer};
use super::content::view;
use super::parse_id;
use crate::catalog::ContentRecord;
use crate::error::ApiError;
use crate::objects::NewObject;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct UploadParams {
    filename: Option<String>,
    /// `public` or `private`; also taken from `X-Visibility`.
    visibility: Option<String>,
}

/// Which write a request asks for.
#[derive(Clone, Copy)]
enum Write {
    Create,
    Replace(uuid::Uuid),
}

pub async fn create(
    _writer: Writer,
    State(state): State<AppState>,
    params: Result<Query<UploadParams>, QueryRejection>,
    request: Request,
) -> Result<impl IntoResponse, ApiError> {
    let Query(params) = params?;
    let headers = request.headers().clone();
    let record = receive(&state, Write::Create, params, request).await?;
    let location =
        HeaderValue::from_str(&format!("/content/{}", record.id)).map_err(anyhow::Error::from)?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view(&state, &headers, &record)),
    ))
}

pub async fn replace(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Result<Query<UploadParams>, QueryRejection>,
    request: Request,
) -> Result<Json<Content>, ApiError> {
    caller.require(Scope::Write)?;
    let id = parse_id(&id)?;
    let Query(params) = params?;
    if params.visibility.is_some() || request.headers().contains_key(VISIBILITY_HEADER) {
        // Making private content public would let a write-only token read it.
        caller.require(Scope::Read)?;
    }
    let headers = request.headers().clone();
    let record = receive(&state, Write::Replace(id), params, request).await?;
    Ok(Json(view(&state, &headers, &record)))
}

/// Admits the upload (its storage claim, before any node is asked; see
/// `edge::admission`), then stores it; a body cut for stalling or for
/// claiming too much is answered as such.
async fn receive(
    state: &AppState,
    write: Write,
    params: UploadParams,
    request: Request,
) -> Result<ContentRecord, ApiError> {
    let (request, upload) = state.admission.admit(request)?;
    read_and_store(state, write, params, request)
        .await
        .map_err(|err| upload.explain(err))
}

/// Reads the name, type and length the request gives, and has the object
/// layer store its bytes.
async fn read_and_store(
    state: &AppState,
    write: Write,
    params: UploadParams,
    request: Request,
) -> Result<ContentRecord, ApiError> {
    let headers = request.headers();
    let filename = match params.filename {
        Some(name) => Some(name),
        None => header_filename(headers)?,
    };
    let visibility = requested_visibility(params.visibility.as_deref(), headers)?;
    let declared_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    if declared_type
        .as_deref()
        .is_some_and(|value| value.starts_with("multipart/form-data"))
    {
        return receive_form(state, write, filename, visibility, request).await;
    }
    let new = NewObject {
        filename,
        // curl sends this type for `--data-binary` unless told otherwise:
        // it says nothing about the file.
        content_type: declared_type
            .filter(|value| !value.starts_with("application/x-www-form-urlencoded")),
        len: headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.parse().ok()),
        visibility,
    };
    store(state, write, new, request.into_body().into_data_stream()).await
}

/// Takes the bytes of the form's `file` field; a name in the URL or header
/// wins over the one the browser sent.
async fn receive_form(
    state: &AppState,
    write: Write,
    named: Option<String>,
    visibility: Option<Visibility>,
    request: Request,
) -> Result<ContentRecord, ApiError> {
    let mut form = Multipart::from_request(request, state)
        .await
        .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    while let Some(field) = form.next_field().await? {
        if field.name() != Some("file") {
            continue;
        }
        let new = NewObject {
            filename: named.or_else(|| field.file_name().map(str::to_owned)),
            content_type: field
                .content_type()
                .filter(|value| *value != "application/octet-stream")
                .map(str::to_owned),
            len: None,
            visibility,
        };
        return store(state, write, new, Box::pin(field)).await;
    }
    Err(ApiError::BadRequest(
        "the form has no field named \"file\"".into(),
    ))
}

async fn store<S, E>(
    state: &AppState,
    write: Write,
    new: NewObject,
    body: S,
) -> Result<ContentRecord, ApiError>
where
    S: futures::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    match write {
        Write::Create => state.objects.create(new, body).await,
        Write::Replace(id) => state.objects.replace(id, new, body).await,
    }
}

const VISIBILITY_HEADER: &str = "x-visibility";

/// `?visibility=`, else `X-Visibility`; `None` leaves it to the object
/// layer (public for a new object, unchanged for a replacement).
fn requested_visibility(
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Option<Visibility>, ApiError> {
    let text = match query {
        Some(text) => Some(text),
        None => match headers.get(VISIBILITY_HEADER) {
            Some(value) => Some(value.to_str().map_err(|_| {
                ApiError::BadRequest("X-Visibility must be public or private".into())
            })?),
            None => None,
        },
    };
    text.map(|text| text.parse().map_err(ApiError::BadRequest))
        .transpose()
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
