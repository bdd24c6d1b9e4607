//! Calls from the distributor to the storage nodes' internal API.

use std::time::Duration;

use cdn_common::BlobKey;
use cdn_common::node_auth::NodeSecret;
use cdn_common::observe::forward_headers;
use cdn_common::wire::{ErrorBody, Inventory, NodeStats, StoredBlob};
use reqwest::{StatusCode, Url, header};

/// One HTTP client (and its connection pool) for every node.
#[derive(Clone)]
pub struct NodeClient {
    http: reqwest::Client,
    /// Sent on every call; also signs the read URLs handed to clients.
    secret: NodeSecret,
}

#[derive(Debug, thiserror::Error)]
pub enum NodeCallError {
    #[error("node unreachable: {0}")]
    Unreachable(#[from] reqwest::Error),
    #[error("node is out of room: {0}")]
    Full(String),
    #[error("node answered {status}: {message}")]
    Refused { status: StatusCode, message: String },
}

impl NodeClient {
    /// Every call carries `secret` as its bearer: nodes answer nothing
    /// else.
    pub fn new(secret: NodeSecret) -> Result<Self, reqwest::Error> {
        let mut bearer = header::HeaderValue::from_str(&secret.bearer())
            .expect("a node secret is visible ASCII");
        bearer.set_sensitive(true);
        let http = reqwest::Client::builder()
            .default_headers(header::HeaderMap::from_iter([(
                header::AUTHORIZATION,
                bearer,
            )]))
            .connect_timeout(Duration::from_secs(2))
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()?;
        Ok(NodeClient { http, secret })
    }

    /// A URL that lets whoever holds it read the blob `key` from the node
    /// at `public_url` for a minute, served with this type and
    /// disposition (see `signed_url`).
    pub fn signed_read_url(
        &self,
        public_url: &str,
        key: &BlobKey,
        content_type: &str,
        disposition: &str,
    ) -> Option<String> {
        super::signed_url::signed_read_url(&self.secret, public_url, key, content_type, disposition)
    }

    pub async fn stats(&self, node: &Url, timeout: Duration) -> Result<NodeStats, NodeCallError> {
        let response = self
            .http
            .get(endpoint(node, "stats"))
            .timeout(timeout)
            .send()
            .await?;
        Ok(check(response).await?.json().await?)
    }

    /// Every blob the node holds, with what its last scrub found.
    pub async fn inventory(&self, node: &Url) -> Result<Inventory, NodeCallError> {
        let response = self
            .http
            .get(endpoint(node, "blobs"))
            .timeout(Duration::from_secs(30))
            .send()
            .await?;
        Ok(check(response).await?.json().await?)
    }

    /// Streams `body` into the blob `key`. `len`, when known, is sent as
    /// `Content-Length` so a node without room refuses before any byte.
    pub async fn put_blob(
        &self,
        node: &Url,
        key: &BlobKey,
        body: reqwest::Body,
        len: Option<u64>,
    ) -> Result<StoredBlob, NodeCallError> {
        let mut request = self
            .http
            .put(blob_url(node, key))
            .headers(forward_headers())
            .body(body);
        if let Some(len) = len {
            request = request.header(header::CONTENT_LENGTH, len);
        }
        Ok(check(request.send().await?).await?.json().await?)
    }

    /// Starts reading the blob, all of it or the inclusive byte `range`.
    pub async fn get_blob(
        &self,
        node: &Url,
        key: &BlobKey,
        range: Option<(u64, u64)>,
    ) -> Result<reqwest::Response, NodeCallError> {
        let mut request = self
            .http
            .get(blob_url(node, key))
            .headers(forward_headers());
        if let Some((first, last)) = range {
            request = request.header(header::RANGE, format!("bytes={first}-{last}"));
        }
        check(request.send().await?).await
    }

    /// Removes the blob; one that is already gone counts as removed.
    pub async fn delete_blob(&self, node: &Url, key: &BlobKey) -> Result<(), NodeCallError> {
        let response = self
            .http
            .delete(blob_url(node, key))
            .headers(forward_headers())
            .timeout(Duration::from_secs(10))
            .send()
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(());
        }
        check(response).await.map(drop)
    }
}

pub fn blob_url(node: &Url, key: &BlobKey) -> Url {
    endpoint(node, &format!("blobs/{key}"))
}

fn endpoint(node: &Url, path: &str) -> Url {
    node.join(path)
        .expect("node URLs are directories and paths are plain")
}

/// Turns a node's error answer into an error that keeps its message.
async fn check(response: reqwest::Response) -> Result<reqwest::Response, NodeCallError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let text = response.text().await.unwrap_or_default();
    let message = ErrorBody::decode(text.as_bytes()).map_or(text, |detail| detail.message);
    if status == StatusCode::INSUFFICIENT_STORAGE {
        Err(NodeCallError::Full(message))
    } else {
        Err(NodeCallError::Refused { status, message })
    }
}
