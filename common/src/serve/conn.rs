//! The timers around one connection's socket: the request head, the idle
//! wait between requests, and writes the client does not take.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep, sleep};

use super::Limits;

/// What a connection's requests tell its socket: how many are being served
/// (0 or 1 for HTTP/1), and whom to wake when the last one ends.
#[derive(Default)]
pub(super) struct ConnWatch {
    busy: AtomicUsize,
    reader: AtomicWaker,
}

impl ConnWatch {
    /// Marks a request as being served until the guard is dropped.
    pub(super) fn enter(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::SeqCst);
        Busy(self.clone())
    }

    fn is_busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst) > 0
    }
}

/// A request being served, until its response body has been sent.
pub(super) struct Busy(Arc<ConnWatch>);

impl Drop for Busy {
    fn drop(&mut self) {
        if self.0.busy.fetch_sub(1, Ordering::SeqCst) == 1 {
            // hyper may be parked on a read armed while the request ran:
            // wake it so the idle timer starts now.
            self.0.reader.wake();
        }
    }
}

/// Where the connection is between requests.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// A request is being served: its body has timers of its own.
    Busy,
    /// Waiting for the first byte of the next request.
    Idle,
    /// Reading a request head.
    Head,
}

/// The socket, failing a read with `TimedOut` when the head or the idle
/// wait runs out, and a write the client has not taken for
/// `BODY_STALL_TIMEOUT`. hyper then closes the connection.
pub(super) struct TimedIo {
    stream: TcpStream,
    watch: Arc<ConnWatch>,
    header_timeout: Duration,
    idle_timeout: Duration,
    write_timeout: Duration,
    phase: Phase,
    read_deadline: Pin<Box<Sleep>>,
    write_deadline: Option<Pin<Box<Sleep>>>,
}

impl TimedIo {
    pub(super) fn new(stream: TcpStream, watch: Arc<ConnWatch>, limits: &Limits) -> Self {
        TimedIo {
            stream,
            watch,
            header_timeout: limits.header_timeout,
            idle_timeout: limits.idle_timeout,
            write_timeout: limits.body_stall_timeout,
            // A new connection owes its first head at once.
            phase: Phase::Head,
            read_deadline: Box::pin(sleep(limits.header_timeout)),
            write_deadline: None,
        }
    }

    fn expire_read_in(&mut self, timeout: Duration) {
        self.read_deadline.as_mut().reset(Instant::now() + timeout);
    }
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_owned())
}

impl AsyncRead for TimedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.watch.reader.register(cx.waker());
        if this.watch.is_busy() {
            this.phase = Phase::Busy;
            return Pin::new(&mut this.stream).poll_read(cx, buf);
        }
        if this.phase == Phase::Busy {
            this.phase = Phase::Idle;
            this.expire_read_in(this.idle_timeout);
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if this.phase == Phase::Idle && buf.filled().len() > before {
                    // The next request has begun: its head has its own limit.
                    this.phase = Phase::Head;
                    this.expire_read_in(this.header_timeout);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => match this.read_deadline.as_mut().poll(cx) {
                Poll::Ready(()) if this.phase == Phase::Idle => {
                    Poll::Ready(Err(timed_out("idle keep-alive connection timed out")))
                }
                Poll::Ready(()) => Poll::Ready(Err(timed_out("request head timed out"))),
                Poll::Pending => Poll::Pending,
            },
            failed => failed,
        }
    }
}

impl TimedIo {
    /// `written`, with the write timer started while the socket is full and
    /// cleared once it takes bytes again.
    fn time_write(
        &mut self,
        cx: &mut Context<'_>,
        written: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        if written.is_ready() {
            self.write_deadline = None;
            return written;
        }
        let timeout = self.write_timeout;
        let deadline = self
            .write_deadline
            .get_or_insert_with(|| Box::pin(sleep(timeout)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(timed_out("the client stopped reading"))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for TimedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.time_write(cx, written)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.time_write(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
