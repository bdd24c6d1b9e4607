//! The cluster's state: nodes, stats, recent placements, metrics,
//! liveness and readiness.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use cdn_common::wire::{ClusterStats, NodeList, NodeStatsEntry, PlacementLog, Scope, Totals};

use super::access::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn nodes(State(state): State<AppState>) -> Json<NodeList> {
    Json(NodeList {
        nodes: state
            .objects
            .cluster()
            .nodes()
            .iter()
            .map(|node| node.info())
            .collect(),
    })
}

pub async fn stats(State(state): State<AppState>) -> Result<Json<ClusterStats>, ApiError> {
    let nodes: Vec<NodeStatsEntry> = state
        .objects
        .cluster()
        .nodes()
        .iter()
        .map(|node| NodeStatsEntry {
            id: node.id.clone(),
            status: node.status(),
            stats: node.stats(),
        })
        .collect();
    let reported = || nodes.iter().filter_map(|node| node.stats.as_ref());
    let totals = Totals {
        storage: reported().map(|stats| stats.storage).sum(),
        max_storage: reported().map(|stats| stats.max_storage).sum(),
        objects: state.objects.count().await?,
    };
    Ok(Json(ClusterStats {
        nodes,
        totals,
        repair: state.objects.health().snapshot(),
        cache: state.objects.cache_stats().await,
    }))
}

/// `GET /placements`: where the latest writes went and why. It names
/// objects, so it follows the listing's rule: `read`, or public objects
/// alone when listing is open.
pub async fn placements(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<Json<PlacementLog>, ApiError> {
    let include_private = caller.allows(Scope::Read);
    if !include_private && !state.access.public_listing() {
        caller.require(Scope::Read)?;
    }
    Ok(Json(PlacementLog {
        placements: state.objects.latest_placements(include_private),
    }))
}

/// `GET /metrics`: the node figures as known now, then every metric. It
/// tells how the cluster is built and used, so it needs an admin token
/// unless the operator opens it (`PUBLIC_METRICS=true`).
pub async fn metrics(caller: Caller, State(state): State<AppState>) -> Result<Response, ApiError> {
    if !state.public_metrics {
        caller.require(Scope::Admin)?;
    }
    crate::metrics::observe_cluster(state.objects.cluster());
    crate::metrics::observe_cache(&state.objects.cache_stats().await);
    Ok(cdn_common::observe::metrics_response())
}

pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers and at least one node is up.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.objects.catalog().ping().await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable");
    }
    if !state.objects.cluster().any_up() {
        return (StatusCode::SERVICE_UNAVAILABLE, "no storage node is up");
    }
    (StatusCode::OK, "ready")
}
