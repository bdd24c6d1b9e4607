//! The layer that ids, traces, logs and measures every request: one
//! `access` log line and the HTTP metrics once the response body is done.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::{FromFnLayer, Next};
use axum::response::Response;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tracing::Instrument;

use super::request_id::{self, REQUEST_ID};

const REQUESTS: &str = "cdn_http_requests_total";
/// Named for the recorder, which gives this histogram its own buckets.
pub(super) const DURATION: &str = "cdn_http_request_duration_seconds";
const BYTES_IN: &str = "cdn_http_request_body_bytes_total";
const BYTES_OUT: &str = "cdn_http_response_body_bytes_total";
const IN_FLIGHT: &str = "cdn_http_requests_in_flight";

/// The status logged for a request whose client left before the response
/// was ready (nginx's convention).
const CLIENT_CLOSED: u16 = 499;

pub(super) fn describe_metrics() {
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
}

type ObserveFn = fn(Request, Next) -> Pin<Box<dyn Future<Output = Response> + Send>>;

/// The layer that ids, traces, logs and measures every request of a router.
/// Add it last, so that it sees the matched route and wraps everything else.
pub fn layer() -> FromFnLayer<ObserveFn, (), (Request,)> {
    axum::middleware::from_fn(|request, next| Box::pin(observe(request, next)))
}

async fn observe(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request_id::take_or_make(request.headers());
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
        Body::new(Metered {
            inner: body,
            meter: bytes_in.clone(),
        })
    });
    metrics::gauge!(IN_FLIGHT).increment(1.0);
    // Reports the request even if the client hangs up before the response
    // is ready, which drops this future mid-way.
    let mut reporter = Reporter {
        finish: Some(Finish {
            started,
            method,
            route,
            status: CLIENT_CLOSED,
            request_id: id_text,
            bytes_in,
        }),
        bytes_out: 0,
    };
    let mut response = request_id::scope(request_id.clone(), next.run(request))
        .instrument(span)
        .await;
    response
        .headers_mut()
        .insert(REQUEST_ID.clone(), request_id);
    if let Some(finish) = &mut reporter.finish {
        finish.status = response.status().as_u16();
    }
    response.map(|body| {
        Body::new(Metered {
            inner: body,
            meter: reporter,
        })
    })
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

/// Told about a body's data as it flows past, and about its end.
trait Meter: Unpin {
    fn data(&mut self, len: usize);
    /// The body ended, or failed mid-way: either way no more data comes.
    fn end(&mut self);
}

/// A request body's bytes, counted as the handler reads them.
impl Meter for Arc<AtomicU64> {
    fn data(&mut self, len: usize) {
        self.fetch_add(len as u64, Ordering::Relaxed);
    }

    fn end(&mut self) {}
}

/// A body that tells its [`Meter`] what passes through it.
struct Metered<M> {
    inner: Body,
    meter: M,
}

impl<M: Meter> HttpBody for Metered<M> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.meter.data(data.len());
                }
            }
            Poll::Ready(_) => this.meter.end(),
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

/// Reports a request exactly once: when its response body is done with
/// (sent whole, failed, or dropped because the client went away), or when
/// the request is dropped before a response was ready.
struct Reporter {
    finish: Option<Finish>,
    bytes_out: u64,
}

impl Reporter {
    fn report(&mut self) {
        if let Some(finish) = self.finish.take() {
            finish.report(self.bytes_out);
        }
    }
}

impl Meter for Reporter {
    fn data(&mut self, len: usize) {
        self.bytes_out += len as u64;
    }

    fn end(&mut self) {
        self.report();
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.report();
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
    fn unusual_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }

    #[tokio::test]
    async fn a_metered_body_counts_its_bytes_and_sees_its_end() {
        use futures::StreamExt;

        struct Seen {
            bytes: Arc<AtomicU64>,
            ended: Arc<AtomicU64>,
        }
        impl Meter for Seen {
            fn data(&mut self, len: usize) {
                self.bytes.fetch_add(len as u64, Ordering::Relaxed);
            }
            fn end(&mut self) {
                self.ended.fetch_add(1, Ordering::Relaxed);
            }
        }

        let bytes = Arc::new(AtomicU64::new(0));
        let ended = Arc::new(AtomicU64::new(0));
        let chunks = futures::stream::iter([Ok::<_, std::io::Error>("abc"), Ok("de")]);
        let body = Body::new(Metered {
            inner: Body::from_stream(chunks),
            meter: Seen {
                bytes: bytes.clone(),
                ended: ended.clone(),
            },
        });
        let read: Vec<_> = body.into_data_stream().collect().await;
        assert_eq!(read.len(), 2);
        assert_eq!(bytes.load(Ordering::Relaxed), 5);
        assert_eq!(ended.load(Ordering::Relaxed), 1);
    }
}
