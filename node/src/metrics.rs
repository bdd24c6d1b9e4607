//! `GET /metrics`: the node's own figures, on top of the HTTP metrics that
//! `cdn_common::observe` records for every request.

use axum::extract::State;
use axum::response::Response;

use crate::AppState;

const STORED_BYTES: &str = "cdn_storage_used_bytes";
const MAX_BYTES: &str = "cdn_storage_max_bytes";
const OBJECTS: &str = "cdn_storage_objects";
/// Flushes shared by new blobs' writers (one per flush, however many).
const GROUP_FLUSHES: &str = "cdn_storage_group_flushes_total";
/// Counted by the store where a read finds a block that fails its sum.
pub(crate) const CORRUPT_BLOCKS: &str = "cdn_storage_corrupt_blocks_total";

/// Names and explains the node's metrics, and installs the recorder.
pub fn init() {
    cdn_common::observe::recorder();
    use metrics::{Unit, describe_counter, describe_gauge};
    describe_gauge!(
        STORED_BYTES,
        Unit::Bytes,
        "Bytes of blobs stored, with the room reserved by writes under way."
    );
    describe_gauge!(
        MAX_BYTES,
        Unit::Bytes,
        "MAX_STORAGE: the most bytes of blobs kept."
    );
    describe_gauge!(OBJECTS, "Blobs stored.");
    describe_counter!(
        GROUP_FLUSHES,
        "File system flushes that made new blobs durable; with cdn_http_requests_total of PUT, how many writes each one served."
    );
    describe_counter!(
        CORRUPT_BLOCKS,
        "Blocks read that did not match their checksum; their bytes were not sent."
    );
}

/// The storage figures are read when scraped, so they are never stale.
pub async fn render(State(state): State<AppState>) -> Response {
    metrics::gauge!(STORED_BYTES).set(state.store.used_bytes() as f64);
    metrics::gauge!(MAX_BYTES).set(state.store.max_bytes() as f64);
    metrics::gauge!(OBJECTS).set(state.store.objects() as f64);
    metrics::counter!(GROUP_FLUSHES).absolute(state.store.group_flushes());
    cdn_common::observe::metrics_response()
}
