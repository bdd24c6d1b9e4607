//! Streams one upload body to every node chosen for its copies at once,
//! hashing and counting the bytes as they pass.
//!
//! Memory stays bounded: each node gets its chunks through a small channel,
//! so the slowest node sets the pace and nothing is held whole.

use std::fmt::Display;
use std::io;

use bytes::Bytes;
use futures::channel::mpsc;
use futures::{SinkExt, Stream, StreamExt};
use sha2::{Digest, Sha256};

use crate::cluster::Node;
use crate::node_client::{NodeCallError, NodeClient};

/// Chunks in flight to each node; with the body's chunk size this bounds
/// the memory one upload can take.
const CHUNKS_IN_FLIGHT: usize = 8;

/// What was written: the same on every node.
#[derive(Clone, Debug)]
pub struct Written {
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
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

/// Writes `body` as blob `key` on every node in `nodes`. `len` is the
/// length the client announced, if any.
pub async fn write_copies<S, E>(
    client: &NodeClient,
    nodes: &[&Node],
    key: &str,
    len: Option<u64>,
    body: S,
) -> Result<Written, UploadError>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Display,
{
    let mut senders = Vec::with_capacity(nodes.len());
    let mut puts = Vec::with_capacity(nodes.len());
    for node in nodes {
        let (sender, receiver) = mpsc::channel::<Result<Bytes, io::Error>>(CHUNKS_IN_FLIGHT);
        senders.push(sender);
        let body = reqwest::Body::wrap_stream(receiver);
        puts.push(async move { (*node, client.put_blob(&node.url, key, body, len).await) });
    }
    let (pumped, stored) = tokio::join!(pump(body, senders), futures::future::join_all(puts));

    // A broken body explains any node failure that follows from it.
    let written = match pumped {
        Err(Pump::Body(message)) => return Err(UploadError::Body(message)),
        Ok(written) => Some(written),
        Err(Pump::NodeHungUp) => None,
    };
    let mut confirmed = Vec::with_capacity(stored.len());
    for (node, result) in stored {
        match result {
            Ok(blob) => confirmed.push((node, blob)),
            Err(error) => {
                return Err(UploadError::Node {
                    node: node.id.to_string(),
                    error,
                });
            }
        }
    }
    let written = written.ok_or_else(|| UploadError::Body("a node stopped reading".into()))?;
    for (node, blob) in confirmed {
        if blob.size != written.size || blob.sha256 != written.sha256 {
            return Err(UploadError::Mismatch {
                node: node.id.to_string(),
                stored: format!("{} bytes with SHA-256 {}", blob.size, blob.sha256),
                sent: format!("{} bytes with SHA-256 {}", written.size, written.sha256),
            });
        }
    }
    Ok(written)
}

enum Pump {
    Body(String),
    NodeHungUp,
}

/// Copies the body into every node's channel, hashing as it goes.
async fn pump<S, E>(
    body: S,
    mut senders: Vec<mpsc::Sender<Result<Bytes, io::Error>>>,
) -> Result<Written, Pump>
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
                abort_all(&mut senders, &message).await;
                return Err(Pump::Body(message));
            }
        };
        hasher.update(&chunk);
        size += chunk.len() as u64;
        for index in 0..senders.len() {
            if senders[index].send(Ok(chunk.clone())).await.is_err() {
                abort_all(&mut senders, "another node failed").await;
                return Err(Pump::NodeHungUp);
            }
        }
    }
    Ok(Written {
        size,
        sha256: hex::encode(hasher.finalize()),
    })
}

/// Fails every node's request, so that no node keeps a partial blob.
async fn abort_all(senders: &mut [mpsc::Sender<Result<Bytes, io::Error>>], why: &str) {
    for sender in senders {
        let _ = sender.send(Err(io::Error::other(why.to_owned()))).await;
    }
}
