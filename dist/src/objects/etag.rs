//! The MD5 of an upload's bytes, taken as they stream past: S3 clients
//! expect it as the ETag of an object put in one piece. The SHA-256 stays
//! the integrity check; this is only what S3 calls the entity tag.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use md5::{Digest, Md5};

pub struct Md5Stream<S> {
    inner: S,
    state: Md5,
}

impl<S> Md5Stream<S> {
    pub fn new(inner: S) -> Self {
        Md5Stream {
            inner,
            state: Md5::new(),
        }
    }

    /// Lowercase hex of the MD5 of what went through.
    pub fn finish(self) -> String {
        hex::encode(self.state.finalize())
    }
}

impl<S, E> Stream for Md5Stream<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            this.state.update(chunk);
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn hashes_every_chunk_in_order() {
        let chunks = ["hello", " ", "world"].map(|part| Ok::<_, std::io::Error>(Bytes::from(part)));
        let mut stream = Md5Stream::new(futures::stream::iter(chunks));
        while stream.next().await.is_some() {}
        assert_eq!(stream.finish(), "5eb63bbbe01eeed093cb22bb8f5acdc3");
    }
}
