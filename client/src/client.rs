//! [`Client`]: the distributor's public routes as typed async methods.
//!
//! This file holds the handle and the calls that move metadata only; the
//! calls that move an object's bytes are in [`transfer`](crate::transfer).

use std::sync::Arc;
use std::time::Duration;

use cdn_common::wire::{MAX_PAGE, Visibility};
use reqwest::{Method, RequestBuilder};
use url::Url;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::response::{json_body, success};
use crate::wire::{ClusterStats, Content, ContentList, ContentPatch, NodeList};

/// Where the distributor listens when nothing else is said.
pub const DEFAULT_URL: &str = "http://localhost:8000";

/// How long to wait for a TCP connection. There is deliberately no overall
/// timeout: a multi-gigabyte transfer may rightly take a long time.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A handle on one distributor. Cloning is cheap and shares the connection
/// pool, so clone it into tasks rather than wrapping it in an `Arc`.
#[derive(Clone, Debug)]
pub struct Client {
    /// Holds the connection pool.
    pub(crate) http: reqwest::Client,
    /// The URL the routes hang from, `http://host:port` plus any path prefix.
    base: Url,
    /// Sent as `Authorization: Bearer …` on every request, when set.
    token: Option<Arc<str>>,
}

impl Client {
    /// A client for the distributor at `base_url`, e.g. [`DEFAULT_URL`].
    pub fn new(base_url: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("cdn-client/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .build()?;
        Self::with_http_client(base_url, http)
    }

    /// Like [`Client::new`], with a `reqwest` client configured by the caller
    /// (timeouts, pool size, …).
    pub fn with_http_client(base_url: &str, http: reqwest::Client) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidUrl {
            url: base_url.to_owned(),
            reason,
        };
        let mut base = Url::parse(base_url).map_err(|error| invalid(error.to_string()))?;
        // This build of reqwest has no TLS; say so now rather than at the
        // first request.
        if base.scheme() != "http" {
            return Err(invalid("only http:// URLs are supported".to_owned()));
        }
        base.set_query(None);
        base.set_fragment(None);
        Ok(Self {
            http,
            base,
            token: None,
        })
    }

    /// This client, sending `token` as the bearer on every request. Public
    /// reads need none; writes need `write`, private reads and full
    /// listings `read`, token management `admin`.
    pub fn with_token(mut self, token: impl AsRef<str>) -> Self {
        let token = token.as_ref().trim();
        self.token = (!token.is_empty()).then(|| Arc::from(token));
        self
    }

    /// Whether requests carry a token.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// A request to `url`, carrying the token if there is one.
    pub(crate) fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let request = self.http.request(method, url);
        match &self.token {
            // reqwest marks the header sensitive, so it is never logged.
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// `GET /content/{id}`: the object's metadata.
    pub async fn info(&self, id: Uuid) -> Result<Content> {
        let response = self
            .request(Method::GET, self.content_url(id, &[]))
            .send()
            .await?;
        json_body(response).await
    }

    /// `GET /content`: one page, newest first. Pass the page's `next_cursor`
    /// back as `cursor` for the next one. `limit` is 1 to
    /// [`MAX_PAGE`](crate::wire::MAX_PAGE); without it the server sends
    /// [`DEFAULT_PAGE`](crate::wire::DEFAULT_PAGE).
    pub async fn list(&self, limit: Option<u32>, cursor: Option<&str>) -> Result<ContentList> {
        let mut request = self.request(Method::GET, self.url(&["content"]));
        if let Some(limit) = limit {
            request = request.query(&[("limit", limit)]);
        }
        if let Some(cursor) = cursor {
            request = request.query(&[("cursor", cursor)]);
        }
        json_body(request.send().await?).await
    }

    /// Every object, newest first, following cursors to the last page.
    pub async fn list_all(&self) -> Result<Vec<Content>> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.list(Some(MAX_PAGE), cursor.as_deref()).await?;
            items.extend(page.items);
            match page.next_cursor {
                None => return Ok(items),
                // Following a cursor that does not move would loop forever.
                Some(next) if cursor.as_deref() == Some(next.as_str()) => {
                    return Err(Error::Protocol(format!(
                        "the list cursor {next:?} came back unchanged"
                    )));
                }
                Some(next) => cursor = Some(next),
            }
        }
    }

    /// `PATCH /content/{id}`: changes only the fields given.
    pub async fn patch(&self, id: Uuid, patch: &ContentPatch) -> Result<Content> {
        let response = self
            .request(Method::PATCH, self.content_url(id, &[]))
            .json(patch)
            .send()
            .await?;
        json_body(response).await
    }

    /// Renames an object; its bytes and version stay as they are.
    pub async fn rename(&self, id: Uuid, filename: &str) -> Result<Content> {
        let patch = ContentPatch {
            filename: Some(filename.to_owned()),
            ..ContentPatch::default()
        };
        self.patch(id, &patch).await
    }

    /// Makes an object public or private; nothing else changes.
    pub async fn set_visibility(&self, id: Uuid, visibility: Visibility) -> Result<Content> {
        let patch = ContentPatch {
            visibility: Some(visibility),
            ..ContentPatch::default()
        };
        self.patch(id, &patch).await
    }

    /// `DELETE /content/{id}`: the metadata and every stored copy.
    pub async fn delete(&self, id: Uuid) -> Result<()> {
        let response = self
            .request(Method::DELETE, self.content_url(id, &[]))
            .send()
            .await?;
        success(response).await?;
        Ok(())
    }

    /// `GET /nodes`: the storage nodes and their last reports.
    pub async fn nodes(&self) -> Result<NodeList> {
        json_body(
            self.request(Method::GET, self.url(&["nodes"]))
                .send()
                .await?,
        )
        .await
    }

    /// `GET /stats`: per-node use and cluster totals.
    pub async fn stats(&self) -> Result<ClusterStats> {
        json_body(
            self.request(Method::GET, self.url(&["stats"]))
                .send()
                .await?,
        )
        .await
    }

    /// The base URL with `segments` appended, each percent-encoded.
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        // An http URL always has a path to extend, so this never skips.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// `…/content/{id}` followed by `rest`.
    pub(crate) fn content_url(&self, id: Uuid, rest: &[&str]) -> Url {
        let id = id.to_string();
        let mut segments = vec!["content", id.as_str()];
        segments.extend_from_slice(rest);
        self.url(&segments)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_the_base_path_and_encode_segments() {
        let client = Client::new("http://example.test:8000/cdn/?x=1#top").unwrap();
        assert_eq!(
            client.url(&["nodes"]).as_str(),
            "http://example.test:8000/cdn/nodes"
        );
        let id = Uuid::nil();
        assert_eq!(
            client.content_url(id, &["data"]).as_str(),
            "http://example.test:8000/cdn/content/00000000-0000-0000-0000-000000000000/data"
        );
        let bare = Client::new("http://localhost:8000").unwrap();
        assert_eq!(
            bare.url(&["a b", "c/d"]).as_str(),
            "http://localhost:8000/a%20b/c%2Fd"
        );
    }

    #[test]
    fn unusable_base_urls_are_refused() {
        for url in [
            "localhost:8000",
            "not a url",
            "https://example.test",
            "ftp://x",
        ] {
            assert!(
                matches!(Client::new(url), Err(Error::InvalidUrl { .. })),
                "{url:?} should be refused"
            );
        }
    }
}
