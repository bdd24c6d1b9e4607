//! Raw HTTP/1.1 over a socket, for the probes a client library would never
//! send: trickled heads, smuggling attempts, oversized headers.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{Instant, timeout_at};

/// What came back for a raw request.
#[derive(Debug)]
pub struct Answer {
    /// The response's status, if a whole response head arrived.
    pub status: Option<u16>,
    /// The response head as text (empty if none came).
    pub head: String,
    /// Whether the server closed the connection before `within` passed.
    pub closed: bool,
}

impl Answer {
    /// The value of header `name` in the head (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }
}

pub async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr)
        .await
        .unwrap_or_else(|err| panic!("connecting to {addr}: {err}"))
}

/// A connection from loopback address `from` (any of 127.0.0.0/8), so a
/// server sees it as another client than 127.0.0.1.
pub async fn connect_from(from: IpAddr, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("a socket");
    socket
        .bind(SocketAddr::new(from, 0))
        .unwrap_or_else(|err| panic!("binding to {from}: {err}"));
    socket
        .connect(addr)
        .await
        .unwrap_or_else(|err| panic!("connecting to {addr} from {from}: {err}"))
}

/// Reads until a response head is whole, the server closes, or `within`
/// passes.
pub async fn read_head(stream: &mut TcpStream, within: Duration) -> Answer {
    let deadline = Instant::now() + within;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        if let Some(end) = find_head_end(&received) {
            received.truncate(end);
            break false;
        }
        match timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => break false,
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(read)) => received.extend_from_slice(&buf[..read]),
        }
    };
    let head = String::from_utf8_lossy(&received).into_owned();
    let status = find_head_end(&received)
        .or(Some(received.len()).filter(|_| head.starts_with("HTTP/1.")))
        .and_then(|_| head.split_whitespace().nth(1)?.parse().ok());
    Answer {
        status,
        head,
        closed,
    }
}

fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|at| at + 4)
}

/// Connects, sends `request` while reading the answer, and returns the
/// answer's head. The server may answer (and close) before it has read the
/// whole request, as it does for a body it refuses.
pub async fn send(addr: SocketAddr, request: &[u8], within: Duration) -> Answer {
    talk(addr, request, within, false).await.0
}

/// [`send`], then everything else the server sends until it closes or
/// `within` passes: the second part is empty unless it answered more than
/// one request.
pub async fn exchange(addr: SocketAddr, request: &[u8], within: Duration) -> (Answer, String) {
    talk(addr, request, within, true).await
}

async fn talk(
    addr: SocketAddr,
    request: &[u8],
    within: Duration,
    until_close: bool,
) -> (Answer, String) {
    let deadline = Instant::now() + within;
    let (mut reader, mut writer) = connect(addr).await.into_split();
    let request = request.to_vec();
    let sending = tokio::spawn(async move {
        let _ = writer.write_all(&request).await;
        // Keep the write half open: closing it could end the exchange early.
        writer
    });
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match timeout_at(deadline, reader.read(&mut buf)).await {
            Err(_) => break false,
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(read)) => received.extend_from_slice(&buf[..read]),
        }
        if !until_close && find_head_end(&received).is_some() {
            break false;
        }
    };
    sending.abort();
    let end = find_head_end(&received).unwrap_or(received.len());
    let head = String::from_utf8_lossy(&received[..end]).into_owned();
    let rest = String::from_utf8_lossy(&received[end..]).into_owned();
    let status =
        find_head_end(&received).and_then(|_| head.split_whitespace().nth(1)?.parse().ok());
    (
        Answer {
            status,
            head,
            closed,
        },
        rest,
    )
}

/// Waits until the server closes the connection (end of stream or reset),
/// discarding what it sends; `false` if `within` passes first.
pub async fn closes_within(stream: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 4096];
    loop {
        match timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}
