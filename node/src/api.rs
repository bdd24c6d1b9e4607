//! The node's HTTP routes (internal: only the distributor calls them,
//! with the node secret; see `auth`).

use axum::Json;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post, put};
use cdn_common::BlobKey;
use cdn_common::wire::{Inventory, NodeStats, ScrubReport, StoredBlob};

use crate::AppState;
use crate::error::NodeError;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/blobs", get(inventory))
        .route(
            "/blobs/{key}",
            put(put_blob)
                .get(get_blob)
                .head(get_blob)
                .delete(delete_blob),
        )
        .route("/scrub", post(scrub))
        .route("/stats", get(stats))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(crate::metrics::render))
        .fallback(|| async { NodeError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { NodeError::MethodNotAllowed })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::guard,
        ))
        .layer(cdn_common::observe::layer())
        .with_state(state)
}

async fn put_blob(
    State(state): State<AppState>,
    Path(key): Path<String>,
    request: Request,
) -> Result<Json<StoredBlob>, NodeError> {
    let key = BlobKey::parse(&key)?;
    let expected_len = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse().ok());
    let body = request.into_body().into_data_stream();
    let stored = state.store.write(&key, expected_len, body).await?;
    tracing::debug!(key = %stored.key, size = stored.size, "blob stored");
    Ok(Json(stored))
}

/// Serves the blob, whole or one `Range`, streamed, every block checked
/// (see `serve`).
async fn get_blob(
    State(state): State<AppState>,
    Path(key): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, NodeError> {
    let key = BlobKey::parse(&key)?;
    crate::serve::blob(&state.store, &key, &method, &headers)
        .await?
        .ok_or_else(|| NodeError::NotFound(format!("no blob with key {key}")))
}

async fn delete_blob(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<StatusCode, NodeError> {
    let key = BlobKey::parse(&key)?;
    if state.store.delete(&key).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(NodeError::NotFound(format!("no blob with key {key}")))
    }
}

async fn inventory(State(state): State<AppState>) -> Result<Json<Inventory>, NodeError> {
    Ok(Json(Inventory {
        blobs: state.store.inventory().await?,
    }))
}

/// Checks every blob now and reports the corrupt ones.
async fn scrub(State(state): State<AppState>) -> Result<Json<ScrubReport>, NodeError> {
    Ok(Json(state.store.scrub().await?))
}

async fn stats(State(state): State<AppState>) -> Json<NodeStats> {
    let memory = state.memory.read();
    let storage = state.store.used_bytes();
    let max_storage = state.store.max_bytes();
    let storagep = if max_storage == 0 {
        100.0
    } else {
        storage as f64 * 100.0 / max_storage as f64
    };
    Json(NodeStats {
        node_id: state.config.node_id.clone(),
        memory: memory.used,
        memory_total: memory.total,
        storage,
        storagep,
        max_storage,
        objects: state.store.objects(),
        public_url: state.config.public_url.clone(),
    })
}
