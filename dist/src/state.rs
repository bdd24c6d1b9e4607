//! What every request handler shares.

use std::sync::Arc;

use crate::objects::Objects;

#[derive(Clone)]
pub struct AppState {
    /// The object operations: every front goes through them.
    pub objects: Objects,
    /// Base of absolute URLs, when configured rather than taken from `Host`.
    pub public_url: Option<Arc<str>>,
}
