//! Request bodies that must keep arriving, and response bodies that hold
//! what a request counts against until they are sent.
//!
//! tower-http's `TimeoutBody` restarts its timer at every frame, so a body
//! that dribbles one byte a second never times out; [`StallBody`] asks for a
//! minimum number of bytes over each window instead.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep, sleep_until};

/// Why a request body was cut: it brought too little over one window.
#[derive(Debug, thiserror::Error)]
#[error("the request body stalled: less than {needed} bytes arrived in {window:?}")]
pub struct BodyStalled {
    pub needed: u64,
    pub window: Duration,
}

/// A request body that fails with [`BodyStalled`] when fewer than `needed`
/// bytes arrive within a window. Only time spent waiting for the client
/// counts: while the server is busy with a chunk (writing it to disk or to
/// a slow node), the window is paused.
pub(super) struct StallBody<B> {
    body: B,
    window: Duration,
    needed: u64,
    received: u64,
    window_end: Option<Instant>,
    deadline: Option<Pin<Box<Sleep>>>,
    /// When the last chunk was handed over; the gap until the next poll is
    /// the server's time, not the client's.
    handed_over: Option<Instant>,
}

impl<B> StallBody<B> {
    pub(super) fn new(body: B, window: Duration, min_rate: u64) -> Self {
        let needed = ((min_rate as f64) * window.as_secs_f64()).ceil() as u64;
        StallBody {
            body,
            window,
            needed: needed.max(1),
            received: 0,
            window_end: None,
            deadline: None,
            handed_over: None,
        }
    }

    /// Moves on to the next window if this one is over and brought enough.
    fn check_window(&mut self, now: Instant) -> Result<(), BodyStalled> {
        let end = *self.window_end.get_or_insert(now + self.window);
        if now >= end {
            if self.received < self.needed {
                return Err(BodyStalled {
                    needed: self.needed,
                    window: self.window,
                });
            }
            self.received = 0;
            self.window_end = Some(now + self.window);
        }
        Ok(())
    }

    fn arm(&mut self) -> &mut Pin<Box<Sleep>> {
        let end = self
            .window_end
            .unwrap_or_else(|| Instant::now() + self.window);
        match &mut self.deadline {
            Some(deadline) if deadline.deadline() == end => {}
            Some(deadline) => deadline.as_mut().reset(end),
            None => self.deadline = Some(Box::pin(sleep_until(end))),
        }
        self.deadline.as_mut().expect("set above")
    }
}

impl<B> http_body::Body for StallBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let now = Instant::now();
        if let (Some(since), Some(end)) = (this.handed_over.take(), this.window_end) {
            this.window_end = Some(end + now.saturating_duration_since(since));
        }
        loop {
            if let Err(stalled) = this.check_window(Instant::now()) {
                return Poll::Ready(Some(Err(stalled.into())));
            }
            match Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Some(data) = frame.data_ref() {
                        this.received += data.len() as u64;
                    }
                    this.handed_over = Some(Instant::now());
                    return Poll::Ready(Some(Ok(frame)));
                }
                Poll::Ready(Some(Err(err))) => return Poll::Ready(Some(Err(err.into()))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => {
                    if this.arm().as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    // The window ended while waiting: judged at the loop's top.
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A response body holding `held` (the request's place in the in-flight
/// count, the connection's busy mark) until it is sent or dropped.
pub(super) struct Held<T> {
    body: Body,
    _held: T,
}

impl<T> Held<T> {
    pub(super) fn new(body: Body, held: T) -> Self {
        Held { body, _held: held }
    }
}

impl<T: Unpin> http_body::Body for Held<T> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn dribble(
        every: Duration,
        chunks: usize,
    ) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        futures::stream::iter(0..chunks).then(move |_| async move {
            tokio::time::sleep(every).await;
            Ok(Bytes::from_static(b"x"))
        })
    }

    fn watched(every: Duration, chunks: usize, window: Duration, rate: u64) -> Body {
        let body = Body::from_stream(dribble(every, chunks));
        Body::new(StallBody::new(body, window, rate))
    }

    #[tokio::test(start_paused = true)]
    async fn a_dribble_below_the_rate_is_cut_after_one_window() {
        let mut stream =
            watched(Duration::from_secs(1), 100, Duration::from_secs(10), 100).into_data_stream();
        let started = Instant::now();
        let err = loop {
            match stream.next().await.expect("cut before the end") {
                Ok(_) => continue,
                Err(err) => break err,
            }
        };
        let source = std::error::Error::source(&err).expect("the cause");
        assert!(source.is::<BodyStalled>(), "{err}");
        let waited = started.elapsed();
        assert!(waited >= Duration::from_secs(10) && waited <= Duration::from_secs(11));
    }

    #[tokio::test(start_paused = true)]
    async fn a_steady_body_passes_and_time_spent_by_the_server_does_not_count() {
        let mut stream =
            watched(Duration::from_millis(100), 50, Duration::from_secs(1), 5).into_data_stream();
        let mut bytes = 0;
        while let Some(chunk) = stream.next().await {
            bytes += chunk.unwrap().len();
            // A slow consumer: longer than a window between reads.
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        assert_eq!(bytes, 50);
    }
}
