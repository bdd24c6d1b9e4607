//! Changes announced to every distributor sharing the database.
//!
//! Each change of an object sends `NOTIFY` with its id inside the change's
//! own transaction, so PostgreSQL delivers it exactly when the change
//! commits, and never for one rolled back. Every distributor `LISTEN`s on a
//! connection of its own and forgets what it kept of each object
//! announced. The distributor that made a change has already forgotten it
//! by then (see `memory`); the announcement is for the others.
//!
//! Announcements are lost while the connection is down, so the memory
//! keeps nothing until `LISTEN` holds again (`ContentMemory::set_following`).

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::Catalog;
use super::memory::{ContentMemory, Forgotten};

/// The channel changes are announced on; the payload is a content id.
const CHANNEL: &str = "cdn_content_changed";

/// The waits between attempts to listen again after the connection broke.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// Announces that the objects `ids` changed. Inside a transaction it is
/// delivered on commit.
pub(super) async fn announce<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    ids: &[Uuid],
) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_notify($1, id::text) FROM unnest($2::uuid[]) AS id")
        .bind(CHANNEL)
        .bind(ids)
        .execute(executor)
        .await
        .map(drop)
}

impl Catalog {
    /// For a change made outside a transaction, once it is done: forgets
    /// `ids` here at once, then announces them to the others.
    pub(super) async fn forget_and_announce(&self, ids: &[Uuid]) -> Result<(), sqlx::Error> {
        for &id in ids {
            self.memory.forget(Forgotten::One(id));
        }
        announce(&self.pool, ids).await
    }
}

/// The task that follows announcements; [`ChangeFollower::stop`] ends it.
pub struct ChangeFollower {
    task: JoinHandle<()>,
    stop: CancellationToken,
}

impl ChangeFollower {
    /// Listens on a connection of its own, outside the request pool, so
    /// the requests never wait for it nor it for them. Returns once the
    /// first `LISTEN` holds (or failed, to be retried in the background),
    /// so that the memory works from the first request.
    pub async fn start(catalog: &Catalog) -> ChangeFollower {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .acquire_timeout(Duration::from_secs(3))
            .connect_lazy_with((*catalog.pool.connect_options()).clone());
        let memory = catalog.memory.clone();
        let stop = CancellationToken::new();
        let first = listen(&pool, &memory).await;
        let task = tokio::spawn(follow(pool, memory, first, stop.clone()));
        ChangeFollower { task, stop }
    }

    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// A listener whose `LISTEN` holds, with the memory told it may keep
/// records again; `None` when the database cannot be reached.
async fn listen(pool: &PgPool, memory: &ContentMemory) -> Option<PgListener> {
    let attempt = async {
        let mut listener = PgListener::connect_with(pool).await?;
        // A lost connection is found by `try_recv`, and a new listener is
        // made here: no notification can slip between the two.
        listener.eager_reconnect(false);
        listener.listen(CHANNEL).await?;
        Ok::<_, sqlx::Error>(listener)
    };
    match attempt.await {
        Ok(listener) => {
            memory.set_following(true);
            Some(listener)
        }
        Err(err) => {
            tracing::warn!(error = %err, "cannot listen for changes; metadata is read from the database each time");
            None
        }
    }
}

async fn follow(
    pool: PgPool,
    memory: Arc<ContentMemory>,
    mut listener: Option<PgListener>,
    stop: CancellationToken,
) {
    let mut retry = RETRY_FIRST;
    loop {
        let Some(active) = listener.as_mut() else {
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(retry) => {}
            }
            retry = (retry * 2).min(RETRY_MAX);
            listener = listen(&pool, &memory).await;
            continue;
        };
        let received = tokio::select! {
            () = stop.cancelled() => break,
            received = active.try_recv() => received,
        };
        match received {
            Ok(Some(notification)) => {
                retry = RETRY_FIRST;
                // Only ids are sent; anything else is taken to mean all.
                memory.forget(match notification.payload().parse() {
                    Ok(id) => Forgotten::One(id),
                    Err(_) => Forgotten::All,
                });
            }
            outcome => {
                if let Err(err) = outcome {
                    tracing::warn!(error = %err, "lost the connection that listens for changes");
                } else {
                    tracing::warn!("lost the connection that listens for changes");
                }
                memory.set_following(false);
                listener = None;
            }
        }
    }
    memory.set_following(false);
    // The pool closes once the listener has handed its connection back.
    drop(listener);
    pool.close().await;
}
