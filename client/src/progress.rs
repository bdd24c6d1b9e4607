//! Watching a transfer without this crate knowing how it is shown.
//!
//! The `cdn` binary draws terminal bars from these calls; a test or a
//! library user can count bytes with a closure, or pass [`NoProgress`].

/// Receives the progress of one upload or download.
///
/// The library moves the value into the request body, which may outlive the
/// call that started it, hence `Send + Sync + 'static`.
pub trait Progress: Send + Sync + 'static {
    /// Called once, before the first byte, with the total when it is known.
    fn start(&self, _total: Option<u64>) {}

    /// Called after each chunk moves, with the chunk's length.
    fn advance(&self, bytes: u64);

    /// Called once, when the transfer has completed successfully.
    fn finish(&self) {}
}

/// Ignores progress.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn advance(&self, _bytes: u64) {}
}

/// A closure sees each chunk's length: `|bytes| counter.fetch_add(bytes, …)`.
impl<F> Progress for F
where
    F: Fn(u64) + Send + Sync + 'static,
{
    fn advance(&self, bytes: u64) {
        self(bytes)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    fn drive(progress: impl Progress, chunks: &[u64]) {
        progress.start(Some(chunks.iter().sum()));
        for &chunk in chunks {
            progress.advance(chunk);
        }
        progress.finish();
    }

    #[test]
    fn a_closure_counts_bytes() {
        let seen = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&seen);
        drive(
            move |bytes| {
                counter.fetch_add(bytes, Ordering::Relaxed);
            },
            &[3, 4, 5],
        );
        assert_eq!(seen.load(Ordering::Relaxed), 12);
    }
}
