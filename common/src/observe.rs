//! What both servers do to be watched: Prometheus metrics, request ids and
//! one log line per request.
//!
//! - [`recorder`] installs the process's metrics recorder (from the
//!   `metrics` facade, rendered by `metrics-exporter-prometheus`), and
//!   [`metrics_response`] renders it for `GET /metrics`.
//! - [`layer`] wraps a router: each request gets an `x-request-id` (the
//!   caller's, when it sent a sane one, else a new UUID), echoed in the
//!   response; a `request` span around the handler; and, when the response
//!   body has been sent, one `access` log line and the HTTP metrics.
//! - [`forward_headers`] gives the request id of the request being handled,
//!   so calls made on its behalf to another service carry it along.
//!
//! Metric names are listed, with their meaning, in the README's "Metrics".

use std::pin::Pin;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::middleware::{FromFnLayer, Next};
use axum::response::{IntoResponse, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::Instrument;

/// The header that names one request across every service it touches.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id taken from a caller; longer ones are replaced.
const MAX_REQUEST_ID: usize = 128;

/// Upper bounds of the request latency histogram, in seconds: fine below
/// 10 ms, where a small GET lives, and up to a minute for big transfers.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// How often histogram samples are folded into their buckets when nobody
/// scrapes, so that memory stays flat.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

tokio::task_local! {
    /// The id of the request whose handler is running on this task.
    static CURRENT_REQUEST_ID: HeaderValue;
}

/// Installs the global metrics recorder on first use and returns the handle
/// that renders it. Later calls return the same handle.
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(DURATION.to_owned()), LATENCY_BUCKETS)
            .expect("the latency buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Only fails when another recorder came first; its metrics then go
        // there and /metrics shows what this one has (nothing).
        let _ = metrics::set_global_recorder(recorder);
        describe_http_metrics();
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_INTERVAL);
                    upkeep.run_upkeep();
                }
            })
            .expect("starting the metrics upkeep thread");
        handle
    })
}

/// `GET /metrics`: every metric in the Prometheus text format, with the
/// process's memory figures refreshed first.
pub fn metrics_response() -> Response {
    observe_process_memory();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        recorder().render(),
    )
        .into_response()
}

const REQUESTS: &str = "cdn_http_requests_total";
const DURATION: &str = "cdn_http_request_duration_seconds";
const BYTES_IN: &str = "cdn_http_request_body_bytes_total";
const BYTES_OUT: &str = "cdn_http_response_body_bytes_total";
const IN_FLIGHT: &str = "cdn_http_requests_in_flight";
const RSS: &str = "process_resident_memory_bytes";
const PEAK_RSS: &str = "process_resident_memory_peak_bytes";

fn describe_http_metrics() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        REQUESTS,
        "HTTP requests answered, by method, matched route and status."
    );
    describe_histogram!(
        DURATION,
        Unit::Seconds,
        "Time from a request's arrival until its response body was sent, by method and route."
    );
    describe_counter!(
        BYTES_IN,
        Unit::Bytes,
        "Bytes of request bodies read, by method and route."
    );
    describe_counter!(
        BYTES_OUT,
        Unit::Bytes,
        "Bytes of response bodies sent, by method and route."
    );
    describe_gauge!(
        IN_FLIGHT,
        "Requests received whose response body is not yet fully sent."
    );
    describe_gauge!(RSS, Unit::Bytes, "Resident memory of this process.");
    describe_gauge!(
        PEAK_RSS,
        Unit::Bytes,
        "Highest resident memory of this process since it started."
    );
}

/// Reads this process's resident memory from `/proc` (Linux only; elsewhere
/// the gauges stay absent).
fn observe_process_memory() {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return;
    };
    let kib = |field: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
    };
    if let Some(rss) = kib("VmRSS:") {
        metrics::gauge!(RSS).set((rss * 1024) as f64);
    }
    if let Some(peak) = kib("VmHWM:") {
        metrics::gauge!(PEAK_RSS).set((peak * 1024) as f64);
    }
}

/// The id of the request being handled on this task, as headers to add to
/// a call made on its behalf; empty outside a request.
pub fn forward_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(id) = current_request_id() {
        headers.insert(REQUEST_ID.clone(), id);
    }
    headers
}

/// The id of the request being handled on this task, if any.
pub fn current_request_id() -> Option<HeaderValue> {
    CURRENT_REQUEST_ID.try_with(HeaderValue::clone).ok()
}

type ObserveFn = fn(Request, Next) -> Pin<Box<dyn Future<Output = Response> + Send>>;

/// The layer that ids, traces, logs and measures every request of a router.
/// Add it last, so that it sees the matched route and wraps everything else.
pub fn layer() -> FromFnLayer<ObserveFn, (), (Request,)> {
    axum::middleware::from_fn(|request, next| Box::pin(observe(request, next)))
}

async fn observe(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = take_or_make_request_id(request.headers());
    request
        .headers_mut()
        .insert(REQUEST_ID.clone(), request_id.clone());
    let method = method_label(request.method());
    // The route template, never the raw path: one series per route, however
    // many ids are asked for.
    let route: Arc<str> = match request.extensions().get::<MatchedPath>() {
        Some(matched) => Arc::from(matched.as_str()),
        None => Arc::from("unmatched"),
    };
    let id_text = request_id.to_str().unwrap_or_default().to_owned();
    let span = tracing::info_span!(
        "request",
        method = %method,
        route = %route,
        request_id = %id_text
    );

    let bytes_in = Arc::new(AtomicU64::new(0));
    let request = request.map(|body| {
        Body::new(CountIn {
            inner: body,
            count: bytes_in.clone(),
        })
    });
    metrics::gauge!(IN_FLIGHT).increment(1.0);
    // Reports the request even if the client hangs up before the response
    // is ready, which drops this future mid-way.
    let mut pending = Pending(Some(Finish {
        started,
        method,
        route,
        status: CLIENT_CLOSED,
        request_id: id_text,
        bytes_in,
    }));
    let mut response = CURRENT_REQUEST_ID
        .scope(request_id.clone(), next.run(request))
        .instrument(span)
        .await;
    response
        .headers_mut()
        .insert(REQUEST_ID.clone(), request_id);
    let mut finish = pending.0.take().expect("reported only once");
    finish.status = response.status().as_u16();
    response.map(|body| {
        Body::new(CountOut {
            inner: body,
            sent: 0,
            finish: Some(finish),
        })
    })
}

/// The status logged for a request whose client left before the response
/// was ready (nginx's convention).
const CLIENT_CLOSED: u16 = 499;

struct Pending(Option<Finish>);

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(finish) = self.0.take() {
            finish.report(0);
        }
    }
}

/// The caller's id when it is a short run of visible ASCII (so it cannot
/// forge log lines or blow up a log store), else a new time-ordered UUID.
fn take_or_make_request_id(headers: &HeaderMap) -> HeaderValue {
    headers
        .get(&REQUEST_ID)
        .filter(|value| is_sane_request_id(value.as_bytes()))
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
                .expect("a UUID is a valid header value")
        })
}

fn is_sane_request_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID).contains(&id.len())
        && id
            .iter()
            .all(|&byte| byte.is_ascii_graphic() && byte != b'"' && byte != b'\\')
}

/// Methods as a closed set of labels; anything unusual is `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts the bytes of a request body as the handler reads them.
struct CountIn {
    inner: Body,
    count: Arc<AtomicU64>,
}

impl HttpBody for CountIn {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.count.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Counts the bytes of a response body as they are sent, and reports the
/// request once the body is done with: sent whole, or dropped because the
/// client went away.
struct CountOut {
    inner: Body,
    sent: u64,
    finish: Option<Finish>,
}

impl HttpBody for CountOut {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.sent += data.len() as u64;
                }
            }
            // The end, or a failure mid-body: either way the request is over.
            Poll::Ready(_) => {
                let sent = self.sent;
                if let Some(finish) = self.finish.take() {
                    finish.report(sent);
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for CountOut {
    fn drop(&mut self) {
        if let Some(finish) = self.finish.take() {
            finish.report(self.sent);
        }
    }
}

/// What is known of a request when its response starts, kept until its
/// body is done.
struct Finish {
    started: Instant,
    method: &'static str,
    route: Arc<str>,
    status: u16,
    request_id: String,
    bytes_in: Arc<AtomicU64>,
}

impl Finish {
    fn report(self, bytes_out: u64) {
        let elapsed = self.started.elapsed();
        let bytes_in = self.bytes_in.load(Ordering::Relaxed);
        let route = metrics::SharedString::from(self.route.to_string());
        metrics::gauge!(IN_FLIGHT).decrement(1.0);
        metrics::counter!(
            REQUESTS,
            "method" => self.method,
            "route" => route.clone(),
            "status" => self.status.to_string()
        )
        .increment(1);
        metrics::histogram!(DURATION, "method" => self.method, "route" => route.clone())
            .record(elapsed.as_secs_f64());
        if bytes_in > 0 {
            metrics::counter!(BYTES_IN, "method" => self.method, "route" => route.clone())
                .increment(bytes_in);
        }
        if bytes_out > 0 {
            metrics::counter!(BYTES_OUT, "method" => self.method, "route" => route)
                .increment(bytes_out);
        }
        // Microseconds are plenty, and keep the line short.
        let latency_ms = (elapsed.as_micros() as f64) / 1000.0;
        tracing::info!(
            target: "access",
            parent: None,
            method = %self.method,
            route = %self.route,
            status = self.status,
            bytes_in,
            bytes_out,
            latency_ms,
            request_id = %self.request_id,
            "request"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_sane_request_ids() {
        assert!(is_sane_request_id(b"0195c0de-7a4b-7c1e-9a39-1d1e2e3f4a5b"));
        assert!(is_sane_request_id(b"trace:abc/123+x=y"));
        assert!(!is_sane_request_id(b""));
        assert!(!is_sane_request_id(b"two words"));
        assert!(!is_sane_request_id(b"quote\"d"));
        assert!(!is_sane_request_id("é".as_bytes()));
        assert!(!is_sane_request_id(&[b'x'; MAX_REQUEST_ID + 1]));
    }

    #[test]
    fn a_missing_or_bad_id_is_replaced_by_a_uuid() {
        let mut headers = HeaderMap::new();
        let made = take_or_make_request_id(&headers);
        assert!(uuid::Uuid::try_parse(made.to_str().unwrap()).is_ok());
        headers.insert(
            REQUEST_ID.clone(),
            HeaderValue::from_static("from-client-1"),
        );
        assert_eq!(take_or_make_request_id(&headers), "from-client-1");
        headers.insert(REQUEST_ID.clone(), HeaderValue::from_static("has space"));
        assert_ne!(take_or_make_request_id(&headers), "has space");
    }

    #[test]
    fn unusual_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }

    #[tokio::test]
    async fn forwards_the_id_only_inside_a_request() {
        assert!(forward_headers().is_empty());
        let id = HeaderValue::from_static("abc");
        let inside = CURRENT_REQUEST_ID
            .scope(id, async { forward_headers() })
            .await;
        assert_eq!(inside.get(&REQUEST_ID).unwrap(), "abc");
    }
}
