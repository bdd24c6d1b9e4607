//! The node's one error type and how each maps to a status.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cdn_common::ids::InvalidBlobKey;
use cdn_common::wire::ErrorBody;

use crate::store::WriteError;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    BadKey(#[from] InvalidBlobKey),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed here")]
    MethodNotAllowed,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Full(String),
    #[error("this route needs the node secret as a bearer token")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("storage failed: {0}")]
    Io(#[from] std::io::Error),
}

impl From<WriteError> for NodeError {
    fn from(err: WriteError) -> Self {
        match err {
            WriteError::Full(full) => NodeError::Full(full.to_string()),
            WriteError::Body(_) => NodeError::BadRequest(err.to_string()),
            WriteError::Io(io) => NodeError::Io(io),
        }
    }
}

impl NodeError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            NodeError::BadKey(_) | NodeError::BadRequest(_) => {
                (StatusCode::BAD_REQUEST, "bad_request")
            }
            NodeError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            NodeError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            NodeError::Full(_) => (StatusCode::INSUFFICIENT_STORAGE, "insufficient_storage"),
            NodeError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            NodeError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            NodeError::Io(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for NodeError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::warn!(error = %self, "request failed");
        } else {
            tracing::info!(error = %self, "request refused");
        }
        let mut response = (status, Json(ErrorBody::new(code, self.to_string()))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
