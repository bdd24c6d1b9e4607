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

mod access;
mod recorder;
mod request_id;

pub use access::layer;
pub use recorder::{metrics_response, recorder};
pub use request_id::{REQUEST_ID, current_request_id, forward_headers};
