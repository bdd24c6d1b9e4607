//! The service layer's errors as S3 errors: the code an S3 client acts on,
//! and no internals in the message.

use s3s::{S3Error, S3ErrorCode, s3_error};

use crate::error::ApiError;

/// An error of the service layer, with `missing` as the code of a
/// not-found (`NoSuchKey`, `NoSuchBucket`).
pub fn to_s3(err: ApiError, missing: S3ErrorCode) -> S3Error {
    match err {
        ApiError::BadRequest(message) => {
            S3Error::with_message(S3ErrorCode::InvalidArgument, message)
        }
        ApiError::NotFound(message) => S3Error::with_message(missing, message),
        ApiError::Unauthorized(_) | ApiError::Forbidden(_) => s3_error!(AccessDenied),
        ApiError::TooLarge(message) => S3Error::with_message(S3ErrorCode::EntityTooLarge, message),
        ApiError::RequestTimeout(message) => {
            S3Error::with_message(S3ErrorCode::RequestTimeout, message)
        }
        ApiError::RangeNotSatisfiable { .. } => s3_error!(InvalidRange),
        ApiError::TooManyRequests { message, .. } | ApiError::Busy { message, .. } => {
            S3Error::with_message(S3ErrorCode::SlowDown, message)
        }
        ApiError::Unavailable(message) => {
            S3Error::with_message(S3ErrorCode::ServiceUnavailable, message)
        }
        ApiError::InsufficientStorage(message) => {
            S3Error::with_message(S3ErrorCode::ServiceUnavailable, message)
        }
        other => internal(other),
    }
}

/// A failure that is not the client's: logged here, told as InternalError.
pub fn internal(err: ApiError) -> S3Error {
    tracing::warn!(error = %err, "an S3 request failed");
    s3_error!(InternalError)
}
