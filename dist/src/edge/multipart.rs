//! The `multipart/byteranges` answer to several ranges (RFC 9110 §14.6):
//! its framing, its exact length (known before the first byte, so it is
//! sent with `Content-Length`), and its body, each part streamed in turn.

use std::io;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt, stream};

use super::ranges::ByteRange;

/// How several ranges of one content are framed.
#[derive(Clone, Debug)]
pub struct Multipart {
    boundary: String,
    /// The content's own type, repeated in each part.
    part_type: String,
    /// The content's size, for each part's `Content-Range`.
    size: u64,
    parts: Vec<ByteRange>,
}

impl Multipart {
    /// `boundary` must not occur in the content: see [`random_boundary`].
    pub fn new(boundary: String, part_type: &str, size: u64, parts: Vec<ByteRange>) -> Self {
        Multipart {
            boundary,
            part_type: part_type.to_owned(),
            size,
            parts,
        }
    }

    /// The answer's `Content-Type`.
    pub fn content_type(&self) -> String {
        format!("multipart/byteranges; boundary={}", self.boundary)
    }

    /// The delimiter and headers before one part's bytes.
    fn part_head(&self, (first, last): ByteRange) -> String {
        format!(
            "--{}\r\nContent-Type: {}\r\nContent-Range: bytes {first}-{last}/{}\r\n\r\n",
            self.boundary, self.part_type, self.size
        )
    }

    /// What follows the last part.
    fn closing(&self) -> String {
        format!("--{}--\r\n", self.boundary)
    }

    /// The whole body's length: every part with its framing.
    pub fn content_length(&self) -> u64 {
        let parts: u64 = self
            .parts
            .iter()
            .map(|&(first, last)| {
                self.part_head((first, last)).len() as u64
                    + (last - first + 1)
                    + PART_END.len() as u64
            })
            .sum();
        parts + self.closing().len() as u64
    }

    /// The body: each part's bytes come from `open`, called for one part
    /// after the previous one is sent, so one read is open at a time.
    pub fn body<Open, Read, Part>(
        self,
        mut open: Open,
    ) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static
    where
        Open: FnMut(ByteRange) -> Read + Send + 'static,
        Read: Future<Output = io::Result<Part>> + Send + 'static,
        Part: Stream<Item = io::Result<Bytes>> + Send + 'static,
    {
        let heads: Vec<(Bytes, ByteRange)> = self
            .parts
            .iter()
            .map(|&range| (Bytes::from(self.part_head(range)), range))
            .collect();
        let closing = Bytes::from(self.closing());
        stream::iter(heads)
            .map(move |(head, range)| {
                stream::once(async { Ok(head) })
                    .chain(stream::once(open(range)).try_flatten())
                    .chain(stream::once(async { Ok(Bytes::from_static(PART_END)) }))
            })
            .flatten()
            .chain(stream::once(async { Ok(closing) }))
    }
}

/// The line end after each part's bytes.
const PART_END: &[u8] = b"\r\n";

/// A boundary no content can be made to contain on purpose: 128 random
/// bits, fresh for each answer.
pub fn random_boundary() -> String {
    let mut bytes = [0u8; 16];
    // The system's random source does not fail on the systems we run on;
    // should it, a fixed boundary still frames the parts by their lengths.
    let _ = getrandom::fill(&mut bytes);
    format!("cdn-{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assembled(multipart: Multipart, content: &'static [u8]) -> Vec<u8> {
        let body = multipart.body(move |(first, last)| async move {
            let bytes = Bytes::from_static(&content[first as usize..=last as usize]);
            // In two chunks, as a node might send them.
            let (a, b) = bytes.split_at(bytes.len() / 2);
            Ok(stream::iter([
                Ok(Bytes::copy_from_slice(a)),
                Ok(Bytes::copy_from_slice(b)),
            ]))
        });
        futures::executor::block_on(body.map_ok(|chunk| chunk.to_vec()).try_concat()).unwrap()
    }

    #[test]
    fn frames_each_part_and_knows_the_length() {
        let multipart = Multipart::new("XYZ".into(), "text/plain", 10, vec![(0, 1), (7, 9)]);
        assert_eq!(
            multipart.content_type(),
            "multipart/byteranges; boundary=XYZ"
        );
        let length = multipart.content_length();
        let body = assembled(multipart, b"0123456789");
        assert_eq!(
            String::from_utf8(body.clone()).unwrap(),
            "--XYZ\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n01\r\n\
             --XYZ\r\nContent-Type: text/plain\r\nContent-Range: bytes 7-9/10\r\n\r\n789\r\n\
             --XYZ--\r\n"
        );
        assert_eq!(body.len() as u64, length);
    }

    #[test]
    fn a_failed_read_ends_the_body_with_an_error() {
        let multipart = Multipart::new("B".into(), "text/plain", 10, vec![(0, 1), (7, 9)]);
        let body = multipart.body(|range| async move {
            if range.0 == 7 {
                return Err(io::Error::other("no copy"));
            }
            Ok(stream::iter([Ok(Bytes::from_static(b"01"))]))
        });
        let read = body.map_ok(|chunk| chunk.to_vec()).try_concat();
        assert!(futures::executor::block_on(read).is_err());
    }

    #[test]
    fn boundaries_differ_each_time() {
        assert_ne!(random_boundary(), random_boundary());
        assert_eq!(random_boundary().len(), 4 + 32);
    }
}
