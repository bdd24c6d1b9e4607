//! SHA-256 digests and hashing bytes as they stream past.
//!
//! Every byte that is stored, copied or served is hashed on its way through,
//! never read twice: [`Hasher`] counts and hashes what it is given, and
//! [`HashingStream`] does it for a stream of chunks.

use std::fmt;
use std::pin::Pin;
use std::str::FromStr;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest;

/// A SHA-256 digest: 32 bytes, lowercase hex on the wire and in the
/// database.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256([u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a SHA-256 digest (64 hex digits)")]
pub struct InvalidSha256(String);

impl Sha256 {
    pub fn parse(text: &str) -> Result<Self, InvalidSha256> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes)
            .map_err(|_| InvalidSha256(text.chars().take(80).collect()))?;
        Ok(Sha256(bytes))
    }

    /// The digest of `bytes`, all at once.
    pub fn of(bytes: &[u8]) -> Self {
        let mut hasher = Hasher::default();
        hasher.update(bytes);
        hasher.finish().sha256
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({})", self.to_hex())
    }
}

impl FromStr for Sha256 {
    type Err = InvalidSha256;

    fn from_str(text: &str) -> Result<Self, InvalidSha256> {
        Sha256::parse(text)
    }
}

impl Serialize for Sha256 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Sha256 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Sha256::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "sqlx")]
mod sql {
    use super::Sha256;
    use sqlx::Postgres;
    use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};

    /// Stored as the hex text, so the column reads well in `psql`.
    impl sqlx::Type<Postgres> for Sha256 {
        fn type_info() -> PgTypeInfo {
            <String as sqlx::Type<Postgres>>::type_info()
        }

        fn compatible(ty: &PgTypeInfo) -> bool {
            <String as sqlx::Type<Postgres>>::compatible(ty)
        }
    }

    impl<'q> sqlx::Encode<'q, Postgres> for Sha256 {
        fn encode_by_ref(
            &self,
            buf: &mut PgArgumentBuffer,
        ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
            <String as sqlx::Encode<Postgres>>::encode(self.to_hex(), buf)
        }
    }

    impl<'r> sqlx::Decode<'r, Postgres> for Sha256 {
        fn decode(value: PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
            let text = <&str as sqlx::Decode<Postgres>>::decode(value)?;
            Ok(Sha256::parse(text)?)
        }
    }
}

/// How many bytes went past and their SHA-256.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    pub size: u64,
    pub sha256: Sha256,
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes with SHA-256 {}", self.size, self.sha256)
    }
}

/// Counts and hashes the bytes it is given.
#[derive(Clone, Default)]
pub struct Hasher {
    state: sha2::Sha256,
    size: u64,
}

impl Hasher {
    pub fn update(&mut self, bytes: &[u8]) {
        self.state.update(bytes);
        self.size += bytes.len() as u64;
    }

    /// Bytes hashed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn finish(self) -> Fingerprint {
        Fingerprint {
            size: self.size,
            sha256: Sha256(self.state.finalize().into()),
        }
    }
}

/// A stream of chunks that hashes each chunk as it passes. Once the stream
/// has ended, [`HashingStream::fingerprint`] says what went through.
pub struct HashingStream<S> {
    inner: S,
    hasher: Hasher,
    ended: bool,
}

impl<S> HashingStream<S> {
    pub fn new(inner: S) -> Self {
        HashingStream {
            inner,
            hasher: Hasher::default(),
            ended: false,
        }
    }

    /// Bytes passed so far.
    pub fn size(&self) -> u64 {
        self.hasher.size()
    }

    /// What went through, once the stream has ended; `None` before.
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        self.ended.then(|| self.hasher.clone().finish())
    }
}

impl<S, E> Stream for HashingStream<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(chunk))) => this.hasher.update(chunk),
            Poll::Ready(None) => this.ended = true,
            _ => {}
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO_WORLD: &str = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";

    #[test]
    fn digests_read_and_print_as_hex() {
        let digest = Sha256::parse(HELLO_WORLD).unwrap();
        assert_eq!(digest.to_string(), HELLO_WORLD);
        assert_eq!(Sha256::of(b"hello world"), digest);
        assert_eq!(Sha256::parse(&HELLO_WORLD.to_uppercase()).unwrap(), digest);
        for bad in ["", "abc", &"z".repeat(64), &"a".repeat(66)] {
            assert!(Sha256::parse(bad).is_err(), "{bad:?}");
        }
        let json = serde_json::to_string(&digest).unwrap();
        assert_eq!(json, format!("\"{HELLO_WORLD}\""));
    }

    #[tokio::test]
    async fn a_hashing_stream_fingerprints_what_passed() {
        use futures::StreamExt;
        let chunks = ["hello", " ", "world"].map(|part| Ok::<_, std::io::Error>(Bytes::from(part)));
        let mut stream = HashingStream::new(futures::stream::iter(chunks));
        assert!(stream.fingerprint().is_none());
        let mut seen = Vec::new();
        while let Some(chunk) = stream.next().await {
            seen.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(seen, b"hello world");
        let fingerprint = stream.fingerprint().unwrap();
        assert_eq!(fingerprint.size, 11);
        assert_eq!(fingerprint.sha256.to_hex(), HELLO_WORLD);
    }
}
