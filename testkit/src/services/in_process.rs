//! A service run in this process by its library's `run(listener, config,
//! shutdown)`, on a runtime of its own.
//!
//! Its own multi-thread runtime on its own thread keeps it independent of
//! the test's runtime: a test on a current-thread runtime that blocks, or
//! ends, neither stalls nor aborts the service under it.

use std::future::Future;
use std::net::TcpListener;
use std::pin::Pin;
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use tokio::sync::watch;

/// How long a stopping service may take to finish its requests before its
/// runtime is dropped, which aborts whatever is left.
const STOP_DEADLINE: Duration = Duration::from_secs(5);

/// The future a service's `run` takes as its shutdown signal.
pub(crate) type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

pub(crate) struct InProcess {
    stop: watch::Sender<bool>,
    /// Why `run` returned, once it has: the report, and the report read.
    ended: Mutex<(mpsc::Receiver<String>, Option<String>)>,
}

impl InProcess {
    /// Starts `serve(listener, shutdown)` on a new runtime and thread.
    pub(crate) fn start<F, Fut>(name: &str, listener: TcpListener, serve: F) -> InProcess
    where
        F: FnOnce(tokio::net::TcpListener, Shutdown) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let (stop, stopped) = watch::channel(false);
        let (report, ended) = mpsc::channel();
        let thread_name = format!("testkit-{name}");
        std::thread::Builder::new()
            .name(thread_name.clone())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name(thread_name)
                    .enable_all()
                    .build()
                    .expect("building a runtime for an in-process service");
                let outcome = runtime.block_on(async move {
                    listener.set_nonblocking(true)?;
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    let serving = serve(listener, Box::pin(stop_requested(stopped.clone())));
                    let given_up = async {
                        stop_requested(stopped).await;
                        tokio::time::sleep(STOP_DEADLINE).await;
                    };
                    tokio::select! {
                        outcome = serving => outcome,
                        () = given_up => Ok(()),
                    }
                });
                // Whatever still runs (a stream, a background task) ends here.
                runtime.shutdown_timeout(Duration::from_secs(1));
                let _ = report.send(match outcome {
                    Ok(()) => "it stopped".to_owned(),
                    Err(err) => format!("{err:#}"),
                });
            })
            .expect("starting a thread for an in-process service");
        InProcess {
            stop,
            ended: Mutex::new((ended, None)),
        }
    }

    /// Why the service ended, if it has.
    pub(crate) fn ended(&self) -> Option<String> {
        let mut ended = self.ended.lock().unwrap();
        if ended.1.is_none() {
            ended.1 = ended.0.try_recv().ok();
        }
        ended.1.clone()
    }
}

impl Drop for InProcess {
    /// Stops the service gracefully and waits (a bounded time) until its
    /// runtime is gone, so its files and sockets are closed after the drop.
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        let ended = self.ended.get_mut().unwrap();
        if ended.1.is_none() {
            let _ = ended.0.recv_timeout(STOP_DEADLINE + Duration::from_secs(2));
        }
    }
}

/// Completes once a stop is asked for, or the handle is dropped.
async fn stop_requested(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stopped| *stopped).await;
}
