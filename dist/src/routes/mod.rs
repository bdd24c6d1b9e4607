//! The distributor's public HTTP API.

mod cluster;
mod content;
mod data;
mod upload;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use uuid::Uuid;

use crate::catalog::Catalog;
use crate::cluster::Cluster;
use crate::error::ApiError;
use crate::node_client::NodeClient;
use crate::repair::RepairCounters;

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Content metadata in PostgreSQL.
    pub catalog: Catalog,
    /// The storage nodes and their last known health.
    pub cluster: Arc<Cluster>,
    /// The connection pool to the nodes.
    pub nodes: NodeClient,
    /// Copies written of each object.
    pub replication: usize,
    /// What the repair task has found and done, for `/stats`.
    pub repair: Arc<RepairCounters>,
    /// Base of absolute URLs, when configured rather than taken from `Host`.
    pub public_url: Option<Arc<str>>,
}

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
        .route("/metrics", get(crate::metrics::render))
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
