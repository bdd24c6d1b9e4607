//! One upload body to every node chosen for its copies at once.
//!
//! Memory stays bounded: each node gets its chunks through a small channel,
//! so the slowest node sets the pace and nothing is held whole.

use std::fmt::Display;
use std::io;

use bytes::Bytes;
use cdn_common::wire::StoredBlob;
use cdn_common::{BlobKey, Fingerprint, HashingStream, NodeId};
use futures::channel::mpsc;
use futures::{SinkExt, Stream, StreamExt};

use crate::cluster::{Node, NodeCallError, NodeClient};

/// Chunks in flight to each node; with the body's chunk size this bounds
/// the memory one upload can take.
const CHUNKS_IN_FLIGHT: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("the upload body broke off: {0}")]
    Body(String),
    #[error("node {node}: {error}")]
    Node { node: NodeId, error: NodeCallError },
    #[error("node {node} stored {stored} but {sent} was sent")]
    Mismatch {
        node: NodeId,
        stored: Fingerprint,
        sent: String,
    },
}

/// The outcome of writing one body to several nodes.
pub struct Fanout<'a> {
    pub written: Fingerprint,
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
    key: &BlobKey,
    len: Option<u64>,
    body: S,
) -> Result<Fanout<'a>, TransferError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
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

    let mut stored = Vec::new();
    let mut failed = Vec::new();
    for (node, answer) in answers {
        match (answer, &written) {
            (Err(error), _) => failed.push(TransferError::Node {
                node: node.id.clone(),
                error,
            }),
            (Ok(blob), Some(sent)) if blob.size == sent.size && blob.sha256 == sent.sha256 => {
                stored.push((node, blob))
            }
            (Ok(blob), _) => failed.push(TransferError::Mismatch {
                node: node.id.clone(),
                stored: Fingerprint {
                    size: blob.size,
                    sha256: blob.sha256,
                },
                sent: written
                    .as_ref()
                    .map_or("an unfinished body".into(), ToString::to_string),
            }),
        }
    }
    match written {
        Some(written) if !stored.is_empty() => Ok(Fanout {
            written,
            stored,
            failed,
        }),
        _ => Err(failed
            .into_iter()
            .next()
            .unwrap_or_else(|| TransferError::Body("no node to write to".into()))),
    }
}

/// Copies every chunk of the body to each node still reading, hashing as it
/// goes. `Ok(None)` when every node stopped reading before the end.
async fn pump<S, E>(
    body: S,
    mut senders: Vec<Option<mpsc::Sender<Result<Bytes, io::Error>>>>,
) -> Result<Option<Fingerprint>, TransferError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    let mut body = HashingStream::new(body);
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
    Ok(body.fingerprint())
}
