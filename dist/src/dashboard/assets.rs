//! The dashboard's files, embedded in the binary at build time: `/` is
//! `index.html`, `/ui/NAME` any other file of `assets/`. Each is answered
//! with a validator, so a browser revalidates with one small request.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;

use crate::error::ApiError;

#[derive(Embed)]
#[folder = "src/dashboard/assets/"]
struct Assets;

pub async fn index(headers: HeaderMap) -> Result<Response, ApiError> {
    serve("index.html", &headers)
}

pub async fn file(Path(name): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    serve(&name, &headers)
}

fn serve(name: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let asset = Assets::get(name)
        .ok_or_else(|| ApiError::NotFound(format!("no dashboard file {name:?}")))?;
    let etag = format!("\"{}\"", hex::encode(asset.metadata.sha256_hash()));
    let etag = HeaderValue::from_str(&etag).map_err(anyhow::Error::from)?;
    let content_type = mime_guess::from_path(name).first_or_octet_stream();
    let content_type = match content_type.type_() == mime_guess::mime::TEXT
        || ["javascript", "json", "svg"].contains(&content_type.subtype().as_str())
    {
        true => format!("{content_type}; charset=utf-8"),
        false => content_type.to_string(),
    };
    // The dashboard changes with the binary: always ask, cheaply.
    let cache = HeaderValue::from_static("no-cache");
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tags| tags.as_bytes() == etag.as_bytes());
    if unchanged {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache)],
        )
            .into_response());
    }
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_str(&content_type).map_err(anyhow::Error::from)?,
            ),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache),
        ],
        asset.data,
    )
        .into_response())
}
