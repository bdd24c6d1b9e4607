//! The cluster's state: nodes, stats, liveness and readiness.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use cdn_common::wire::{ClusterStats, NodeList, NodeStatsEntry, Totals};

use super::AppState;
use crate::error::ApiError;

pub async fn nodes(State(state): State<AppState>) -> Json<NodeList> {
    Json(NodeList {
        nodes: state
            .cluster
            .nodes()
            .iter()
            .map(|node| node.info())
            .collect(),
    })
}

pub async fn stats(State(state): State<AppState>) -> Result<Json<ClusterStats>, ApiError> {
    let nodes: Vec<NodeStatsEntry> = state
        .cluster
        .nodes()
        .iter()
        .map(|node| NodeStatsEntry {
            id: node.id.to_string(),
            status: node.status(),
            stats: node.stats(),
        })
        .collect();
    let reported = || nodes.iter().filter_map(|node| node.stats.as_ref());
    let totals = Totals {
        storage: reported().map(|stats| stats.storage).sum(),
        max_storage: reported().map(|stats| stats.max_storage).sum(),
        objects: state.catalog.count().await? as u64,
    };
    Ok(Json(ClusterStats {
        nodes,
        totals,
        repair: state.repair.snapshot(),
    }))
}

pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers and at least one node is up.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.catalog.ping().await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable");
    }
    if !state.cluster.any_up() {
        return (StatusCode::SERVICE_UNAVAILABLE, "no storage node is up");
    }
    (StatusCode::OK, "ready")
}
