//! The process's Prometheus recorder and the `GET /metrics` answer.

use std::sync::OnceLock;
use std::time::Duration;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::access;

/// Upper bounds of the request latency histogram, in seconds: fine below
/// 10 ms, where a small GET lives, and up to a minute for big transfers.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// How often histogram samples are folded into their buckets when nobody
/// scrapes, so that memory stays flat.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

const RSS: &str = "process_resident_memory_bytes";
const PEAK_RSS: &str = "process_resident_memory_peak_bytes";

/// Installs the global metrics recorder on first use and returns the handle
/// that renders it. Later calls return the same handle.
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(access::DURATION.to_owned()), LATENCY_BUCKETS)
            .expect("the latency buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Only fails when another recorder came first; its metrics then go
        // there and /metrics shows what this one has (nothing).
        let _ = metrics::set_global_recorder(recorder);
        access::describe_metrics();
        describe_process_metrics();
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

fn describe_process_metrics() {
    use metrics::{Unit, describe_gauge};
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
