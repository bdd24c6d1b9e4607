//! The dashboard's routes: its files, and the pages made on the server for
//! browsers without JavaScript (`dashboard::pages`). A page answers as the
//! API would (same access rule, same status), in HTML.

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::Markup;
use serde::Deserialize;
use tower_http::set_header::SetResponseHeaderLayer;

use super::access::{Caller, LinkParams, may_read};
use super::content::view;
use super::parse_id;
use crate::dashboard::{self, CONTENT_SECURITY_POLICY, assets};
use crate::error::ApiError;
use crate::state::AppState;

/// The most objects one uploads page lists: a form's files.
const MAX_LISTED: usize = super::form::MAX_FILES;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(assets::index))
        .route("/ui/content/{id}", get(content))
        .route("/ui/uploads", get(uploads))
        .route("/ui/{file}", get(assets::file))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            CONTENT_SECURITY_POLICY,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
}

async fn content(
    caller: Caller,
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    link: Result<Query<LinkParams>, QueryRejection>,
) -> Response {
    let shown = async {
        let Path(id) = id.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
        let Query(link) = link?;
        let record = state.objects.get(parse_id(&id)?).await?;
        may_read(&state, &caller, &record, Some(&link))?;
        Ok(view(&state, &headers, &record))
    };
    match shown.await {
        Ok(item) => page(dashboard::pages::content(&item)),
        Err(err) => error_page(err, dashboard::pages::unavailable),
    }
}

#[derive(Debug, Deserialize)]
struct UploadsParams {
    /// Comma-separated content ids.
    ids: String,
}

/// The objects of one form upload; those the caller may not read (or
/// that are gone) are counted, not shown.
async fn uploads(
    caller: Caller,
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<UploadsParams>, QueryRejection>,
) -> Response {
    let listed = async {
        let Query(params) = params?;
        let mut ids = params
            .ids
            .split(',')
            .map(parse_id)
            .collect::<Result<Vec<_>, _>>()?;
        // Each id is one catalogue read: never the same one twice.
        let mut seen = std::collections::HashSet::new();
        ids.retain(|id| seen.insert(*id));
        if ids.len() > MAX_LISTED {
            return Err(ApiError::BadRequest(format!(
                "one page lists {MAX_LISTED} objects at most"
            )));
        }
        let mut items = Vec::with_capacity(ids.len());
        for id in &ids {
            if let Ok(record) = state.objects.get(*id).await
                && may_read(&state, &caller, &record, None).is_ok()
            {
                items.push(view(&state, &headers, &record));
            }
        }
        let hidden = ids.len() - items.len();
        Ok(dashboard::pages::uploads(&items, hidden))
    };
    match listed.await {
        Ok(markup) => page(markup),
        Err(err) => error_page(err, dashboard::pages::unavailable),
    }
}

/// An HTML answer.
pub fn page(markup: Markup) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        markup.into_string(),
    )
        .into_response()
}

/// The API's answer to `err` (status and headers, logged alike) with a
/// page instead of JSON.
pub fn error_page(err: ApiError, render: fn(&str) -> Markup) -> Response {
    let markup = render(&err.public_message());
    let mut response = err.into_response();
    *response.body_mut() = Body::from(markup.into_string());
    let headers = response.headers_mut();
    headers.remove(header::CONTENT_LENGTH);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // The form pages are not under the dashboard's routes.
    headers.insert(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    response
}
