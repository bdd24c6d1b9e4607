//! What every request handler shares.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::Access;
use crate::edge::admission::Admission;
use crate::objects::Objects;

#[derive(Clone)]
pub struct AppState {
    /// The object operations: every front goes through them.
    pub objects: Objects,
    /// Base of absolute URLs, when configured rather than taken from `Host`.
    pub public_url: Option<Arc<str>>,
    /// Tokens, scopes and presigned links.
    pub access: Access,
    /// The storage claimed by uploads in flight, per client and in total.
    pub admission: Arc<Admission>,
    /// The largest JSON body a route reads (`MAX_JSON_BYTES`).
    pub max_json_bytes: usize,
    /// Whether `/metrics` answers without an admin token.
    pub public_metrics: bool,
    /// Origins whose pages may write (`CORS_ORIGINS`).
    pub cors_origins: Arc<[String]>,
    /// How long caches keep bytes read by their unversioned URL
    /// (`CACHE_MAX_AGE`).
    pub cache_max_age: Duration,
}
