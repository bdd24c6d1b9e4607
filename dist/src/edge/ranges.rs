//! Byte ranges (RFC 9110 §14): which bytes a `Range` header asks for.
//!
//! Each part of an answer is one read from a node, so a range set is
//! bounded before it costs anything: ranges that overlap or lie closer than
//! [`COALESCE_GAP`] are merged (in ascending order, as §14.3 allows, so
//! `bytes=0-,0-,0-` reads the bytes once), and a set that still has more
//! than [`MAX_PARTS`] parts is ignored and the whole content served, as
//! §14.2 allows, which costs one read like a plain `GET`.

use axum::http::{HeaderMap, header};
use http_range_header::{EndPosition, StartPosition};

use super::{Validators, header_str};

/// Inclusive byte positions.
pub type ByteRange = (u64, u64);

/// The most parts one answer is made of, each one read from a node.
pub const MAX_PARTS: usize = 16;

/// Ranges closer than this are sent as one part: fewer bytes than another
/// part's headers and node read would cost.
pub const COALESCE_GAP: u64 = 1024;

/// What part of the content to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Portion {
    Whole,
    Range(ByteRange),
    /// Two to [`MAX_PARTS`] ranges, ascending, apart from each other by
    /// more than [`COALESCE_GAP`]: a `multipart/byteranges` answer.
    Ranges(Vec<ByteRange>),
    Unsatisfiable,
}

/// Reads `Range` for content of `size` bytes.
pub fn requested_portion(headers: &HeaderMap, size: u64, validators: &Validators) -> Portion {
    let Some(range) = header_str(headers, header::RANGE) else {
        return Portion::Whole;
    };
    if !validators.range_still_applies(headers) {
        return Portion::Whole;
    }
    let Ok(parsed) = http_range_header::parse_range_header(range) else {
        return Portion::Unsatisfiable;
    };
    let mut satisfiable = Vec::with_capacity(parsed.ranges.len());
    for spec in &parsed.ranges {
        match resolve(spec.start, spec.end, size) {
            Resolved::Bytes(range) => satisfiable.push(range),
            Resolved::OutOfBounds => {}
            // A range that ends before it starts makes the header invalid.
            Resolved::Invalid => return Portion::Unsatisfiable,
        }
    }
    let parts = coalesce(satisfiable);
    match parts.as_slice() {
        [] => Portion::Unsatisfiable,
        [single] => Portion::Range(*single),
        _ if parts.len() > MAX_PARTS => Portion::Whole,
        _ => Portion::Ranges(parts),
    }
}

enum Resolved {
    Bytes(ByteRange),
    /// Valid, but not within the content: skipped (§14.1.1).
    OutOfBounds,
    Invalid,
}

/// One range-spec as inclusive positions in content of `size` bytes.
fn resolve(start: StartPosition, end: EndPosition, size: u64) -> Resolved {
    let last_byte = size.checked_sub(1);
    match (start, end) {
        // A suffix longer than the content asks for all of it.
        (StartPosition::FromLast(length), _) => match last_byte {
            Some(last) if length > 0 => Resolved::Bytes((size.saturating_sub(length), last)),
            _ => Resolved::OutOfBounds,
        },
        (StartPosition::Index(first), EndPosition::Index(last)) if last < first => {
            Resolved::Invalid
        }
        (StartPosition::Index(first), end) => match last_byte {
            Some(last_byte) if first <= last_byte => {
                let last = match end {
                    EndPosition::Index(last) => last.min(last_byte),
                    EndPosition::LastByte => last_byte,
                };
                Resolved::Bytes((first, last))
            }
            _ => Resolved::OutOfBounds,
        },
    }
}

/// Sorts `ranges` and merges those that overlap or lie closer than
/// [`COALESCE_GAP`].
fn coalesce(mut ranges: Vec<ByteRange>) -> Vec<ByteRange> {
    ranges.sort_unstable();
    let mut merged: Vec<ByteRange> = Vec::with_capacity(ranges.len());
    for (first, last) in ranges {
        match merged.last_mut() {
            Some((_, end)) if first <= end.saturating_add(COALESCE_GAP) => {
                *end = (*end).max(last);
            }
            _ => merged.push((first, last)),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use cdn_common::Sha256;
    use chrono::DateTime;

    fn validators() -> Validators {
        Validators::new(
            &Sha256::of(b"abc"),
            DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        )
    }

    fn portion_of(size: u64, range: &str) -> Portion {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(range).unwrap());
        requested_portion(&headers, size, &validators())
    }

    #[test]
    fn reads_single_ranges() {
        let portion = |range| portion_of(100, range);
        assert_eq!(portion("bytes=0-9"), Portion::Range((0, 9)));
        assert_eq!(portion("bytes=90-"), Portion::Range((90, 99)));
        assert_eq!(portion("bytes=-10"), Portion::Range((90, 99)));
        assert_eq!(portion("bytes=50-500"), Portion::Range((50, 99)));
        // A suffix longer than the content is all of it (§14.1.2).
        assert_eq!(portion("bytes=-500"), Portion::Range((0, 99)));
        assert_eq!(portion("bytes=100-"), Portion::Unsatisfiable);
        assert_eq!(portion("bytes=-0"), Portion::Unsatisfiable);
        assert_eq!(portion("bytes=9-3"), Portion::Unsatisfiable);
        assert_eq!(portion("lines=1-2"), Portion::Unsatisfiable);
        assert_eq!(
            requested_portion(&HeaderMap::new(), 100, &validators()),
            Portion::Whole
        );
        assert_eq!(portion_of(0, "bytes=0-0"), Portion::Unsatisfiable);
    }

    #[test]
    fn several_ranges_are_sorted_and_kept_apart_when_far_enough() {
        assert_eq!(
            portion_of(10_000, "bytes=5000-5009,0-9,-10"),
            Portion::Ranges(vec![(0, 9), (5000, 5009), (9990, 9999)])
        );
        // Those out of bounds are skipped; the rest is served.
        assert_eq!(
            portion_of(10_000, "bytes=0-9,20000-,5000-5009"),
            Portion::Ranges(vec![(0, 9), (5000, 5009)])
        );
        assert_eq!(
            portion_of(10_000, "bytes=20000-,30000-"),
            Portion::Unsatisfiable
        );
        assert_eq!(portion_of(10_000, "bytes=0-9,8-3"), Portion::Unsatisfiable);
    }

    #[test]
    fn overlapping_and_close_ranges_are_read_once() {
        assert_eq!(
            portion_of(1_000_000, "bytes=0-,0-,0-,500-"),
            Portion::Range((0, 999_999))
        );
        assert_eq!(
            portion_of(1_000_000, "bytes=0-99,50-199,1000-1099"),
            Portion::Range((0, 1099))
        );
        let gap = COALESCE_GAP;
        let apart = format!("bytes=0-9,{}-{}", 10 + gap + 1, 20 + gap);
        assert_eq!(
            portion_of(1_000_000, &apart),
            Portion::Ranges(vec![(0, 9), (10 + gap + 1, 20 + gap)])
        );
    }

    #[test]
    fn too_many_parts_are_answered_with_the_whole() {
        let step = COALESCE_GAP * 2;
        let ranges = |count: u64| {
            let specs: Vec<String> = (0..count)
                .map(|i| format!("{}-{}", i * step, i * step))
                .collect();
            format!("bytes={}", specs.join(","))
        };
        let size = step * 100;
        let Portion::Ranges(parts) = portion_of(size, &ranges(MAX_PARTS as u64)) else {
            panic!("{MAX_PARTS} parts are served");
        };
        assert_eq!(parts.len(), MAX_PARTS);
        assert_eq!(
            portion_of(size, &ranges(MAX_PARTS as u64 + 1)),
            Portion::Whole
        );
        // A thousand tiny overlapping ranges are one part.
        let same: Vec<&str> = vec!["0-0"; 1000];
        assert_eq!(
            portion_of(size, &format!("bytes={}", same.join(","))),
            Portion::Range((0, 0))
        );
    }

    #[test]
    fn if_range_that_no_longer_matches_asks_for_the_whole() {
        let v = validators();
        let range = |if_range: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::RANGE, HeaderValue::from_static("bytes=0-9"));
            headers.insert(header::IF_RANGE, HeaderValue::from_str(if_range).unwrap());
            requested_portion(&headers, 100, &v)
        };
        assert_eq!(range(&v.etag), Portion::Range((0, 9)));
        assert_eq!(range("\"old\""), Portion::Whole);
        // A weak tag never allows a range (§13.1.5).
        assert_eq!(range(&format!("W/{}", v.etag)), Portion::Whole);
        assert_eq!(range(&v.last_modified_header()), Portion::Range((0, 9)));
    }
}
