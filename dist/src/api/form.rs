//! Uploads from `multipart/form-data` forms: every `file` field is stored,
//! in order, as one write (when a file fails, those stored before it are
//! removed again).
//!
//! A browser form cannot send a bearer header, so a `token` field stands
//! for it when there is none. Such a form must come from this site's own
//! pages (`Sec-Fetch-Site`), and until its token field has proved who
//! sends it, it may send only [`PRE_LOGIN_BUDGET`] bytes: the token and a
//! visibility fit, a file does not. So an anonymous caller can make the
//! distributor read, parse and claim only that much.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, BodyDataStream};
use axum::extract::multipart::Field;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::HeaderMap;
use bytes::Bytes;
use cdn_common::wire::{Scope, Visibility};
use futures::Stream;

use super::access::Caller;
use super::upload::{Write, store};
use crate::catalog::ContentRecord;
use crate::error::ApiError;
use crate::objects::NewObject;
use crate::state::AppState;

/// What an anonymous form may send before its token field (give or take
/// the one chunk that crosses it).
pub const PRE_LOGIN_BUDGET: u64 = 64 * 1024;

/// The longest text field a form may carry (a token, a visibility).
const MAX_FORM_TEXT: usize = 1024;

/// The most files one form may store: its page lists them all.
pub const MAX_FILES: usize = 100;

/// What a form's own fields may say, besides its files.
pub struct Fields {
    /// From the bearer header, or else from the form's `token` field.
    pub caller: Caller,
    /// A name from the URL or a header wins over the browser's.
    pub named: Option<String>,
    pub visibility: Option<Visibility>,
}

/// A form that relies on its token field must have been sent by a page of
/// this site (or typed by hand): another site's page could otherwise post
/// its own token's uploads and show them on this origin.
pub fn check_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers
        .get("sec-fetch-site")
        .and_then(|value| value.to_str().ok())
    {
        None | Some("same-origin" | "none") => Ok(()),
        Some(_) => Err(ApiError::Forbidden(
            "a form upload without a bearer header is taken only from this site's own pages".into(),
        )),
    }
}

/// Stores every `file` field of the form in `request`, in order. `budget`
/// limits what may come before the token field when there is no bearer
/// header.
pub async fn receive(
    state: &AppState,
    write: Write,
    mut fields: Fields,
    budget: Option<&PreLogin>,
    request: Request,
) -> Result<Vec<ContentRecord>, ApiError> {
    let mut form = Multipart::from_request(request, state)
        .await
        .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let mut stored: Vec<ContentRecord> = Vec::new();
    let outcome = async {
        while let Some(field) = form.next_field().await? {
            match field.name() {
                Some("token") if budget.is_some() => {
                    let secret = bounded_text(field).await?;
                    // A token field left empty is no token.
                    if !secret.trim().is_empty() {
                        let principal = state.access.authenticate(secret.trim()).await?;
                        fields.caller = Caller(Some(principal));
                        if let Some(budget) = budget {
                            budget.sign_in();
                        }
                    }
                }
                Some("visibility") => {
                    if !stored.is_empty() {
                        return Err(ApiError::BadRequest(
                            "the visibility field must come before the files it is for".into(),
                        ));
                    }
                    let text = bounded_text(field).await?;
                    let asked = text.trim().parse().map_err(ApiError::BadRequest)?;
                    // A visibility in the URL or a header wins.
                    fields.visibility.get_or_insert(asked);
                }
                // What a browser sends for a file input left empty.
                Some("file") if field.file_name() == Some("") => {}
                Some("file") => {
                    require_write(&fields.caller)?;
                    if stored.len() == MAX_FILES {
                        return Err(ApiError::BadRequest(format!(
                            "one form may upload {MAX_FILES} files at most"
                        )));
                    }
                    if let Write::Replace(_) = write
                        && fields.visibility.is_some()
                    {
                        // As for the header: public again needs `read`.
                        fields.caller.require(Scope::Read)?;
                    }
                    let new = NewObject {
                        filename: fields
                            .named
                            .clone()
                            .or_else(|| field.file_name().map(str::to_owned)),
                        content_type: field
                            .content_type()
                            .filter(|value| *value != "application/octet-stream")
                            .map(str::to_owned),
                        len: None,
                        visibility: fields.visibility,
                    };
                    stored.push(store(state, write, new, Box::pin(field)).await?);
                    if let Write::Replace(_) = write {
                        // Done: a replacement is one file, and what follows
                        // must not turn a stored version into an error.
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
        if stored.is_empty() {
            return Err(ApiError::BadRequest(
                "the form has no file: choose at least one (a field named \"file\")".into(),
            ));
        }
        Ok(())
    };
    match outcome.await {
        Ok(()) => Ok(stored),
        Err(err) => {
            if let Write::Create = write {
                for record in &stored {
                    if let Err(cleanup) = state.objects.delete(record.id).await {
                        tracing::warn!(id = %record.id, error = %cleanup, "cannot remove a file of a failed form upload");
                    }
                }
            }
            Err(err)
        }
    }
}

/// `write` is needed for a file; without any credential, say where a
/// form puts one.
fn require_write(caller: &Caller) -> Result<(), ApiError> {
    if caller.0.is_none() {
        return Err(ApiError::Unauthorized(
            "uploading needs a token with the write scope: a bearer header, or the form's \
             token field before its files"
                .into(),
        ));
    }
    caller.require(Scope::Write).map(drop)
}

/// A short text field, read whole.
async fn bounded_text(mut field: Field<'_>) -> Result<String, ApiError> {
    let name = field.name().unwrap_or("").to_owned();
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await? {
        if bytes.len() + chunk.len() > MAX_FORM_TEXT {
            return Err(ApiError::BadRequest(format!(
                "the form field {name:?} is longer than {MAX_FORM_TEXT} bytes"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes)
        .map_err(|_| ApiError::BadRequest(format!("the form field {name:?} is not UTF-8")))
}

/// How much of an anonymous form has arrived, and whether its token field
/// has signed it in.
#[derive(Clone, Default)]
pub struct PreLogin(Arc<Budget>);

#[derive(Default)]
struct Budget {
    signed_in: AtomicBool,
    exceeded: AtomicBool,
    received: AtomicU64,
}

impl PreLogin {
    /// `request` with a body that ends in an error once it passes the
    /// budget unsigned.
    pub fn wrap(request: Request) -> (Request, PreLogin) {
        let budget = PreLogin::default();
        let (parts, body) = request.into_parts();
        let limited = Limited {
            body: body.into_data_stream(),
            budget: budget.clone(),
        };
        (
            Request::from_parts(parts, Body::from_stream(limited)),
            budget,
        )
    }

    fn sign_in(&self) {
        self.0.signed_in.store(true, Ordering::Release);
    }

    /// The answer for a failed form: why its body was cut, if it was.
    pub fn explain(&self, err: ApiError) -> ApiError {
        if self.0.exceeded.load(Ordering::Acquire) {
            return ApiError::Unauthorized(format!(
                "a form without a bearer header must send its token field first, within \
                 its first {PRE_LOGIN_BUDGET} bytes"
            ));
        }
        err
    }
}

/// A body held to the budget until the form signs in.
struct Limited {
    body: BodyDataStream,
    budget: PreLogin,
}

impl Stream for Limited {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = Pin::new(&mut self.body).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &next {
            let budget = &self.budget.0;
            // Judged by what came before this chunk: a first chunk may hold
            // the token field and the start of a file at once.
            let before = budget
                .received
                .fetch_add(chunk.len() as u64, Ordering::AcqRel);
            if before >= PRE_LOGIN_BUDGET && !budget.signed_in.load(Ordering::Acquire) {
                budget.exceeded.store(true, Ordering::Release);
                return Poll::Ready(Some(Err(axum::Error::new(std::io::Error::other(
                    "the form sent more than its budget before its token field",
                )))));
            }
        }
        next
    }
}
