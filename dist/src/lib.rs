//! The distributor: the mini CDN's public front door. It keeps content
//! metadata in PostgreSQL, watches the storage nodes, places each upload and
//! streams bytes between clients and nodes.
//!
//! # Layout
//!
//! Layers, each importing only those below it:
//!
//! - `api`: the native HTTP API (routes, request parsing, JSON answers).
//! - `s3`: the S3-compatible API on its own listener (`S3_LISTEN_ADDR`),
//!   speaking the protocol through `s3s` and calling `objects` like `api`.
//! - `edge`: HTTP delivery semantics: validators, conditional requests,
//!   ranges, `Content-Disposition`, `Cache-Control`, compression. Pure
//!   functions, and the layers that apply them.
//! - `upkeep`: the background tasks: polling, janitor, repair.
//! - `auth`: who may do what: tokens and their scopes, the admin token
//!   made at first start, presigned links. Beside `objects`, on `catalog`.
//! - `objects`: the service layer: write, replace, rename, delete, read and
//!   replicate objects. Every front and every task goes through it.
//! - `catalog`: everything in PostgreSQL; the only module with SQL.
//! - `cluster`: the nodes' health and stats, placement, and the node client.
//!
//! Beside them: [`config`] (settings), `state` (what handlers share),
//! `error` (the one error type and its statuses) and `metrics`.

pub mod config;

mod api;
mod auth;
mod catalog;
mod cluster;
mod dashboard;
mod edge;
mod error;
mod metrics;
mod objects;
mod s3;
mod state;
mod upkeep;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::net::TcpListener;

use crate::catalog::{Catalog, ChangeFollower};
use crate::cluster::{Cluster, NodeClient};
use crate::config::Config;
use crate::objects::{HotObjects, Objects};
use crate::state::AppState;
use crate::upkeep::Upkeep;

/// Connects to PostgreSQL, applies the migrations, starts polling the nodes
/// and serves the API on `listener`, and the S3 API on `S3_LISTEN_ADDR`
/// (announced on stdout as `s3 listening on ADDR`), until `shutdown`
/// completes.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let s3_listener = TcpListener::bind(config.s3_listen_addr)
        .await
        .with_context(|| format!("S3_LISTEN_ADDR: cannot listen on {}", config.s3_listen_addr))?;
    // Its port, when 0 was asked for, goes to whoever started this.
    cdn_common::service::announce_as("s3", &s3_listener)?;
    run_with_s3(listener, s3_listener, config, shutdown).await
}

/// [`run`] with the S3 API on a listener bound already (a test's port 0).
pub async fn run_with_s3(
    listener: TcpListener,
    s3_listener: TcpListener,
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
        .connect_with(connect_options(&config.database_url)?)
        .await
        .context("DATABASE_URL: cannot connect to PostgreSQL")?;
    catalog::MIGRATOR
        .run(&pool)
        .await
        .context("applying database migrations")?;
    let catalog = Catalog::new(pool);
    let access = auth::Access::start(catalog.clone(), &config).await?;
    let abandoned = catalog.abandon_unfinished_uploads().await?;
    if abandoned > 0 {
        tracing::info!(
            copies = abandoned,
            "removing copies of uploads interrupted by the last stop"
        );
    }

    let cluster = Arc::new(Cluster::new(&config.nodes, config.down_after));
    let nodes = NodeClient::new(config.node_secret.clone())
        .context("building the HTTP client for the nodes")?;
    // Know who is up before the first request is placed.
    cluster.poll(&nodes, Duration::from_secs(2)).await;

    let changes = ChangeFollower::start(&catalog).await;
    let hot = HotObjects::new(config.cache_size, config.cache_max_object);
    let objects = Objects::new(
        catalog,
        cluster,
        nodes,
        config.replication,
        Arc::default(),
        hot,
    );
    let upkeep = Upkeep::start(&objects, &config);
    let s3_router = s3::router(
        objects.clone(),
        access.clone(),
        &config.s3_region,
        &config.s3_domains,
    );
    let state = AppState {
        objects,
        public_url: config.public_url.as_deref().map(Arc::from),
        access,
        admission: edge::admission::Admission::new(
            config.max_upload_reservation,
            config.max_upload_reservation_per_client,
        ),
        max_json_bytes: config.max_json_bytes,
        public_metrics: config.public_metrics,
        cors_origins: config.cors_origins.as_slice().into(),
        cache_max_age: config.cache_max_age,
    };
    tracing::info!(
        addr = %listener.local_addr()?,
        s3_addr = %s3_listener.local_addr()?,
        nodes = config.nodes.len(),
        replication = config.replication,
        "distributor listening"
    );
    // One signal stops both listeners.
    let shutdown = futures::FutureExt::shared(Box::pin(shutdown));
    let http_limits = config.http_limits.clone();
    tokio::join!(
        cdn_common::serve::serve(
            listener,
            api::router(state),
            http_limits.clone(),
            shutdown.clone()
        ),
        cdn_common::serve::serve(s3_listener, s3_router, http_limits, shutdown),
    );
    upkeep.stop().await;
    changes.stop().await;
    Ok(())
}

/// The database settings of `DATABASE_URL`, and a limit on how long a
/// session may sit idle inside a transaction: should one ever be left open,
/// its row locks are released within seconds rather than never.
fn connect_options(url: &str) -> anyhow::Result<PgConnectOptions> {
    let options: PgConnectOptions = url.parse().context("DATABASE_URL: not a PostgreSQL URL")?;
    Ok(options.options([("idle_in_transaction_session_timeout", "15s")]))
}
