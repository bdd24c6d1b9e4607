//! The storage node: keeps blobs on its own volume and reports its stats.
//!
//! # Layout
//!
//! - [`config`]: settings from the environment.
//! - `store`: blobs on disk, each with a checksum record: opening, the
//!   inventory, deletes and the counters; in it, `write` (streamed via a
//!   temporary file, hashed and block-summed on the way, renamed into
//!   place), `quota` (space reserved against `MAX_STORAGE`), `blocks` (the
//!   CRC32C of each 64 KiB block), `read` (blocks read back, each checked
//!   against its sum), `scrub` (re-reading every blob against its SHA-256)
//!   and `sums` (the checksum records, always whole or absent).
//! - `memory`: memory figures, container-aware.
//! - `api`: the HTTP routes; keys are checked there (`cdn_common::BlobKey`)
//!   before they touch the disk.
//! - `auth`: the node secret every route but `/healthz` needs, and the
//!   signed read URLs the distributor hands out.
//! - `serve`: reading a blob back, whole or one range, from checked blocks.
//! - `metrics`: `GET /metrics`, the storage figures on top of the HTTP ones.
//! - `error`: the one error type and its statuses.
//!
//! The node knows nothing of content, versions or PostgreSQL: it stores
//! opaque blobs by key for the distributor.

pub mod config;

mod api;
mod auth;
mod error;
mod memory;
mod metrics;
mod serve;
mod store;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::memory::MemoryProbe;
use crate::store::BlobStore;

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Identity and public URL, for `/stats`.
    config: Arc<Config>,
    /// The blobs on disk and the space they take.
    store: Arc<BlobStore>,
    /// Memory figures, refreshed on each `/stats`.
    memory: Arc<MemoryProbe>,
}

/// Opens the storage directory and serves the node's API on `listener`
/// until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    metrics::init();
    let store = BlobStore::open(&config.storage_dir, config.max_storage.bytes())
        .await
        .with_context(|| format!("STORAGE_DIR: cannot use {}", config.storage_dir.display()))?;
    tracing::info!(
        node_id = %config.node_id,
        addr = %listener.local_addr()?,
        stored_bytes = store.used_bytes(),
        objects = store.objects(),
        max_bytes = store.max_bytes(),
        "storage node listening"
    );
    let config_scrub_interval = config.scrub_interval;
    let http_limits = config.http_limits.clone();
    let state = AppState {
        config: Arc::new(config),
        store: Arc::new(store),
        memory: Arc::new(MemoryProbe::new().context("reading memory figures")?),
    };
    let scrubber = config_scrub_interval
        .map(|interval| tokio::spawn(scrub_every(state.store.clone(), interval)));
    cdn_common::serve::serve(listener, api::router(state), http_limits, shutdown).await;
    if let Some(scrubber) = scrubber {
        scrubber.abort();
    }
    Ok(())
}

/// Re-reads every blob every `interval`, so bytes that rot on disk are found
/// before a reader or a repair needs them.
async fn scrub_every(store: Arc<BlobStore>, interval: Duration) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        ticks.tick().await;
        match store.scrub().await {
            Ok(report) => tracing::info!(
                checked = report.checked,
                corrupt = report.corrupt.len(),
                "scrub done"
            ),
            Err(err) => tracing::warn!(error = %err, "scrub failed"),
        }
    }
}
