//! Moving bytes to nodes: one upload body to every node chosen for its
//! copies at once, and one copy from node to node (repair).
//!
//! Memory stays bounded: each node gets its chunks through a small channel,
//! so the slowest node sets the pace and nothing is held whole.

use std::fmt::Display;
use std::io;

use bytes::Bytes;
use cdn_common::wire::StoredBlob;
use futures::channel::mpsc;
use futures::{SinkExt, Stream, StreamExt};
use sha2::{Digest, Sha256};

use crate::cluster::Node;
use crate::node_client::{NodeCallError, NodeClient};

/// Chunks in flight to each node; with the body's chunk size this bounds
/// the memory one upload can take.
const CHUNKS_IN_FLIGHT: usize = 8;

/// What was written: the same on every node that confirmed it.
#[derive(Clone, Debug)]
pub struct Written {
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("the upload body broke off: {0}")]
    Body(String),
    #[error("node {node}: {error}")]
    Node { node: String, error: NodeCallError },
    #[error("node {node} stored {stored} but {sent} was sent")]
    Mismatch {
        node: String,
        stored: String,
        sent: String,
    },
}

/// The outcome of writing one body to several nodes.
pub struct Fanout<'a> {
    pub written: Written,
    /// The nodes that confirmed a whole, matching copy, with their answers.
    pub stored: Vec<(&'a Node, StoredBlob)>,
    /// The nodes that did not, and why.
    pub failed: Vec<TransferError>,
}

/// Writes `body` as blob `key` on every node in `nodes`. `len` is the
/// length the client announced, if any. A node that fails is left out and
/// the others go on; only a broken body, or every node failing, is an
/// error.
pub async fn write_copies<'a, S, E>(
    client: &NodeClient,
    nodes: &[&'a Node],
    key: &str,
    len: Option<u64>,
    body: S,
) -> Result<Fanout<'a>, TransferError>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Display,
{
    let mut senders = Vec::with_capacity(nodes.len());
    let mut puts = Vec::with_capacity(nodes.len());
    for &node in nodes {
        let (sender, receiver) = mpsc::channel::<Result<Bytes, io::Error>>(CHUNKS_IN_FLIGHT);
        senders.push(Some(sender));
        let body = reqwest::Body::wrap_stream(receiver);
        puts.push(async move { (node, client.put_blob(&node.url, key, body, len).await) });
    }
    let (pumped, answers) = tokio::join!(pump(body, senders), futures::future::join_all(puts));
    let written = pumped?;

    let mut fanout = Fanout {
        written: written.clone().unwrap_or(Written {
            size: 0,
            sha256: String::new(),
        }),
        stored: Vec::new(),
        failed: Vec::new(),
    };
    for (node, answer) in answers {
        let node_id = node.id.to_string();
        match (answer, &written) {
            (Err(error), _) => fanout.failed.push(TransferError::Node {
                node: node_id,
                error,
            }),
            (Ok(blob), Some(sent)) if blob.size == sent.size && blob.sha256 == sent.sha256 => {
                fanout.stored.push((node, blob))
            }
            (Ok(blob), _) => fanout.failed.push(TransferError::Mismatch {
                node: node_id,
                stored: format!("{} bytes with SHA-256 {}", blob.size, blob.sha256),
                sent: written
                    .as_ref()
                    .map_or("an unfinished body".into(), |sent| {
                        format!("{} bytes with SHA-256 {}", sent.size, sent.sha256)
                    }),
            }),
        }
    }
    if fanout.stored.is_empty() {
        return Err(fanout
            .failed
            .into_iter()
            .next()
            .unwrap_or_else(|| TransferError::Body("no node to write to".into())));
    }
    Ok(fanout)
}

/// Copies every chunk of the body to each node still reading, hashing as it
/// goes. `Ok(None)` when every node stopped reading before the end.
async fn pump<S, E>(
    body: S,
    mut senders: Vec<Option<mpsc::Sender<Result<Bytes, io::Error>>>>,
) -> Result<Option<Written>, TransferError>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Display,
{
    let mut body = std::pin::pin!(body);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(err) => {
                let message = err.to_string();
                // Fail each node's request too, so no node keeps a partial blob.
                for sender in senders.iter_mut().flatten() {
                    let _ = sender.send(Err(io::Error::other(message.clone()))).await;
                }
                return Err(TransferError::Body(message));
            }
        };
        hasher.update(&chunk);
        size += chunk.len() as u64;
        for slot in &mut senders {
            // A node that hung up has answered why; the others go on.
            if let Some(sender) = slot
                && sender.send(Ok(chunk.clone())).await.is_err()
            {
                *slot = None;
            }
        }
        if senders.iter().all(Option::is_none) {
            return Ok(None);
        }
    }
    Ok(Some(Written {
        size,
        sha256: hex::encode(hasher.finalize()),
    }))
}

/// Copies blob `key` from `source` to `target`, streaming through the
/// distributor. The copy counts only if the target confirms exactly `size`
/// bytes with SHA-256 `sha256`: a corrupt source never spreads.
pub async fn copy_blob(
    client: &NodeClient,
    source: &Node,
    target: &Node,
    key: &str,
    size: u64,
    sha256: &str,
) -> Result<StoredBlob, TransferError> {
    let node_error = |node: &Node, error| TransferError::Node {
        node: node.id.to_string(),
        error,
    };
    let range = (size > 0).then(|| (0, size - 1));
    let response = client
        .get_blob(&source.url, key, range)
        .await
        .map_err(|error| node_error(source, error))?;
    let body = reqwest::Body::wrap_stream(response.bytes_stream());
    let stored = client
        .put_blob(&target.url, key, body, Some(size))
        .await
        .map_err(|error| node_error(target, error))?;
    if stored.size != size || stored.sha256 != sha256 {
        return Err(TransferError::Mismatch {
            node: source.id.to_string(),
            stored: format!("{} bytes with SHA-256 {}", stored.size, stored.sha256),
            sent: format!("{size} bytes with SHA-256 {sha256}"),
        });
    }
    Ok(stored)
}
