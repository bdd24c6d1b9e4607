//! The native HTTP API: each handler reads its request, calls the object
//! layer and writes the answer.
//!
//! - `upload`: `POST /content`, `PUT /content/{id}`; `form`: the files of
//!   a multipart form, and its `token` field.
//! - `listing`: `GET /content`, filtered and sorted pages.
//! - `content`: metadata: describe, rename, delete.
//! - `data`: the bytes, `GET`/`HEAD /content/{id}/data`; `redirect`: the
//!   signed node URL of `?redirect=1`.
//! - `cluster`: `/nodes`, `/stats`, `/placements`, `/metrics`, health and
//!   readiness.
//! - `pages`: the dashboard at `/` and `/ui/…`, and the pages a browser
//!   form upload lands on.
//! - `access`: the bearer-token extractors and the rule for reading
//!   private content; `tokens`: the admin API; `share`: presigned links;
//!   `keys`: the admin API of S3 access keys; `buckets`: a bucket made
//!   public or private.

mod access;
mod buckets;
mod cluster;
mod content;
mod data;
mod form;
mod keys;
mod listing;
mod pages;
mod redirect;
mod share;
mod tokens;
mod upload;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::routing::{get, post};
use tower_http::set_header::SetResponseHeaderLayer;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/content",
            post(upload::create.layer(DefaultBodyLimit::disable())).get(listing::list),
        )
        .route(
            "/content/{id}",
            get(content::info)
                .put(upload::replace.layer(DefaultBodyLimit::disable()))
                .patch(content::patch)
                .delete(content::remove),
        )
        .route("/content/{id}/data", get(data::bytes))
        .route("/content/{id}/share", post(share::share))
        .route("/tokens", post(tokens::create).get(tokens::list))
        .route("/tokens/current", get(tokens::current))
        .route("/tokens/{id}", axum::routing::delete(tokens::revoke))
        .route("/keys", post(keys::create).get(keys::list))
        .route("/keys/{id}", axum::routing::delete(keys::revoke))
        .route("/buckets/{name}", axum::routing::patch(buckets::patch))
        .route("/nodes", get(cluster::nodes))
        .route("/stats", get(cluster::stats))
        .route("/placements", get(cluster::placements))
        .route("/healthz", get(cluster::healthz))
        .route("/readyz", get(cluster::readyz))
        .route("/metrics", get(cluster::metrics))
        .merge(pages::routes())
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        // Only the two upload routes take bodies of any size (streamed to
        // the nodes, whose room is the limit); every other body is JSON.
        .layer(DefaultBodyLimit::max(state.max_json_bytes))
        // Text-like answers, bytes and JSON alike, as the client accepts.
        .layer(crate::edge::encoding::layer())
        .layer(axum::middleware::map_response(
            crate::edge::encoding::after_compression,
        ))
        // Every answer, JSON errors that echo input included, is taken as
        // the type it says it is.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(crate::edge::cors::layer(&state.cors_origins))
        .layer(cdn_common::observe::layer())
        .with_state(state)
}

fn parse_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(text)
        .map_err(|_| ApiError::BadRequest(format!("{text:?} is not a content id (a UUID)")))
}

/// The scheme and authority clients used to reach the distributor.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.public_url {
        return url.to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or("localhost:8000");
    format!("http://{host}")
}
