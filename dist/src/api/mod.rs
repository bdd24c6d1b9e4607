//! The native HTTP API: each handler reads its request, calls the object
//! layer and writes the answer.
//!
//! - `upload`: `POST /content`, `PUT /content/{id}`.
//! - `content`: metadata: list, describe, rename, delete.
//! - `data`: the bytes, `GET`/`HEAD /content/{id}/data`.
//! - `cluster`: `/nodes`, `/stats`, `/metrics`, health and readiness.

mod cluster;
mod content;
mod data;
mod upload;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/content", post(upload::create).get(content::list))
        .route(
            "/content/{id}",
            get(content::info)
                .put(upload::replace)
                .patch(content::patch)
                .delete(content::remove),
        )
        .route("/content/{id}/data", get(data::bytes))
        .route("/nodes", get(cluster::nodes))
        .route("/stats", get(cluster::stats))
        .route("/healthz", get(cluster::healthz))
        .route("/readyz", get(cluster::readyz))
        .route("/metrics", get(cluster::metrics))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        // Uploads are streamed to the nodes, whose room is the only limit.
        .layer(DefaultBodyLimit::disable())
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
