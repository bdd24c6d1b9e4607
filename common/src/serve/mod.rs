//! Serving a router over HTTP/1.1 with the limits a public server needs,
//! for both services: what `axum::serve` does, plus hyper's own settings and
//! a few timers around each connection.
//!
//! - Request heads larger than `MAX_HEADER_BYTES` get `431` from hyper
//!   (`max_header_size`), as do heads of more than 100 fields.
//! - A new connection must send its request head within `HEADER_TIMEOUT`;
//!   a kept-alive connection may then wait `IDLE_TIMEOUT` for its next
//!   request, whose head must be whole within `HEADER_TIMEOUT` of its first
//!   byte. hyper's `header_read_timeout` cannot say this: it is re-armed as
//!   soon as a connection goes idle, so it would bound the idle wait by the
//!   header limit. Both timers live in [`conn`] instead.
//! - A request body must bring at least `BODY_MIN_RATE` bytes a second (and
//!   at least one byte) over every `BODY_STALL_TIMEOUT`, else it fails with
//!   [`BodyStalled`] (see [`body`]); a response the client stops reading for
//!   `BODY_STALL_TIMEOUT` closes the connection.
//! - At most `MAX_CONNECTIONS` connections are open: one more is answered
//!   `503` with `Retry-After` if its socket takes the answer at once, and
//!   closed, so file descriptors never run out.
//! - At most `MAX_REQUESTS_IN_FLIGHT` requests are served at once, counted
//!   until their response body is sent; one more is answered `503` with
//!   `Retry-After` at once rather than queued. `/healthz` is never refused,
//!   so a busy service is not mistaken for a dead one.

mod body;
mod conn;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

use crate::ByteSize;
use crate::env::{EnvError, Setting, Vars};
use crate::wire::ErrorBody;

pub use body::BodyStalled;
use body::{Held, StallBody};
use conn::{ConnWatch, TimedIo};

pub const HEADER_TIMEOUT: Setting = Setting {
    name: "HEADER_TIMEOUT",
    default: Some("10s"),
    about: "How long a request head may take to arrive; slower connections are closed.",
};
pub const IDLE_TIMEOUT: Setting = Setting {
    name: "IDLE_TIMEOUT",
    default: Some("60s"),
    about: "How long a kept-alive connection may wait for its next request.",
};
pub const BODY_STALL_TIMEOUT: Setting = Setting {
    name: "BODY_STALL_TIMEOUT",
    default: Some("30s"),
    about: "A request body that brings less than BODY_MIN_RATE over this long is cut (408).",
};
pub const BODY_MIN_RATE: Setting = Setting {
    name: "BODY_MIN_RATE",
    default: Some("512"),
    about: "Bytes a second a request body must average over each BODY_STALL_TIMEOUT.",
};
pub const MAX_HEADER_BYTES: Setting = Setting {
    name: "MAX_HEADER_BYTES",
    default: Some("16KiB"),
    about: "The largest request head (request line and headers); larger ones get 431.",
};
pub const MAX_CONNECTIONS: Setting = Setting {
    name: "MAX_CONNECTIONS",
    default: Some("10000"),
    about: "Open connections at most; one more gets 503 and is closed.",
};
pub const MAX_REQUESTS_IN_FLIGHT: Setting = Setting {
    name: "MAX_REQUESTS_IN_FLIGHT",
    default: Some("2048"),
    about: "Requests served at once at most; one more gets 503 with Retry-After.",
};

/// The limits of one server, from the settings above.
#[derive(Clone, Debug)]
pub struct Limits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_stall_timeout: Duration,
    pub body_min_rate: u64,
    pub max_header_bytes: usize,
    pub max_connections: usize,
    pub max_requests_in_flight: usize,
}

impl Limits {
    /// Reads the settings; the service's table must declare all of them.
    pub fn from_vars(vars: &Vars) -> Result<Self, EnvError> {
        let max_header_bytes = vars.parse_with("MAX_HEADER_BYTES", |text| {
            let size: ByteSize = text.parse().map_err(|err| format!("{err}"))?;
            match usize::try_from(size.bytes()) {
                Ok(bytes) if bytes >= 1024 => Ok(bytes),
                _ => Err("must be at least 1KiB".to_owned()),
            }
        })?;
        Ok(Limits {
            header_timeout: vars.parse_with("HEADER_TIMEOUT", parse_timeout)?,
            idle_timeout: vars.parse_with("IDLE_TIMEOUT", parse_timeout)?,
            body_stall_timeout: vars.parse_with("BODY_STALL_TIMEOUT", parse_timeout)?,
            body_min_rate: vars.parse::<ByteSize>("BODY_MIN_RATE")?.bytes(),
            max_header_bytes,
            max_connections: vars.parse_with("MAX_CONNECTIONS", parse_count)?,
            max_requests_in_flight: vars.parse_with("MAX_REQUESTS_IN_FLIGHT", parse_count)?,
        })
    }
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(timeout) if timeout >= Duration::from_millis(100) => Ok(timeout),
        Ok(_) => Err("must be at least 100ms".into()),
        Err(err) => Err(err.to_string()),
    }
}

fn parse_count(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(count) => Ok(count),
        Err(err) => Err(err.to_string()),
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown`
/// completes, then lets the requests under way finish. Each request carries
/// the peer's address as axum's `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let limits = Arc::new(limits);
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let in_flight = Arc::new(Semaphore::new(limits.max_requests_in_flight));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        // Replaced by the connection's own timers (see the module's notes).
        .header_read_timeout(None)
        .max_header_size(limits.max_header_bytes);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors or memory: wait rather than
                    // spin, as axum::serve does.
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Nagle off: a small response leaves in two writes (head, body), and
        // the second would wait up to 40 ms for the client's delayed ack.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(error = %err, "cannot set TCP_NODELAY");
        }
        let Ok(slot) = connections.clone().try_acquire_owned() else {
            turn_away(stream, peer);
            continue;
        };
        let watch = Arc::new(ConnWatch::default());
        let io = TokioIo::new(TimedIo::new(stream, watch.clone(), &limits));
        let service = ConnService {
            router: router.clone(),
            limits: limits.clone(),
            in_flight: in_flight.clone(),
            watch,
            peer,
        };
        let connection = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, %peer, "connection closed");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Answers a connection beyond `MAX_CONNECTIONS` without reading it: one
/// write, only if the socket takes it at once, then close.
fn turn_away(stream: TcpStream, peer: SocketAddr) {
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\
Content-Type: application/json\r\nContent-Length: 72\r\nConnection: close\r\n\r\n\
{\"error\":{\"code\":\"unavailable\",\"message\":\"too many connections; retry\"}}";
    tracing::debug!(%peer, "too many connections: turned away");
    let _ = stream.try_write(BUSY);
}

/// `503` with `Retry-After: 1`, for requests beyond the in-flight cap.
pub fn overloaded(message: &str) -> Response<Body> {
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(ErrorBody::new("unavailable", message)),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// One connection's service: the router, behind the in-flight cap and the
/// body timers.
#[derive(Clone)]
struct ConnService {
    router: Router,
    limits: Arc<Limits>,
    in_flight: Arc<Semaphore>,
    watch: Arc<ConnWatch>,
    peer: SocketAddr,
}

type Answer = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, request: Request<Incoming>) -> Answer {
        let admitted: Option<OwnedSemaphorePermit> = if request.uri().path() == "/healthz" {
            None
        } else {
            match self.in_flight.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    tracing::debug!(peer = %self.peer, "too many requests in flight: refused");
                    let busy = overloaded("too many requests in flight; retry shortly");
                    return Box::pin(std::future::ready(Ok(busy)));
                }
            }
        };
        // Counted busy until the response body is sent, so the idle timer
        // never runs during a long download.
        let busy = self.watch.enter();
        let stall = self.limits.body_stall_timeout;
        let min_rate = self.limits.body_min_rate;
        let mut request = request.map(|body| {
            if hyper::body::Body::is_end_stream(&body) {
                Body::new(body)
            } else {
                Body::new(StallBody::new(body, stall, min_rate))
            }
        });
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let router = self.router.clone();
        Box::pin(async move {
            let Ok(response) = router.oneshot(request).await;
            Ok(response.map(|body| Body::new(Held::new(body, (admitted, busy)))))
        })
    }
}
