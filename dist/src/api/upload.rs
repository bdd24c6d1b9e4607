//! Writing bytes: `POST /content` and `PUT /content/{id}`, from a raw body
//! or a form's `file` fields. This module only reads the request; the
//! object layer stores the bytes. A browser that posted a form gets a page
//! back (`303` to what it stored, or why nothing was), a program JSON.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cdn_common::wire::{Content, ContentList, Scope, Visibility};
use percent_encoding::percent_decode_str;
use serde::Deserialize;

use super::access::Caller;
use super::content::view;
use super::{form, pages, parse_id};
use crate::catalog::ContentRecord;
use crate::dashboard;
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
pub(super) enum Write {
    Create,
    Replace(uuid::Uuid),
}

pub async fn create(
    caller: Caller,
    State(state): State<AppState>,
    params: Result<Query<UploadParams>, QueryRejection>,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let stored = async {
        let Query(params) = params?;
        receive(&state, &caller, Write::Create, params, request).await
    };
    let stored = stored.await;
    if dashboard::wants_page(&headers) {
        return answer_page(stored);
    }
    match stored {
        Ok(records) => answer_json(&state, &headers, records),
        Err(err) => err.into_response(),
    }
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
    let mut records = receive(&state, &caller, Write::Replace(id), params, request).await?;
    let record = records
        .pop()
        .ok_or_else(|| anyhow::anyhow!("a replacement stored nothing"))?;
    Ok(Json(view(&state, &headers, &record)))
}

/// A program's answer: the object made, or all of them when a form sent
/// several files.
fn answer_json(state: &AppState, headers: &HeaderMap, records: Vec<ContentRecord>) -> Response {
    let mut items: Vec<Content> = records
        .iter()
        .map(|record| view(state, headers, record))
        .collect();
    let Some(first) = items.first() else {
        return ApiError::BadRequest("nothing was stored".into()).into_response();
    };
    let location = HeaderValue::from_str(&format!("/content/{}", first.id))
        .expect("a content path is a valid header");
    if items.len() == 1 {
        let item = items.pop().expect("one item");
        return (
            StatusCode::CREATED,
            [(header::LOCATION, location)],
            Json(item),
        )
            .into_response();
    }
    let total = items.len() as u64;
    let list = ContentList {
        items,
        next_cursor: None,
        total,
    };
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(list),
    )
        .into_response()
}

/// A browser's answer: `303 See Other` to a page of what was stored, or a
/// page that says why nothing was.
fn answer_page(stored: Result<Vec<ContentRecord>, ApiError>) -> Response {
    let records = match stored {
        Ok(records) => records,
        Err(err) => return pages::error_page(err, dashboard::pages::upload_failed),
    };
    let target = match records.as_slice() {
        // A private object's page needs a token a browser cannot send on
        // a plain navigation: the uploads page says it is there.
        [one] if one.visibility == Visibility::Public => format!("/ui/content/{}", one.id),
        many => {
            let ids: Vec<String> = many.iter().map(|record| record.id.to_string()).collect();
            format!("/ui/uploads?ids={}", ids.join(","))
        }
    };
    Redirect::to(&target).into_response()
}

/// Admits the upload (its storage claim, before any node is asked; see
/// `edge::admission`), then stores it; a body cut for stalling or for
/// claiming too much is answered as such.
async fn receive(
    state: &AppState,
    caller: &Caller,
    write: Write,
    params: UploadParams,
    request: Request,
) -> Result<Vec<ContentRecord>, ApiError> {
    let kind = Form::of(request.headers());
    match kind {
        Form::Multipart => {}
        // A browser form without `enctype` sends the file's name, not
        // its bytes: storing that would be junk.
        Form::UrlEncoded if dashboard::wants_page(request.headers()) => {
            return Err(ApiError::BadRequest(
                "the form was sent without enctype=\"multipart/form-data\", so the browser \
                 sent only the file's name, not its bytes"
                    .into(),
            ));
        }
        // A raw body: the bearer is checked before a byte of it is read.
        Form::UrlEncoded | Form::None => {
            caller.require(Scope::Write)?;
        }
    }
    let signed_in = caller.0.is_some();
    if kind == Form::Multipart && !signed_in {
        // Until its token field proves who sends it, a form may send only
        // a little, and claims only what it sent.
        form::check_origin(request.headers())?;
        let (request, budget) = form::PreLogin::wrap(request);
        let (request, upload) = state.admission.admit_as_sent(request)?;
        return read_and_store(state, caller, write, params, Some(&budget), request)
            .await
            .map_err(|err| budget.explain(upload.explain(err)));
    }
    let (request, upload) = state.admission.admit(request)?;
    read_and_store(state, caller, write, params, None, request)
        .await
        .map_err(|err| upload.explain(err))
}

/// What kind of body a request carries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Multipart,
    UrlEncoded,
    /// Raw bytes of any other type, or of none.
    None,
}

impl Form {
    fn of(headers: &HeaderMap) -> Form {
        let declared = headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        if declared.starts_with("multipart/form-data") {
            Form::Multipart
        } else if declared.starts_with("application/x-www-form-urlencoded") {
            Form::UrlEncoded
        } else {
            Form::None
        }
    }
}

/// Reads the name, type and length the request gives, and has the object
/// layer store its bytes.
async fn read_and_store(
    state: &AppState,
    caller: &Caller,
    write: Write,
    params: UploadParams,
    budget: Option<&form::PreLogin>,
    request: Request,
) -> Result<Vec<ContentRecord>, ApiError> {
    let kind = Form::of(request.headers());
    let headers = request.headers();
    let filename = match params.filename {
        Some(name) => Some(name),
        None => header_filename(headers)?,
    };
    let visibility = requested_visibility(params.visibility.as_deref(), headers)?;
    if kind == Form::Multipart {
        let fields = form::Fields {
            caller: caller.clone(),
            named: filename,
            visibility,
        };
        return form::receive(state, write, fields, budget, request).await;
    }
    let new = NewObject {
        filename,
        // curl sends this type for `--data-binary` unless told otherwise:
        // it says nothing about the file.
        content_type: (kind == Form::None)
            .then(|| headers.get(header::CONTENT_TYPE))
            .flatten()
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
        len: headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.parse().ok()),
        visibility,
    };
    let body = request.into_body().into_data_stream();
    Ok(vec![store(state, write, new, body).await?])
}

/// Stores one body as a new object or a new version.
pub(super) async fn store<S, E>(
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
