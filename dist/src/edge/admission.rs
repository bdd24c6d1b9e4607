//! Admission of uploads: how much storage uploads in flight may claim, in
//! total and per client, before any node is asked.
//!
//! An upload claims the length it declares (`Content-Length`), or, when it
//! declares none (chunked), the bytes it has sent so far. A claim beyond
//! `MAX_UPLOAD_RESERVATION_PER_CLIENT` is refused with `429` (that client
//! should slow down; others are unaffected), and one beyond
//! `MAX_UPLOAD_RESERVATION` with `503` (the whole service is busy); both
//! carry `Retry-After`. The claim ends when the upload does, however it
//! ends. So a client that opens uploads declaring a node's free space and
//! then dribbles can hold at most its own share, and honest uploads from
//! other addresses still find room.
//!
//! A client is its IP address (an IPv6 client its /64, which one host
//! usually owns whole). Behind a reverse proxy every client has the proxy's
//! address: the proxy should apply its own per-client limits.
//!
//! This module also says why an upload's body was cut: a claim refused
//! mid-way (chunked bodies), or a body that stalled (`BODY_STALL_TIMEOUT`,
//! answered `408`).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::{Body, BodyDataStream};
use axum::extract::{ConnectInfo, Request};
use axum::http::header;
use bytes::Bytes;
use cdn_common::serve::BodyStalled;
use futures::Stream;

use crate::error::ApiError;

/// Seconds a refused client is told to wait.
const RETRY_AFTER_SECS: u64 = 2;

/// The claims of all uploads in flight.
pub struct Admission {
    max_total: u64,
    max_per_client: u64,
    claims: Mutex<Claims>,
}

#[derive(Default)]
struct Claims {
    total: u64,
    by_client: HashMap<IpAddr, u64>,
}

/// Why a claim was refused.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Refused {
    #[error(
        "this client's uploads in flight already claim {claimed} of its {max} bytes; retry when one ends"
    )]
    Client { claimed: u64, max: u64 },
    #[error("uploads in flight already claim {claimed} of {max} bytes; retry shortly")]
    Total { claimed: u64, max: u64 },
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        let message = refused.to_string();
        match refused {
            Refused::Client { .. } => ApiError::TooManyRequests {
                message,
                retry_after: RETRY_AFTER_SECS,
            },
            Refused::Total { .. } => ApiError::Busy {
                message,
                retry_after: RETRY_AFTER_SECS,
            },
        }
    }
}

impl Admission {
    pub fn new(max_total: u64, max_per_client: u64) -> Arc<Self> {
        Arc::new(Admission {
            max_total,
            max_per_client,
            claims: Mutex::default(),
        })
    }

    /// Bytes claimed by uploads in flight, in total.
    #[cfg(test)]
    fn claimed(&self) -> u64 {
        self.lock().total
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Claims> {
        // The counts stay whole even if a holder panicked: each change is
        // one arithmetic step.
        self.claims
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes `extra` more bytes for `client`, if both caps allow.
    fn claim(&self, client: IpAddr, extra: u64) -> Result<(), Refused> {
        let mut claims = self.lock();
        let mine = claims.by_client.get(&client).copied().unwrap_or(0);
        if mine.saturating_add(extra) > self.max_per_client {
            return Err(Refused::Client {
                claimed: mine,
                max: self.max_per_client,
            });
        }
        if claims.total.saturating_add(extra) > self.max_total {
            return Err(Refused::Total {
                claimed: claims.total,
                max: self.max_total,
            });
        }
        claims.total += extra;
        *claims.by_client.entry(client).or_insert(0) += extra;
        Ok(())
    }

    fn release(&self, client: IpAddr, bytes: u64) {
        let mut claims = self.lock();
        claims.total = claims.total.saturating_sub(bytes);
        if let Some(mine) = claims.by_client.get_mut(&client) {
            *mine = mine.saturating_sub(bytes);
            if *mine == 0 {
                claims.by_client.remove(&client);
            }
        }
    }

    /// Admits an upload: claims its declared length (refusing at once if a
    /// cap does not allow it), and returns the request with a body that
    /// claims more as it arrives when no length was declared, plus the
    /// [`Upload`] that explains a failure.
    pub fn admit(self: &Arc<Self>, request: Request) -> Result<(Request, Upload), ApiError> {
        self.admit_claiming(request, true)
    }

    /// [`Admission::admit`] claiming only the bytes as they arrive, whatever
    /// length is declared: for a body whose sender is not yet known, which
    /// may be cut long before that length.
    pub fn admit_as_sent(
        self: &Arc<Self>,
        request: Request,
    ) -> Result<(Request, Upload), ApiError> {
        self.admit_claiming(request, false)
    }

    fn admit_claiming(
        self: &Arc<Self>,
        request: Request,
        trust_declared: bool,
    ) -> Result<(Request, Upload), ApiError> {
        let client = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(peer)| peer.ip());
        let client = client_key(client);
        let declared: Option<u64> = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.parse().ok())
            .filter(|_| trust_declared);
        let claim = Arc::new(Claim {
            admission: self.clone(),
            client,
            bytes: Mutex::new(0),
        });
        if let Some(len) = declared {
            claim.grow_to(len)?;
        }
        let cut = Arc::new(Mutex::new(None));
        let (parts, body) = request.into_parts();
        let watched = Watched {
            body: body.into_data_stream(),
            claim: claim.clone(),
            counted: declared.is_none(),
            received: 0,
            cut: cut.clone(),
        };
        let request = Request::from_parts(parts, Body::from_stream(watched));
        Ok((request, Upload { _claim: claim, cut }))
    }
}

/// The key a client's claims are counted under.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(Ipv6Addr::from(segments))
            }
        },
        v4 => v4,
    }
}

/// One upload's claim, given back when the upload and its body are done.
struct Claim {
    admission: Arc<Admission>,
    client: IpAddr,
    bytes: Mutex<u64>,
}

impl Claim {
    fn grow_to(&self, total: u64) -> Result<(), Refused> {
        let mut bytes = self.bytes.lock().unwrap_or_else(|p| p.into_inner());
        if total > *bytes {
            self.admission.claim(self.client, total - *bytes)?;
            *bytes = total;
        }
        Ok(())
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let bytes = *self.bytes.get_mut().unwrap_or_else(|p| p.into_inner());
        self.admission.release(self.client, bytes);
    }
}

/// Why an upload's body ended early, as this module saw it.
#[derive(Clone, Debug)]
enum Cut {
    Refused(Refused),
    Stalled(String),
}

/// An admitted upload, held by its handler until it answers.
pub struct Upload {
    _claim: Arc<Claim>,
    cut: Arc<Mutex<Option<Cut>>>,
}

impl Upload {
    /// The answer for a failed upload: `408` if its body stalled, `429` or
    /// `503` if its claim could not grow, else `err` as it is.
    pub fn explain(&self, err: ApiError) -> ApiError {
        let cut = self.cut.lock().unwrap_or_else(|p| p.into_inner()).take();
        match cut {
            Some(Cut::Refused(refused)) => refused.into(),
            Some(Cut::Stalled(message)) => ApiError::RequestTimeout(message),
            None => err,
        }
    }
}

/// The upload's body: claims what arrives when no length was declared,
/// and notes why it was cut.
struct Watched {
    body: BodyDataStream,
    claim: Arc<Claim>,
    /// Whether arriving bytes must be claimed (no `Content-Length`).
    counted: bool,
    received: u64,
    cut: Arc<Mutex<Option<Cut>>>,
}

impl Watched {
    fn note(&self, cut: Cut) {
        *self.cut.lock().unwrap_or_else(|p| p.into_inner()) = Some(cut);
    }
}

impl Stream for Watched {
    type Item = Result<Bytes, axum::BoxError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match Pin::new(&mut this.body).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.received += chunk.len() as u64;
                if this.counted
                    && let Err(refused) = this.claim.grow_to(this.received)
                {
                    this.note(Cut::Refused(refused.clone()));
                    return Poll::Ready(Some(Err(refused.into())));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(err))) => {
                if let Some(stalled) = stalled(&err) {
                    this.note(Cut::Stalled(stalled.to_string()));
                }
                Poll::Ready(Some(Err(err.into())))
            }
            other => other.map(|item| item.map(|result| result.map_err(Into::into))),
        }
    }
}

/// The stall behind a body error, if that is what it was.
fn stalled(err: &axum::Error) -> Option<&BodyStalled> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(inner) = cause {
        if let Some(stalled) = inner.downcast_ref::<BodyStalled>() {
            return Some(stalled);
        }
        cause = inner.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(
        admission: &Arc<Admission>,
        peer: &str,
        len: Option<u64>,
    ) -> Result<Upload, ApiError> {
        let mut builder = Request::builder().method("POST").uri("/content");
        if let Some(len) = len {
            builder = builder.header(header::CONTENT_LENGTH, len);
        }
        let mut request = builder.body(Body::empty()).unwrap();
        let peer: SocketAddr = peer.parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        admission.admit(request).map(|(_, upload)| upload)
    }

    #[test]
    fn each_client_has_its_share_and_all_share_the_total() {
        let admission = Admission::new(250, 100);
        let first = upload(&admission, "10.0.0.1:1", Some(100)).unwrap();
        let err = upload(&admission, "10.0.0.1:2", Some(1)).err().unwrap();
        assert!(matches!(err, ApiError::TooManyRequests { .. }), "{err:?}");
        let _second = upload(&admission, "10.0.0.2:1", Some(100)).unwrap();
        let err = upload(&admission, "10.0.0.3:1", Some(60)).err().unwrap();
        assert!(matches!(err, ApiError::Busy { .. }), "{err:?}");
        assert_eq!(admission.claimed(), 200);
        drop(first);
        assert_eq!(admission.claimed(), 100);
        upload(&admission, "10.0.0.1:3", Some(100)).unwrap();
    }

    #[test]
    fn an_ipv6_client_is_its_slash_64() {
        let admission = Admission::new(1000, 100);
        let _held = upload(&admission, "[2001:db8::1]:1", Some(100)).unwrap();
        assert!(upload(&admission, "[2001:db8::2]:1", Some(1)).is_err());
        assert!(upload(&admission, "[2001:db8:0:1::1]:1", Some(1)).is_ok());
    }

    #[tokio::test]
    async fn a_chunked_body_claims_what_arrives() {
        use futures::StreamExt;
        let admission = Admission::new(1000, 10);
        let chunk = || Ok::<_, std::io::Error>(Bytes::from_static(b"123456"));
        let chunks = futures::stream::iter([chunk(), chunk()]);
        let mut request = Request::builder()
            .method("POST")
            .uri("/content")
            .body(Body::from_stream(chunks))
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo("10.0.0.1:1".parse::<SocketAddr>().unwrap()));
        let (request, upload) = admission.admit(request).unwrap();
        let mut body = request.into_body().into_data_stream();
        assert!(body.next().await.unwrap().is_ok());
        assert_eq!(admission.claimed(), 6);
        assert!(body.next().await.unwrap().is_err());
        let err = upload.explain(ApiError::BadRequest("cut".into()));
        assert!(matches!(err, ApiError::TooManyRequests { .. }), "{err:?}");
        drop((body, upload));
        assert_eq!(admission.claimed(), 0);
    }
}
