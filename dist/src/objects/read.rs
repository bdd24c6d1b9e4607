//! Reading an object's bytes from its copies for a client.
//!
//! The copies are tried in order; a node that fails before its first byte
//! is passed over, and one that fails mid-stream is replaced by the next
//! copy from the byte where it stopped, so a reader sees one unbroken body
//! while any copy is left.
//!
//! Rot is caught by the node: it checks every block against the sum
//! recorded when it was written before sending a byte of it, and at the
//! first bad block it refuses (if nothing was sent) or cuts the body after
//! the last good block. Either way this reader goes on from the next copy,
//! so whole reads and ranges alike get only checked bytes, and a read with
//! no good copy left ends short, never with wrong bytes. The node marks the
//! copy corrupt in its inventory, which the next repair round reads: there
//! the copy is dropped and made again from a good one. A cut alone does not
//! say why (a node may also die mid-read), so this reader reports nothing
//! itself.
//!
//! A whole read is also checked against the SHA-256, for copies whose
//! record has no block sums yet: the last chunk is held back until the hash
//! matches, so a client never gets all of a corrupt copy's bytes as if they
//! were good.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use cdn_common::{BlobKey, Hasher, NodeId, Sha256};
use futures::future::Either;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use uuid::Uuid;

use super::Objects;
use super::cache::Served;
use crate::catalog::{ContentRecord, ReplicaState, Segment};
use crate::cluster::{Node, NodeClient};
use crate::error::ApiError;
use crate::metrics;

/// How long a node may take to start answering, or between two chunks.
const STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Inclusive byte positions.
pub type ByteRange = (u64, u64);

/// Reports a copy whose bytes did not match the SHA-256, so it can be
/// repaired.
type CorruptCopy = Box<dyn FnOnce(NodeId) + Send>;

impl Objects {
    /// The nodes holding a good copy, the likeliest to answer well first:
    /// those up before those down, then the least loaded.
    pub fn readable_copies(&self, record: &ContentRecord) -> Vec<&Node> {
        let mut nodes: Vec<&Node> = record
            .replicas
            .iter()
            .filter(|replica| replica.is_ok())
            .filter_map(|replica| self.cluster.node(&replica.node_id))
            .collect();
        nodes.sort_by(|a, b| {
            b.is_up()
                .cmp(&a.is_up())
                .then(a.load().total_cmp(&b.load()))
        });
        nodes
    }

    /// Opens the object's bytes, all of them or the inclusive `range`: from
    /// memory when the object is small enough to keep, else (or when it
    /// cannot be loaded whole) from the first copy that answers; 503 when
    /// none does.
    pub async fn read(
        &self,
        record: &ContentRecord,
        range: Option<ByteRange>,
    ) -> Result<impl Stream<Item = io::Result<Bytes>> + Send + use<>, ApiError> {
        if self.hot.keeps(record)
            && let Some((bytes, served)) =
                self.hot.get_or_load(record, self.read_whole(record)).await
        {
            let bytes = match range {
                Some((first, last)) => bytes.slice(first as usize..=last as usize),
                None => bytes,
            };
            if served == Served::Hit {
                metrics::cache_hit_bytes(bytes.len() as u64);
            }
            return Ok(Either::Left(futures::stream::iter([Ok(bytes)])));
        }
        Ok(Either::Right(self.stream(record, range).await?))
    }

    /// The whole object in memory, checked against its size and SHA-256.
    async fn read_whole(&self, record: &ContentRecord) -> io::Result<Bytes> {
        let mut body = std::pin::pin!(self.stream(record, None).await.map_err(io::Error::other)?);
        let mut whole = BytesMut::with_capacity(record.size as usize);
        while let Some(chunk) = body.next().await {
            whole.extend_from_slice(&chunk?);
        }
        // The reader checked the SHA-256 of these bytes; a short body
        // ended with an error above.
        if whole.len() as u64 != record.size {
            return Err(io::Error::other("the copies ended short"));
        }
        Ok(whole.freeze())
    }

    /// Streams the bytes: from the copies of the object's blob, or part
    /// after part for an object made of parts. The stream borrows nothing,
    /// so a body can open one read after another.
    async fn stream(
        &self,
        record: &ContentRecord,
        range: Option<ByteRange>,
    ) -> Result<BoxStream<'static, io::Result<Bytes>>, ApiError> {
        if record.segments.is_empty() {
            return Ok(self.stream_blob(record, range).await?.boxed());
        }
        Ok(self.stream_parts(record, range))
    }

    /// The parts the requested bytes fall in, each opened when the one
    /// before it ends; a part read whole is checked against its SHA-256.
    fn stream_parts(
        &self,
        record: &ContentRecord,
        range: Option<ByteRange>,
    ) -> BoxStream<'static, io::Result<Bytes>> {
        let pieces = pieces(&record.segments, record.size, range);
        let objects = self.clone();
        futures::stream::iter(pieces)
            .then(move |(part_id, range)| {
                let objects = objects.clone();
                async move {
                    let part = objects
                        .catalog
                        .get(part_id)
                        .await
                        .map_err(io::Error::other)?
                        .ok_or_else(|| io::Error::other("a part of the object is gone"))?;
                    objects
                        .stream_blob(&part, range)
                        .await
                        .map_err(io::Error::other)
                }
            })
            .try_flatten()
            .boxed()
    }

    /// Streams the bytes of one blob from its copies.
    async fn stream_blob(
        &self,
        record: &ContentRecord,
        range: Option<ByteRange>,
    ) -> Result<impl Stream<Item = io::Result<Bytes>> + Send + use<>, ApiError> {
        let catalog = self.catalog.clone();
        let health = self.health.clone();
        let content_id = record.id;
        let on_corrupt = Box::new(move |node: NodeId| {
            health.count_lost_copy();
            tokio::spawn(async move {
                if let Err(err) = catalog
                    .mark_replica(content_id, &node, ReplicaState::Corrupt)
                    .await
                {
                    tracing::warn!(error = %err, "cannot record a corrupt copy");
                }
            });
        });
        let reader = CopyReader::open(
            self.nodes.clone(),
            record.blob_key.clone(),
            &self.readable_copies(record),
            range,
            record.size,
            record.sha256,
            on_corrupt,
        )
        .await
        .ok_or_else(|| {
            ApiError::Unavailable(format!(
                "no copy of content {} could be read right now",
                record.id
            ))
        })?;
        Ok(reader.into_stream())
    }
}

/// Which parts hold the inclusive `range` of an object of `size` bytes
/// (all of it when `None`), and which of each part's bytes: `None` for a
/// whole part.
fn pieces(
    segments: &[Segment],
    size: u64,
    range: Option<ByteRange>,
) -> Vec<(Uuid, Option<ByteRange>)> {
    if size == 0 {
        return Vec::new();
    }
    let (first, last) = range.unwrap_or((0, size - 1));
    let mut pieces = Vec::new();
    let mut start = 0;
    for segment in segments {
        let end = start + segment.size;
        if segment.size > 0 && first < end && last >= start {
            let from = first.max(start) - start;
            let to = last.min(end - 1) - start;
            let whole = from == 0 && to == segment.size - 1;
            pieces.push((segment.part_id, (!whole).then_some((from, to))));
        }
        start = end;
    }
    pieces
}

struct CopyReader {
    client: NodeClient,
    key: BlobKey,
    /// Copies not yet tried: node id and URL.
    copies: VecDeque<(NodeId, reqwest::Url)>,
    /// Where the requested bytes start, and how many there are.
    first: u64,
    length: u64,
    /// Bytes taken from nodes so far.
    received: u64,
    /// The nodes read from, in order.
    sources: Vec<NodeId>,
    /// The hash so far and the one expected, for whole reads.
    check: Option<(Hasher, Sha256)>,
    on_corrupt: Option<CorruptCopy>,
    body: Option<BoxStream<'static, reqwest::Result<Bytes>>>,
    /// The chunk held back until the next one (or the hash) vouches for it.
    held: Option<Bytes>,
}

impl CopyReader {
    /// Opens the first copy that answers. `range` is inclusive; `None` reads
    /// the whole `size` bytes and checks them against `sha256`.
    async fn open(
        client: NodeClient,
        key: BlobKey,
        copies: &[&Node],
        range: Option<ByteRange>,
        size: u64,
        sha256: Sha256,
        on_corrupt: CorruptCopy,
    ) -> Option<Self> {
        let (first, length) = match range {
            Some((first, last)) => (first, last - first + 1),
            None => (0, size),
        };
        let mut reader = CopyReader {
            client,
            key,
            copies: copies
                .iter()
                .map(|node| (node.id.clone(), node.url.clone()))
                .collect(),
            first,
            length,
            received: 0,
            sources: Vec::new(),
            check: range.is_none().then(|| (Hasher::default(), sha256)),
            on_corrupt: Some(on_corrupt),
            body: None,
            held: None,
        };
        if length > 0 && !reader.open_next().await {
            return None;
        }
        Some(reader)
    }

    /// Opens the next copy from where the last one stopped.
    async fn open_next(&mut self) -> bool {
        let from = self.first + self.received;
        let last = self.first + self.length - 1;
        while let Some((node, url)) = self.copies.pop_front() {
            let request = self.client.get_blob(&url, &self.key, Some((from, last)));
            match tokio::time::timeout(STALL_TIMEOUT, request).await {
                Ok(Ok(response)) if response.content_length() == Some(last - from + 1) => {
                    self.body = Some(response.bytes_stream().boxed());
                    self.sources.push(node);
                    return true;
                }
                Ok(Ok(response)) => tracing::warn!(
                    %node,
                    key = %self.key,
                    expected = last - from + 1,
                    got = ?response.content_length(),
                    "copy has the wrong length"
                ),
                Ok(Err(err)) => {
                    tracing::warn!(%node, key = %self.key, error = %err, "copy unreadable")
                }
                Err(_) => tracing::warn!(%node, key = %self.key, "copy did not answer in time"),
            }
        }
        false
    }

    /// The next chunk for the client, `None` at the end.
    async fn next_chunk(&mut self) -> Option<io::Result<Bytes>> {
        loop {
            if self.received == self.length {
                return self.finish();
            }
            if self.body.is_none() && !self.open_next().await {
                return Some(Err(io::Error::other("no copy left to read from")));
            }
            let body = self.body.as_mut()?;
            match tokio::time::timeout(STALL_TIMEOUT, body.next()).await {
                Ok(Some(Ok(chunk))) => {
                    let room = (self.length - self.received) as usize;
                    let chunk = if chunk.len() > room {
                        chunk.slice(..room)
                    } else {
                        chunk
                    };
                    self.received += chunk.len() as u64;
                    if let Some((hasher, _)) = &mut self.check {
                        hasher.update(&chunk);
                    }
                    if let Some(ready) = self.held.replace(chunk)
                        && !ready.is_empty()
                    {
                        return Some(Ok(ready));
                    }
                }
                outcome => {
                    let why = match outcome {
                        Ok(Some(Err(err))) => err.to_string(),
                        Ok(None) => "ended early".to_owned(),
                        _ => "stalled".to_owned(),
                    };
                    tracing::warn!(
                        key = %self.key,
                        node = self.sources.last().map(NodeId::as_str),
                        at = self.received,
                        why,
                        "copy broke off mid-read; going on from the next copy"
                    );
                    self.body = None;
                }
            }
        }
    }

    /// Releases the held-back chunk once the whole read checks out.
    fn finish(&mut self) -> Option<io::Result<Bytes>> {
        if let Some((hasher, expected)) = self.check.take()
            && hasher.finish().sha256 != expected
        {
            tracing::warn!(key = %self.key, sources = ?self.sources, "bytes read do not match the SHA-256");
            // With one source the culprit is known.
            if let ([node], Some(report)) = (self.sources.as_slice(), self.on_corrupt.take()) {
                report(node.clone());
            }
            self.held = None;
            return Some(Err(io::Error::other(
                "the copy's bytes do not match the checksum",
            )));
        }
        self.held.take().map(Ok)
    }

    fn into_stream(self) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        futures::stream::unfold(self, |mut reader| async move {
            let chunk = reader.next_chunk().await?;
            let failed = chunk.is_err();
            // After an error the stream ends: the client sees a short body.
            if failed {
                reader.length = reader.received;
                reader.check = None;
                reader.held = None;
            }
            Some((chunk, reader))
        })
        // Safe to poll past its end: a compressing body asks once more.
        .fuse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(sizes: &[u64]) -> Vec<Segment> {
        sizes
            .iter()
            .map(|&size| Segment {
                part_id: Uuid::now_v7(),
                size,
            })
            .collect()
    }

    #[test]
    fn a_range_across_part_boundaries_reads_the_parts_it_covers() {
        let parts = segments(&[10, 10, 5]);
        let ids: Vec<Uuid> = parts.iter().map(|part| part.part_id).collect();
        assert_eq!(
            pieces(&parts, 25, None),
            [(ids[0], None), (ids[1], None), (ids[2], None)]
        );
        assert_eq!(
            pieces(&parts, 25, Some((8, 21))),
            [
                (ids[0], Some((8, 9))),
                (ids[1], None),
                (ids[2], Some((0, 1)))
            ]
        );
        assert_eq!(pieces(&parts, 25, Some((10, 19))), [(ids[1], None)]);
        assert_eq!(pieces(&parts, 25, Some((24, 24))), [(ids[2], Some((4, 4)))]);
        assert!(pieces(&[], 0, None).is_empty());
    }
}
