//! Signed node read URLs, the answer to `?redirect=1`: the client fetches
//! the bytes straight from a node, which checks the signature (see
//! `cdn_common::node_auth`) and serves that one blob with the object's
//! type and disposition.

use std::time::Duration;

use cdn_common::BlobKey;
use cdn_common::node_auth::{NodeSecret, SignedRead, unix_now};
use reqwest::Url;

/// How long a redirect stays usable: long enough to follow it (and to
/// resume a download for a while), short enough that a copied link dies.
pub const SIGNED_READ_FOR: Duration = Duration::from_secs(60);

/// `{public_url}/blobs/{key}?expires=..&type=..&disposition=..&signature=..`;
/// `None` when the node's public URL is not a URL.
pub fn signed_read_url(
    secret: &NodeSecret,
    public_url: &str,
    key: &BlobKey,
    content_type: &str,
    disposition: &str,
) -> Option<String> {
    let read = SignedRead {
        key: key.to_string(),
        expires: unix_now() + SIGNED_READ_FOR.as_secs(),
        content_type: content_type.to_owned(),
        disposition: disposition.to_owned(),
    };
    let mut url = Url::parse(&format!("{}/blobs/{key}", public_url.trim_end_matches('/'))).ok()?;
    url.query_pairs_mut()
        .append_pair("expires", &read.expires.to_string())
        .append_pair("type", &read.content_type)
        .append_pair("disposition", &read.disposition)
        .append_pair("signature", &read.signature(secret));
    Some(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_carries_what_the_node_checks() {
        let secret = NodeSecret::new("a-secret-for-this-test").unwrap();
        let key = BlobKey::parse("k1").unwrap();
        let url = signed_read_url(
            &secret,
            "http://localhost:8001/",
            &key,
            "text/html; charset=utf-8",
            "inline; filename=\"a b.html\"",
        )
        .unwrap();
        let url = Url::parse(&url).unwrap();
        assert_eq!(url.path(), "/blobs/k1");
        let pairs: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        let read = SignedRead {
            key: "k1".into(),
            expires: pairs["expires"].parse().unwrap(),
            content_type: pairs["type"].clone(),
            disposition: pairs["disposition"].clone(),
        };
        assert_eq!(read.content_type, "text/html; charset=utf-8");
        assert_eq!(
            read.verify(&secret, &pairs["signature"], unix_now()),
            Ok(())
        );
        assert!(signed_read_url(&secret, "not a url", &key, "a/b", "inline").is_none());
    }
}
