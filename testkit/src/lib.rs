//! The one test harness of the workspace, for the services' integration
//! tests and the benchmark.
//!
//! # Layout
//!
//! - [`postgres`]: PostgreSQL started once per process (or `DATABASE_URL`'s
//!   server), a fresh database per test, and servers of a test's own that
//!   can be crashed and restarted.
//! - [`services`]: the distributor and the nodes, in-process on port-0
//!   listeners, or as child processes where a test must SIGKILL one; a
//!   whole [`services::Stack`].
//! - [`net`]: loopback ports held for a service across restarts.
//! - [`fetch`]: one request sent and its whole answer read.
//! - [`raw`]: raw HTTP/1.1 over a socket, for probes no client library
//!   sends (trickled heads, smuggling, oversized headers).
//! - [`aws`]: the `aws` command line with nothing of the machine's own
//!   configuration.
//! - `tied`: child processes that the kernel kills when the test process
//!   ends, however it ends.
//!
//! A test takes a `Stack::start()` (three in-process nodes and a
//! distributor on a fresh database) or a `Stack::start_with(StackConfig {
//! children: Children::ALL, .. })` when it kills services or reads their
//! logs; `Service::start` starts one service alone; `postgres::shared()`
//! and `PgServer::fresh_database` give a database to code that needs only
//! that. Every start waits, with a deadline, until the service answers.
//!
//! Nothing here looks for a "free" port: every address comes from binding
//! port 0, and a child process is handed a socket that is already bound.

pub mod aws;
pub mod fetch;
pub mod net;
pub mod postgres;
pub mod raw;
#[cfg(feature = "services")]
pub mod services;

mod tied;

/// Runs blocking work off the async runtime, passing a panic on as it is.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(err) => match err.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(err) => panic!("{err}"),
        },
    }
}
