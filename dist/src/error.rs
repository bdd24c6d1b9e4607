//! The distributor's one error type: each kind maps to one status and code,
//! and internals never reach the client.

use axum::Json;
use axum::extract::multipart::MultipartError;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cdn_common::wire::ErrorBody;

use crate::cluster::PlacementError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed here")]
    MethodNotAllowed,
    /// No credential, or one that is unknown or revoked.
    #[error("{0}")]
    Unauthorized(String),
    /// A valid credential that does not allow this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    TooLarge(String),
    /// The request body stalled (`BODY_STALL_TIMEOUT`).
    #[error("{0}")]
    RequestTimeout(String),
    /// This client holds too much already (upload claims); others may go on.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    /// The service as a whole is at a limit; retry after a while.
    #[error("{message}")]
    Busy { message: String, retry_after: u64 },
    #[error("the range is not within the {size} bytes of the content")]
    RangeNotSatisfiable { size: u64 },
    /// Nothing can serve the request right now (nodes down, database away).
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    InsufficientStorage(String),
    /// A node answered in a way it never should.
    #[error("{0}")]
    BadGateway(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        use ApiError::*;
        match self {
            BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            RequestTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            Busy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            RangeNotSatisfiable { .. } => {
                (StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable")
            }
            Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            InsufficientStorage(_) => (StatusCode::INSUFFICIENT_STORAGE, "insufficient_storage"),
            BadGateway(_) => (StatusCode::BAD_GATEWAY, "bad_gateway"),
            Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    pub fn not_found(id: impl std::fmt::Display) -> Self {
        ApiError::NotFound(format!("no content with id {id}"))
    }

    /// What the client is told; an internal error's details stay in the
    /// log.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Internal(_) => {
                "internal error; the distributor's log has the details".to_owned()
            }
            other => other.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::warn!(
                error = format!("{self:#}"),
                status = status.as_u16(),
                "request failed"
            );
        } else {
            tracing::info!(error = %self, status = status.as_u16(), "request refused");
        }
        let body = ErrorBody::new(code, self.public_message());
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"cdn\""),
            );
        }
        if let ApiError::TooManyRequests { retry_after, .. } | ApiError::Busy { retry_after, .. } =
            &self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        if let ApiError::RangeNotSatisfiable { size } = self
            && let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}"))
        {
            response.headers_mut().insert(header::CONTENT_RANGE, value);
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        // SQLSTATE classes 08 (connection exception) and 57 (operator
        // intervention, e.g. a server shutting down) mean "not now".
        let connection_lost = match &err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Protocol(_) => true,
            sqlx::Error::Database(db) => db
                .code()
                .is_some_and(|code| code.starts_with("08") || code.starts_with("57")),
            _ => false,
        };
        if connection_lost {
            tracing::warn!(error = %err, "database unavailable");
            ApiError::Unavailable("the metadata database is unavailable; try again shortly".into())
        } else {
            ApiError::Internal(anyhow::Error::new(err).context("database query"))
        }
    }
}

impl From<PlacementError> for ApiError {
    fn from(err: PlacementError) -> Self {
        match err {
            PlacementError::NotEnoughNodesUp { .. } => ApiError::Unavailable(err.to_string()),
            PlacementError::TooLarge { .. } => ApiError::TooLarge(err.to_string()),
            PlacementError::NoRoom { .. } => ApiError::InsufficientStorage(err.to_string()),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        // Past MAX_JSON_BYTES: refused before more than that is read.
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::TooLarge(rejection.body_text());
        }
        ApiError::BadRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

impl From<MultipartError> for ApiError {
    fn from(err: MultipartError) -> Self {
        ApiError::BadRequest(format!("bad multipart body: {}", err.body_text()))
    }
}
