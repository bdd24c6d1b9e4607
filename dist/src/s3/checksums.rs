//! The checksums a client sends with an upload (`Content-MD5`, an
//! `x-amz-checksum-*` header, or the same as a trailer after the last
//! chunk, which newer SDKs send by default), checked on the write's one
//! pass: a body whose sum differs ends in an error before the write is
//! recorded, and the request is answered `BadDigest`.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures::Stream;
use s3s::checksum::ChecksumHasher;
use s3s::crypto::{Checksum as _, Crc32, Crc32c, Crc64Nvme, Md5, Sha1, Sha256};
use s3s::dto::Checksum;
use s3s::{S3Error, S3ErrorCode, S3Result, TrailingHeaders, s3_error};

/// The algorithms S3 knows, by the header (or trailer) that carries them.
const ALGORITHMS: [&str; 5] = [
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
];

/// What a request claims of its bytes.
#[derive(Default)]
pub struct Claims {
    /// Values sent as headers.
    pub headers: Checksum,
    /// Base64 MD5 from `Content-MD5`.
    pub content_md5: Option<String>,
    /// The `x-amz-trailer` header: which checksum follows the body.
    pub trailer: Option<String>,
    /// Where `s3s` puts the trailers once the body is read.
    pub trailers: Option<TrailingHeaders>,
}

/// An upload operation's input, whose checksum fields are named alike in
/// every such operation.
pub trait UploadInput {
    fn checksum_headers(&self) -> Checksum;
    fn content_md5(&self) -> Option<String>;
}

macro_rules! upload_inputs {
    ($($input:ty),*) => {$(
        impl UploadInput for $input {
            fn checksum_headers(&self) -> Checksum {
                Checksum {
                    checksum_crc32: self.checksum_crc32.clone(),
                    checksum_crc32c: self.checksum_crc32c.clone(),
                    checksum_crc64nvme: self.checksum_crc64nvme.clone(),
                    checksum_sha1: self.checksum_sha1.clone(),
                    checksum_sha256: self.checksum_sha256.clone(),
                    ..Default::default()
                }
            }

            fn content_md5(&self) -> Option<String> {
                self.content_md5.clone()
            }
        }
    )*};
}

upload_inputs!(s3s::dto::PutObjectInput, s3s::dto::UploadPartInput);

impl Claims {
    /// The claims of an upload, from its parsed input and its raw headers
    /// and trailers.
    pub fn of(
        input: &impl UploadInput,
        raw: &HeaderMap,
        trailers: Option<TrailingHeaders>,
    ) -> S3Result<Claims> {
        let headers = input.checksum_headers();
        let content_md5 = input.content_md5();
        let trailer = match raw.get("x-amz-trailer") {
            None => None,
            Some(value) => {
                let name = value
                    .to_str()
                    .map_err(|_| s3_error!(InvalidRequest, "x-amz-trailer is not text"))?
                    .trim()
                    .to_ascii_lowercase();
                if !ALGORITHMS.contains(&name.as_str()) {
                    return Err(s3_error!(
                        InvalidRequest,
                        "the trailer {} is not a checksum this service knows",
                        name
                    ));
                }
                Some(name)
            }
        };
        Ok(Claims {
            headers,
            content_md5,
            trailer,
            trailers,
        })
    }

    /// The claimed value of one algorithm: its header, else its trailer.
    fn claimed(&self, name: &str) -> Option<String> {
        let header = match name {
            "x-amz-checksum-crc32" => &self.headers.checksum_crc32,
            "x-amz-checksum-crc32c" => &self.headers.checksum_crc32c,
            "x-amz-checksum-crc64nvme" => &self.headers.checksum_crc64nvme,
            "x-amz-checksum-sha1" => &self.headers.checksum_sha1,
            _ => &self.headers.checksum_sha256,
        };
        header.clone().or_else(|| {
            let trailers = self.trailers.as_ref()?;
            trailers
                .read(|map| Some(map.get(name)?.to_str().ok()?.trim().to_owned()))
                .flatten()
        })
    }

    fn announces(&self, name: &str) -> bool {
        self.trailer.as_deref() == Some(name) || self.claimed(name).is_some()
    }
}

/// How a checked body ended: `None` until it ends, and after unless a
/// checksum differed or a chunk's signature did.
#[derive(Clone, Default)]
pub struct Verdict(Arc<Mutex<Option<S3Error>>>);

impl Verdict {
    /// The checksum or signature failure, if the body had one; it explains
    /// an error of the write better than the write can.
    pub fn failure(&self) -> Option<S3Error> {
        self.0.lock().ok()?.take()
    }

    fn fail(&self, error: S3Error) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(error);
        }
    }
}

/// `body`, summed as it passes; at its end the sums are compared with the
/// claims, and a difference becomes the stream's last item, an error.
pub fn checked<S>(body: S, claims: Claims) -> (CheckedBody<S>, Verdict) {
    let hasher = ChecksumHasher {
        crc32: claims.announces(ALGORITHMS[0]).then(Crc32::new),
        crc32c: claims.announces(ALGORITHMS[1]).then(Crc32c::new),
        crc64nvme: claims.announces(ALGORITHMS[2]).then(Crc64Nvme::new),
        sha1: claims.announces(ALGORITHMS[3]).then(Sha1::new),
        sha256: claims.announces(ALGORITHMS[4]).then(Sha256::new),
    };
    let md5 = claims.content_md5.is_some().then(Md5::new);
    let verdict = Verdict::default();
    let body = CheckedBody {
        body,
        hasher: Some(hasher),
        md5,
        claims,
        verdict: verdict.clone(),
    };
    (body, verdict)
}

pub struct CheckedBody<S> {
    body: S,
    /// Taken when the body ends.
    hasher: Option<ChecksumHasher>,
    md5: Option<Md5>,
    claims: Claims,
    verdict: Verdict,
}

impl<S> CheckedBody<S> {
    /// The first claim the sums contradict, or a trailer announced and
    /// not sent.
    fn compare(&mut self) -> Option<S3Error> {
        let sums = self.hasher.take()?.finalize();
        if let (Some(md5), Some(claimed)) = (self.md5.take(), &self.claims.content_md5) {
            let sum = STANDARD.encode(md5.finalize());
            if &sum != claimed {
                return Some(S3Error::with_message(
                    S3ErrorCode::BadDigest,
                    "The Content-MD5 you specified did not match what we received.",
                ));
            }
        }
        let computed = [
            sums.checksum_crc32,
            sums.checksum_crc32c,
            sums.checksum_crc64nvme,
            sums.checksum_sha1,
            sums.checksum_sha256,
        ];
        for (name, sum) in ALGORITHMS.iter().zip(computed) {
            let Some(sum) = sum else { continue };
            match self.claims.claimed(name) {
                Some(claimed) if claimed == sum => {}
                Some(_) => {
                    let algorithm = name.trim_start_matches("x-amz-checksum-").to_uppercase();
                    return Some(S3Error::with_message(
                        S3ErrorCode::BadDigest,
                        format!(
                            "The {algorithm} you specified did not match the calculated checksum."
                        ),
                    ));
                }
                None => {
                    return Some(s3_error!(
                        InvalidRequest,
                        "the trailer {} was announced but not sent",
                        name
                    ));
                }
            }
        }
        None
    }
}

impl<S, E> Stream for CheckedBody<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    type Item = Result<Bytes, String>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match Pin::new(&mut this.body).poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(bytes))) => {
                if let Some(hasher) = &mut this.hasher {
                    hasher.update(&bytes);
                }
                if let Some(md5) = &mut this.md5 {
                    md5.update(&bytes);
                }
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Ready(Some(Err(err))) => {
                let err = err.to_string();
                // `s3s` keeps its chunk error type private; its text names
                // the case, and the forged-trailer test holds us to it.
                if err.ends_with("SignatureMismatch") {
                    this.verdict.fail(s3_error!(
                        SignatureDoesNotMatch,
                        "a chunk or trailer signature does not match"
                    ));
                }
                Poll::Ready(Some(Err(err)))
            }
            Poll::Ready(None) => match this.compare() {
                None => Poll::Ready(None),
                Some(error) => {
                    let message = error.message().unwrap_or("bad digest").to_owned();
                    this.verdict.fail(error);
                    Poll::Ready(Some(Err(message)))
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use s3s::dto::PutObjectInput;

    use super::*;

    fn body(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, String>> + Unpin {
        futures::stream::iter(
            parts
                .iter()
                .map(|part| Ok(Bytes::from_static(part)))
                .collect::<Vec<_>>(),
        )
    }

    async fn drain<S: Stream<Item = Result<Bytes, String>> + Unpin>(
        mut body: S,
    ) -> Result<(), String> {
        while let Some(item) = body.next().await {
            item?;
        }
        Ok(())
    }

    fn crc32_claim(value: &str) -> Claims {
        Claims {
            headers: Checksum {
                checksum_crc32: Some(value.to_owned()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_matching_checksum_lets_the_body_end() {
        // CRC32 of "hello world" is 0x0d4a1185.
        let claims = crc32_claim("DUoRhQ==");
        let (summed, verdict) = checked(body(&[b"hello ", b"world"]), claims);
        assert_eq!(drain(summed).await, Ok(()));
        assert!(verdict.failure().is_none());
    }

    #[tokio::test]
    async fn a_differing_checksum_ends_the_body_in_bad_digest() {
        let (summed, verdict) = checked(body(&[b"hello world"]), crc32_claim("AAAAAA=="));
        assert!(drain(summed).await.is_err());
        assert_eq!(*verdict.failure().unwrap().code(), S3ErrorCode::BadDigest);
    }

    #[tokio::test]
    async fn content_md5_is_checked_too() {
        let claims = Claims {
            content_md5: Some("XrY7u+Ae7tCTyyK7j1rNww==".into()),
            ..Default::default()
        };
        let (summed, _) = checked(body(&[b"hello world"]), claims);
        assert_eq!(drain(summed).await, Ok(()));
        let claims = Claims {
            content_md5: Some("AAAAAAAAAAAAAAAAAAAAAA==".into()),
            ..Default::default()
        };
        let (summed, verdict) = checked(body(&[b"hello world"]), claims);
        assert!(drain(summed).await.is_err());
        assert!(verdict.failure().is_some());
    }

    #[test]
    fn unknown_trailers_are_refused() {
        let mut raw = HeaderMap::new();
        raw.insert("x-amz-trailer", "x-amz-checksum-xxh3".parse().unwrap());
        let refused = Claims::of(&PutObjectInput::default(), &raw, None);
        assert!(refused.is_err());
    }
}
