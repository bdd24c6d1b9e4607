//! `?redirect=1`: where to send a client for the bytes instead of proxying
//! them. Nodes are sealed, so the answer is a node URL signed for a minute
//! (`cluster::signed_url`) that carries the object's type and disposition.

use crate::catalog::ContentRecord;
use crate::error::ApiError;
use crate::state::AppState;

/// A signed read URL of a good copy on a node that is up: the one on
/// `node` when the client names one (a replica's `uri`), else the least
/// loaded.
pub fn location(
    state: &AppState,
    record: &ContentRecord,
    node: Option<&str>,
    disposition: &str,
) -> Result<String, ApiError> {
    let copies = state.objects.readable_copies(record);
    let holder = match node {
        None => copies
            .into_iter()
            .find(|copy| copy.is_up())
            .ok_or_else(|| ApiError::Unavailable("no node holding this content is up".into()))?,
        Some(wanted) => {
            let copy = copies
                .into_iter()
                .find(|copy| copy.id.as_str() == wanted)
                .ok_or_else(|| {
                    ApiError::NotFound(format!(
                        "node {wanted:?} holds no good copy of this content"
                    ))
                })?;
            if !copy.is_up() {
                return Err(ApiError::Unavailable(format!("node {wanted} is down")));
            }
            copy
        }
    };
    state
        .objects
        .node_client()
        .signed_read_url(
            &holder.public_url(),
            &record.blob_key,
            &record.content_type,
            disposition,
        )
        .ok_or_else(|| {
            ApiError::Unavailable(format!("node {} reports no usable public URL", holder.id))
        })
}
