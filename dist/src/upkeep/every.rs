//! The rhythm of the background tasks (polling, janitor, repair): a tick
//! every interval until shutdown, missed ticks delayed rather than bunched.

use std::future::Future;
use std::time::Duration;

use tokio::time::{Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

pub struct Every {
    ticks: Interval,
    stop: CancellationToken,
}

impl Every {
    pub fn new(interval: Duration, stop: CancellationToken) -> Self {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Every { ticks, stop }
    }

    /// Waits for the next tick; `false` once shutdown has begun.
    pub async fn tick(&mut self) -> bool {
        tokio::select! {
            _ = self.stop.cancelled() => false,
            _ = self.ticks.tick() => true,
        }
    }

    /// Runs `work` unless shutdown comes first; `None` if it did.
    pub async fn unless_stopped<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            _ = self.stop.cancelled() => None,
            done = work => Some(done),
        }
    }
}
