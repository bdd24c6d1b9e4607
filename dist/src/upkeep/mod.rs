//! The background tasks that keep the cluster right, each on its own tick
//! until shutdown:
//!
//! - polling every node's `/stats` (health and figures for placement);
//! - `janitor`: removing stray blobs that are due, and aborting multipart
//!   uploads left unfinished for `MULTIPART_EXPIRY`;
//! - `repair`: reconciling inventories, restoring lost copies, trimming
//!   surplus ones.

mod every;
mod janitor;
mod repair;

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::objects::Objects;
use every::Every;

/// The running tasks; [`Upkeep::stop`] ends them.
pub struct Upkeep {
    tasks: Vec<JoinHandle<()>>,
    stop: CancellationToken,
}

impl Upkeep {
    pub fn start(objects: &Objects, config: &Config) -> Upkeep {
        let stop = CancellationToken::new();
        let poll_timeout = poll_timeout(config.poll_interval);
        let repairer = repair::Repairer {
            objects: objects.clone(),
            grace: config.repair_grace,
            orphan_grace: config.orphan_grace,
        };
        let tasks = vec![
            every(
                config.poll_interval,
                &stop,
                objects.clone(),
                move |objects| async move {
                    objects
                        .cluster()
                        .poll(objects.node_client(), poll_timeout)
                        .await;
                },
            ),
            every(
                config.poll_interval,
                &stop,
                (objects.clone(), config.multipart_expiry),
                |(objects, expiry)| async move {
                    janitor::round(&objects, expiry).await;
                },
            ),
            every(
                config.repair_interval,
                &stop,
                repairer,
                |repairer| async move {
                    if let Err(err) = repairer.round().await {
                        tracing::warn!(error = %err, "repair round failed");
                    }
                },
            ),
        ];
        Upkeep { tasks, stop }
    }

    /// Stops every task, letting none start a new round.
    pub async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// A node that cannot answer well within one interval counts as down.
pub fn poll_timeout(interval: Duration) -> Duration {
    interval.clamp(Duration::from_millis(500), Duration::from_secs(5))
}

/// Runs `round(state)` every `interval` until `stop`; a round under way
/// when shutdown begins is dropped.
fn every<T, F, Fut>(
    interval: Duration,
    stop: &CancellationToken,
    state: T,
    round: F,
) -> JoinHandle<()>
where
    T: Clone + Send + 'static,
    F: Fn(T) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let mut ticks = Every::new(interval, stop.clone());
    tokio::spawn(async move {
        while ticks.tick().await {
            ticks.unless_stopped(round(state.clone())).await;
        }
    })
}
