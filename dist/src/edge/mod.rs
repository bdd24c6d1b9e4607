//! HTTP semantics of serving content's bytes, as pure functions of
//! headers and metadata: here validators, conditional requests (RFC 9110
//! §13) and `Content-Disposition` (RFC 6266); `ranges` (which bytes a
//! `Range` asks for, bounded) and `multipart` (several at once);
//! `caching` (`Cache-Control` by version and audience); `encoding`
//! (negotiated compression and its `ETag`). `cors`: which origins may read
//! and write; `admission`: the storage uploads in flight may claim.

pub mod admission;
pub mod caching;
pub mod cors;
pub mod encoding;
pub mod multipart;
pub mod ranges;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, header};
use cdn_common::Sha256;
use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The validators of one version of some content.
#[derive(Clone, Debug)]
pub struct Validators {
    /// Strong entity tag, quoted: the SHA-256 of the bytes.
    pub etag: String,
    /// Whole seconds, as HTTP dates carry no more.
    pub last_modified: SystemTime,
}

impl Validators {
    pub fn new(sha256: &Sha256, updated_at: DateTime<Utc>) -> Self {
        let seconds = updated_at.timestamp().max(0) as u64;
        Validators {
            etag: format!("\"{sha256}\""),
            last_modified: UNIX_EPOCH + Duration::from_secs(seconds),
        }
    }

    pub fn last_modified_header(&self) -> String {
        httpdate::fmt_http_date(self.last_modified)
    }

    /// Whether a `GET`/`HEAD` should be answered `304 Not Modified`.
    /// `If-None-Match` wins over `If-Modified-Since` when both are sent.
    pub fn not_modified(&self, headers: &HeaderMap) -> bool {
        if let Some(tags) = header_str(headers, header::IF_NONE_MATCH) {
            return tags
                .split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == self.etag);
        }
        header_str(headers, header::IF_MODIFIED_SINCE)
            .and_then(|date| httpdate::parse_http_date(date).ok())
            .is_some_and(|since| self.last_modified <= since)
    }

    /// Whether `If-Range`, when sent, still names this version, so a range
    /// of it may be served.
    fn range_still_applies(&self, headers: &HeaderMap) -> bool {
        match header_str(headers, header::IF_RANGE) {
            None => true,
            Some(tag) if tag.starts_with('"') => tag == self.etag,
            Some(date) => {
                httpdate::parse_http_date(date).is_ok_and(|date| date == self.last_modified)
            }
        }
    }
}

/// Characters kept as they are in an RFC 5987 `filename*` value.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `inline` or `attachment` with the file name: a plain ASCII `filename`
/// for old clients and, when the name needs it, a UTF-8 `filename*`.
pub fn content_disposition(filename: &str, attachment: bool) -> String {
    let kind = if attachment { "attachment" } else { "inline" };
    let fallback: String = filename
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    if fallback == filename {
        format!("{kind}; filename=\"{filename}\"")
    } else {
        let encoded = utf8_percent_encode(filename, ATTR_CHAR);
        format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Whether a page of this very origin is loading user content as code: a
/// script, a style sheet or a worker. The dashboard never does; only a tag
/// injected into it would, and `script-src 'self'` alone would let that run.
/// Other sites may load such files as they like.
pub fn loaded_as_code_by_this_origin(headers: &HeaderMap) -> bool {
    let value = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    value("sec-fetch-site") == Some("same-origin")
        && matches!(
            value("sec-fetch-dest"),
            Some("script" | "style" | "worker" | "sharedworker" | "serviceworker" | "xslt")
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use std::sync::LazyLock;

    static ABC: LazyLock<Sha256> = LazyLock::new(|| Sha256::of(b"abc"));

    fn validators() -> Validators {
        Validators::new(&ABC, DateTime::from_timestamp(1_700_000_000, 500).unwrap())
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn if_none_match_compares_tags_weakly() {
        let v = validators();
        let tag = format!("\"{}\"", *ABC);
        assert!(v.not_modified(&headers(&[(header::IF_NONE_MATCH, tag.as_str())])));
        let tags = format!("\"x\", W/\"{}\"", *ABC);
        assert!(v.not_modified(&headers(&[(header::IF_NONE_MATCH, tags.as_str())])));
        assert!(v.not_modified(&headers(&[(header::IF_NONE_MATCH, "*")])));
        assert!(!v.not_modified(&headers(&[(header::IF_NONE_MATCH, "\"abd\"")])));
    }

    #[test]
    fn if_modified_since_counts_whole_seconds_and_yields_to_if_none_match() {
        let v = validators();
        let same = v.last_modified_header();
        let earlier = httpdate::fmt_http_date(v.last_modified - Duration::from_secs(1));
        assert!(v.not_modified(&headers(&[(header::IF_MODIFIED_SINCE, &same)])));
        assert!(!v.not_modified(&headers(&[(header::IF_MODIFIED_SINCE, &earlier)])));
        assert!(!v.not_modified(&headers(&[
            (header::IF_NONE_MATCH, "\"other\""),
            (header::IF_MODIFIED_SINCE, &same),
        ])));
        assert!(!v.not_modified(&headers(&[(header::IF_MODIFIED_SINCE, "yesterday")])));
    }

    #[test]
    fn dispositions_carry_any_file_name_safely() {
        assert_eq!(
            content_disposition("a b.txt", false),
            "inline; filename=\"a b.txt\""
        );
        assert_eq!(
            content_disposition("café \"menu\".txt", true),
            "attachment; filename=\"caf_ _menu_.txt\"; filename*=UTF-8''caf%C3%A9%20%22menu%22.txt"
        );
    }
}
