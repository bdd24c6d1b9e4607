//! The distributor: the mini CDN's public front door. It keeps content
//! metadata in PostgreSQL, watches the storage nodes, places each upload and
//! streams bytes between clients and nodes.
//!
//! # Layout
//!
//! - [`config`]: settings from the environment, node ids.
//! - `routes`: the public HTTP API, one module per group of routes.
//! - `transfer`: streaming one body to every node chosen for its copies,
//!   and copying a blob from node to node.
//! - `delivery`: conditional requests, ranges, `Content-Disposition`.
//! - `read`: reading bytes from the copies, with failover and checksums.
//! - `catalog`: everything in PostgreSQL; the only module with SQL.
//! - `cluster`: the nodes' health and stats, and the polling loop.
//! - `placement`: which nodes get a new object (a pure function).
//! - `node_client`: calls to the nodes' internal API.
//! - `janitor`: removing blobs that no metadata points at.
//! - `repair`: restoring missing, lost and corrupt copies; removing orphans
//!   and surplus copies.
//! - `metrics`: `GET /metrics`: node health, placements, repairs.
//! - `error`: the one error type and its statuses.
//! - `every`: the tick of the background tasks, until shutdown.

pub mod config;

mod catalog;
mod cluster;
mod delivery;
mod error;
mod every;
mod janitor;
mod metrics;
mod node_client;
mod placement;
mod read;
mod repair;
mod routes;
mod transfer;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::PgPoolOptions;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::catalog::Catalog;
use crate::cluster::Cluster;
use crate::config::Config;
use crate::node_client::NodeClient;
use crate::repair::Repairer;
use crate::routes::AppState;

/// Connects to PostgreSQL, applies the migrations, starts polling the nodes
/// and serves the API on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    metrics::init();
    let pool = PgPoolOptions::new()
        .max_connections(16)
        // A request waits this long for the database, then fails with 503
        // rather than hang while PostgreSQL is away.
        .acquire_timeout(Duration::from_secs(3))
        // Not a ping before every query: that doubled the round trips of a
        // GET. A connection that died is found by its next query instead.
        .test_before_acquire(false)
        .connect(&config.database_url)
        .await
        .context("DATABASE_URL: cannot connect to PostgreSQL")?;
    catalog::MIGRATOR
        .run(&pool)
        .await
        .context("applying database migrations")?;
    let catalog = Catalog::new(pool);
    let abandoned = catalog.abandon_unfinished_uploads().await?;
    if abandoned > 0 {
        tracing::info!(
            copies = abandoned,
            "removing copies of uploads interrupted by the last stop"
        );
    }

    let cluster = Arc::new(Cluster::new(&config.nodes, config.down_after));
    let nodes = NodeClient::new().context("building the HTTP client for the nodes")?;
    // Know who is up before the first request is placed.
    cluster.poll(&nodes, Duration::from_secs(2)).await;

    let repairer = Repairer {
        catalog: catalog.clone(),
        cluster: cluster.clone(),
        client: nodes.clone(),
        replication: config.replication,
        grace: config.repair_grace,
        orphan_grace: config.orphan_grace,
        counters: Arc::default(),
    };
    let stop = CancellationToken::new();
    let background = [
        tokio::spawn(cluster::poll_forever(
            cluster.clone(),
            nodes.clone(),
            config.poll_interval,
            stop.clone(),
        )),
        tokio::spawn(repairer.clone().run(config.repair_interval, stop.clone())),
        tokio::spawn(janitor::run(
            catalog.clone(),
            cluster.clone(),
            nodes.clone(),
            config.poll_interval,
            stop.clone(),
        )),
    ];

    let state = AppState {
        catalog,
        cluster,
        nodes,
        replication: config.replication,
        repair: repairer.counters.clone(),
        public_url: config.public_url.as_deref().map(Arc::from),
    };
    tracing::info!(
        addr = %listener.local_addr()?,
        nodes = config.nodes.len(),
        replication = config.replication,
        "distributor listening"
    );
    let served = axum::serve(
        cdn_common::service::no_delay(listener),
        routes::router(state),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("serving HTTP");
    stop.cancel();
    for task in background {
        let _ = task.await;
    }
    served
}
