//! The one error type of the client library, and how an error response from
//! the distributor becomes one.

use std::path::PathBuf;

use cdn_common::Sha256;
use cdn_common::wire::ErrorBody;
use reqwest::StatusCode;
use uuid::Uuid;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a [`Client`](crate::Client) call can fail with.
///
/// Messages leave their cause to [`std::error::Error::source`], so print the
/// whole chain (`anyhow`'s `{:#}`) to see, for example, why a connection
/// failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The distributor answered with an error status. `code` and `message`
    /// come from its JSON error body, or are made up from the status when the
    /// body was not one (a proxy's HTML page, say).
    #[error("{code}: {message}")]
    Api {
        status: StatusCode,
        code: String,
        message: String,
    },

    /// The request could not be sent, or its answer could not be read.
    #[error(transparent)]
    Transport(#[from] reqwest::Error),

    /// A local file could not be read or written.
    #[error("{action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A success answer whose body was not the JSON this client expects.
    #[error("unexpected answer from {url}")]
    Decode {
        url: String,
        #[source]
        source: serde_json::Error,
    },

    /// The downloaded bytes do not hash to what the server said they would.
    #[error("checksum mismatch for {id}: expected sha256 {expected}, got {actual}")]
    ChecksumMismatch {
        id: Uuid,
        expected: Sha256,
        actual: Sha256,
    },

    /// The download ended with a different number of bytes than announced.
    #[error("size mismatch for {id}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        id: Uuid,
        expected: u64,
        actual: u64,
    },

    /// The distributor's base URL is not one requests can be made to.
    #[error("invalid distributor URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },

    /// A file name that cannot safely become a local file name.
    #[error("unsafe file name {0:?}: it must be a plain name, not empty, `.` or `..`")]
    UnsafeFileName(String),

    /// The body stopped before its end: the server gave up on the transfer
    /// (a copy it could not finish reading, or one that failed its checksum).
    #[error("the download of {id} broke off after {received} bytes; try again")]
    BrokenOff {
        id: Uuid,
        received: u64,
        #[source]
        source: Box<Error>,
    },

    /// The server broke the API contract in a way not covered above.
    #[error("the server broke the protocol: {0}")]
    Protocol(String),
}

impl Error {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::Transport(error) => error.status(),
            _ => None,
        }
    }

    /// The machine-readable code of an API error, such as `not_found`.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// True when the distributor said the object does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Builds the error for a response with status `status` and body `body`.
    ///
    /// The distributor always sends an [`ErrorBody`], but whatever stands in
    /// front of it may not, so a body that is not one still yields a code
    /// (from the status) and, when it is short plain text, its first line.
    pub fn from_response_body(status: StatusCode, body: &[u8]) -> Self {
        if let Some(detail) = ErrorBody::decode(body) {
            return Error::Api {
                status,
                code: detail.code,
                message: detail.message,
            };
        }
        Error::Api {
            status,
            code: code_for_status(status),
            message: readable_text(body).unwrap_or_else(|| format!("the server answered {status}")),
        }
    }
}

/// `404 Not Found` becomes `not_found`, like the distributor's own codes.
fn code_for_status(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => reason
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect(),
        None => format!("http_{}", status.as_u16()),
    }
}

/// The first line of a plain-text body, if there is something worth showing.
fn readable_text(body: &[u8]) -> Option<String> {
    const MAX_CHARS: usize = 200;
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    // An HTML error page says nothing useful in one line.
    if text.is_empty() || text.starts_with('<') {
        return None;
    }
    let first_line = text.lines().next().unwrap_or_default().trim();
    let mut shown: String = first_line.chars().take(MAX_CHARS).collect();
    if shown.len() < first_line.len() {
        shown.push('…');
    }
    Some(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_parts(error: Error) -> (StatusCode, String, String) {
        match error {
            Error::Api {
                status,
                code,
                message,
            } => (status, code, message),
            other => panic!("expected an API error, got {other:?}"),
        }
    }

    #[test]
    fn json_error_body_keeps_code_and_message() {
        let body = br#"{"error": {"code": "not_found", "message": "no content with id 42"}}"#;
        let error = Error::from_response_body(StatusCode::NOT_FOUND, body);
        assert!(error.is_not_found());
        assert_eq!(error.code(), Some("not_found"));
        assert_eq!(error.to_string(), "not_found: no content with id 42");
    }

    #[test]
    fn plain_text_body_gives_its_first_line_and_a_code_from_the_status() {
        let body = b"Failed to deserialize query string\nmore details\n";
        let (status, code, message) =
            api_parts(Error::from_response_body(StatusCode::BAD_REQUEST, body));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(code, "bad_request");
        assert_eq!(message, "Failed to deserialize query string");
    }

    #[test]
    fn html_or_empty_body_falls_back_to_the_status() {
        let html = b"<html><body><h1>502 Bad Gateway</h1></body></html>";
        let (_, code, message) =
            api_parts(Error::from_response_body(StatusCode::BAD_GATEWAY, html));
        assert_eq!(code, "bad_gateway");
        assert_eq!(message, "the server answered 502 Bad Gateway");

        let (_, code, _) = api_parts(Error::from_response_body(
            StatusCode::PAYLOAD_TOO_LARGE,
            b"",
        ));
        assert_eq!(code, "payload_too_large");
    }

    #[test]
    fn unknown_status_and_long_or_broken_text_are_handled() {
        let status = StatusCode::from_u16(599).unwrap();
        let long = "é".repeat(500);
        let (_, code, message) = api_parts(Error::from_response_body(status, long.as_bytes()));
        assert_eq!(code, "http_599");
        assert_eq!(message.chars().count(), 201);
        assert!(message.ends_with('…'));

        let (_, _, message) = api_parts(Error::from_response_body(status, b"bad \xff bytes"));
        assert_eq!(message, "bad \u{fffd} bytes");
    }

    #[test]
    fn json_that_is_not_an_error_body_is_shown_as_text() {
        let (_, code, message) = api_parts(Error::from_response_body(
            StatusCode::CONFLICT,
            br#"{"oops": 1}"#,
        ));
        assert_eq!(code, "conflict");
        assert_eq!(message, r#"{"oops": 1}"#);
    }
}
