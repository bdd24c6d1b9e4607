//! The limit: a bare axum server answering the small and the large object
//! from memory, with nothing else on the path (no routing beyond two
//! paths, no metadata, no logging, no metrics). What the distributor does
//! for a hot object is this plus its own work, so this bounds it.

use std::net::SocketAddr;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The running server; dropping it stops it.
pub struct Limit {
    pub url: String,
    task: JoinHandle<()>,
}

impl Limit {
    /// Serves `small` at `/small.bin` and `large` at `/large.bin` on a
    /// port-0 loopback listener, on this process's runtime.
    pub async fn start(small: Bytes, large: Bytes) -> anyhow::Result<Limit> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let answer = |bytes: Bytes| {
            move || {
                let bytes = bytes.clone();
                async move { ([(CONTENT_TYPE, "application/octet-stream")], bytes) }
            }
        };
        let app = Router::new()
            .route("/small.bin", get(answer(small)))
            .route("/large.bin", get(answer(large)));
        let task = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                eprintln!("cdn-bench: the limit server stopped: {err}");
            }
        });
        Ok(Limit { url, task })
    }
}

impl Drop for Limit {
    fn drop(&mut self) {
        self.task.abort();
    }
}
