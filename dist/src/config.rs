//! The distributor's settings, read from the environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use cdn_common::env::{EnvError, Setting, Vars};
use cdn_common::node_auth::{self, NodeSecret};
use cdn_common::serve;
use cdn_common::service::Service;
use cdn_common::{ByteSize, NodeId};

/// Every setting, with its default: read by [`Config::from_vars`] and
/// listed by `cdn-dist --help`.
pub const SETTINGS: &[Setting] = &[
    Setting {
        name: "DATABASE_URL",
        default: None,
        about: "PostgreSQL, e.g. postgres://user:password@db/cdn (required).",
    },
    Setting {
        name: "NODES",
        default: None,
        about: "The storage nodes as id=url pairs, comma separated (required).",
    },
    Setting {
        name: "LISTEN_ADDR",
        default: Some("0.0.0.0:8000"),
        about: "Address to serve on; port 0 takes a free port, printed on stdout.",
    },
    Setting {
        name: "S3_LISTEN_ADDR",
        default: Some("0.0.0.0:9000"),
        about: "Address the S3-compatible API serves on; port 0 takes a free port.",
    },
    Setting {
        name: "S3_REGION",
        default: Some("us-east-1"),
        about: "The region the S3-compatible API names itself and requests must be signed for.",
    },
    Setting {
        name: "S3_DOMAIN",
        default: Some("localhost"),
        about: "Domains whose subdomains name buckets (virtual-hosted style: BUCKET.DOMAIN), comma separated; other hosts are path-style.",
    },
    Setting {
        name: "REPLICATION",
        default: Some("1"),
        about: "Copies kept of each object, 1 to the number of nodes.",
    },
    Setting {
        name: "POLL_INTERVAL",
        default: Some("2s"),
        about: "How often every node's /stats is polled.",
    },
    Setting {
        name: "DOWN_AFTER",
        default: None,
        about: "How long a node may miss its polls before it counts as down [default: 3 poll intervals].",
    },
    Setting {
        name: "REPAIR_INTERVAL",
        default: Some("10s"),
        about: "How often inventories are compared with the catalogue and lost copies made again.",
    },
    Setting {
        name: "REPAIR_GRACE",
        default: Some("60s"),
        about: "How long a node may stay down before its copies are made again elsewhere.",
    },
    Setting {
        name: "ORPHAN_GRACE",
        default: Some("1h"),
        about: "How long a blob that nothing points at stays on its node before removal.",
    },
    Setting {
        name: "MULTIPART_EXPIRY",
        default: Some("24h"),
        about: "How long an S3 multipart upload may stay unfinished before it is aborted.",
    },
    Setting {
        name: "PUBLIC_URL",
        default: None,
        about: "Base of the absolute URLs in answers [default: taken from each request's Host].",
    },
    Setting {
        name: "ADMIN_TOKEN",
        default: None,
        about: "An admin bearer token to accept (at least 20 characters), kept in the database by its hash.",
    },
    Setting {
        name: "ADMIN_TOKEN_FILE",
        default: None,
        about: "A file holding the admin token, read when ADMIN_TOKEN is unset; with neither, one is generated at first start, logged once and written here.",
    },
    Setting {
        name: "PUBLIC_LISTING",
        default: Some("false"),
        about: "Whether GET /content lists public content without a read token.",
    },
    Setting {
        name: "SIGNING_KEY",
        default: None,
        about: "Key of presigned URLs (at least 32 characters); changing it invalidates old links [default: generated once, kept in the database].",
    },
    Setting {
        name: "SIGNING_KEY_FILE",
        default: None,
        about: "A file holding SIGNING_KEY, read when SIGNING_KEY is unset.",
    },
    Setting {
        name: "MAX_JSON_BYTES",
        default: Some("1MiB"),
        about: "The largest JSON request body (PATCH, POST /tokens, share); larger ones get 413.",
    },
    Setting {
        name: "MAX_UPLOAD_RESERVATION",
        default: Some("16GiB"),
        about: "Storage all uploads in flight may claim together (their Content-Length); past it 503.",
    },
    Setting {
        name: "MAX_UPLOAD_RESERVATION_PER_CLIENT",
        default: Some("2GiB"),
        about: "Storage one client address's uploads in flight may claim; past it 429.",
    },
    Setting {
        name: "CACHE_SIZE",
        default: Some("256MiB"),
        about: "Memory for hot objects' bytes, kept whole and served without a node read; 0 turns the cache off.",
    },
    Setting {
        name: "CACHE_MAX_OBJECT",
        default: Some("1MiB"),
        about: "The largest object the cache keeps; larger ones always stream from a node.",
    },
    // The HTTP limits, shared with the nodes (see `cdn_common::serve`).
    serve::HEADER_TIMEOUT,
    serve::IDLE_TIMEOUT,
    serve::BODY_STALL_TIMEOUT,
    serve::BODY_MIN_RATE,
    serve::MAX_HEADER_BYTES,
    serve::MAX_CONNECTIONS,
    serve::MAX_REQUESTS_IN_FLIGHT,
    Setting {
        name: "NODE_SECRET",
        default: None,
        about: "The secret shared with every node, sent on each call to one and signing ?redirect=1 URLs (required).",
    },
    node_auth::NODE_SECRET_FILE,
    Setting {
        name: "CORS_ORIGINS",
        default: None,
        about: "Web origins allowed to write with a token, comma separated, e.g. https://app.example [default: none; reads are open to every origin].",
    },
    Setting {
        name: "PUBLIC_METRICS",
        default: Some("false"),
        about: "Whether GET /metrics answers without an admin token.",
    },
    Setting {
        name: "CACHE_MAX_AGE",
        default: Some("60s"),
        about: "How long caches may keep bytes read by their unversioned URL before asking again (0s: always ask); a versioned uri is kept a year.",
    },
];

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub listen_addr: SocketAddr,
    /// Where the S3-compatible API serves, and the region it names.
    pub s3_listen_addr: SocketAddr,
    pub s3_region: String,
    /// Domains whose subdomains name buckets.
    pub s3_domains: Vec<String>,
    pub nodes: Vec<NodeAddress>,
    /// How often every node's `/stats` is polled.
    pub poll_interval: Duration,
    /// How long a node may miss its polls before it counts as down.
    pub down_after: Duration,
    /// How many copies of each object are kept.
    pub replication: usize,
    /// How long a node may stay down before its copies are made again
    /// elsewhere.
    pub repair_grace: Duration,
    /// How long a blob that no metadata points at stays on its node before
    /// it is removed: a safety margin against a wrong `DATABASE_URL`.
    pub orphan_grace: Duration,
    /// How long an S3 multipart upload may stay unfinished before the
    /// janitor aborts it and removes its parts.
    pub multipart_expiry: Duration,
    /// How often the repair task compares nodes' inventories with the
    /// catalogue and restores missing copies.
    pub repair_interval: Duration,
    /// The base of the absolute URLs in responses; when unset, it is taken
    /// from each request's `Host` header.
    pub public_url: Option<String>,
    /// Header size and time, idle keep-alive, stalled bodies, connection
    /// and in-flight caps.
    pub http_limits: serve::Limits,
    /// The largest JSON request body.
    pub max_json_bytes: usize,
    /// Storage uploads in flight may claim: all together, and per client.
    pub max_upload_reservation: u64,
    pub max_upload_reservation_per_client: u64,
    /// Bytes of hot objects kept in memory (0: no cache), and the largest
    /// object kept.
    pub cache_size: u64,
    pub cache_max_object: u64,
    /// An admin token given by the operator.
    pub admin_token: Option<Sensitive>,
    /// Where the admin token is read from, or written to when generated.
    pub admin_token_file: Option<PathBuf>,
    /// Whether `GET /content` lists public content without a token.
    pub public_listing: bool,
    /// The presigned-link key given by the operator, or the file holding it.
    pub signing_key: Option<Sensitive>,
    pub signing_key_file: Option<PathBuf>,
    /// Proves the distributor to its nodes and signs their read URLs.
    pub node_secret: NodeSecret,
    /// Origins whose pages may send writes (with a token).
    pub cors_origins: Vec<String>,
    /// Whether `/metrics` is open to all.
    pub public_metrics: bool,
    /// How long caches keep bytes read by their unversioned URL.
    pub cache_max_age: Duration,
}

/// A secret setting, kept out of `Debug` output and so out of logs.
#[derive(Clone)]
pub struct Sensitive(String);

impl Sensitive {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sensitive(..)")
    }
}

/// A secret setting that must be at least `min_len` visible characters.
fn sensitive(
    vars: &Vars,
    name: &'static str,
    min_len: usize,
) -> Result<Option<Sensitive>, EnvError> {
    let Some(value) = vars.given(name) else {
        return Ok(None);
    };
    let value = value.trim().to_owned();
    if value.len() < min_len || !value.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(EnvError {
            name,
            message: format!(
                "must be at least {min_len} visible characters without spaces (e.g. openssl rand -hex 32)"
            ),
        });
    }
    Ok(Some(Sensitive(value)))
}

/// A storage node as configured: `id=url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeAddress {
    pub id: NodeId,
    pub url: reqwest::Url,
}

impl Service for Config {
    const NAME: &'static str = "cdn-dist";
    const ABOUT: &'static str = "the distributor of the mini CDN, its public front door.";
    const SETTINGS: &'static [Setting] = SETTINGS;
    type Error = anyhow::Error;

    fn from_vars(vars: &Vars) -> Result<Self, EnvError> {
        // Its errors quote the part that is wrong, not the whole list.
        let nodes = parse_nodes(&vars.required("NODES")?).map_err(|message| EnvError {
            name: "NODES",
            message,
        })?;
        let replication: usize = vars.parse("REPLICATION")?;
        if replication == 0 || replication > nodes.len() {
            return Err(EnvError {
                name: "REPLICATION",
                message: format!(
                    "{replication} copies cannot be kept on {} node(s): use 1 to {}",
                    nodes.len(),
                    nodes.len()
                ),
            });
        }
        let poll_interval = vars.parse_with("POLL_INTERVAL", parse_interval)?;
        Ok(Config {
            database_url: vars.required("DATABASE_URL")?,
            listen_addr: vars.parse("LISTEN_ADDR")?,
            s3_listen_addr: vars.parse("S3_LISTEN_ADDR")?,
            s3_region: vars.parse_with("S3_REGION", parse_region)?,
            s3_domains: vars.parse_with("S3_DOMAIN", crate::s3::parse_domains)?,
            nodes,
            poll_interval,
            down_after: vars
                .parse_given("DOWN_AFTER", parse_interval)?
                .unwrap_or(poll_interval * 3),
            replication,
            repair_grace: vars.parse_with("REPAIR_GRACE", parse_interval)?,
            orphan_grace: vars.parse_with("ORPHAN_GRACE", parse_grace)?,
            multipart_expiry: vars.parse_with("MULTIPART_EXPIRY", parse_grace)?,
            repair_interval: vars.parse_with("REPAIR_INTERVAL", parse_interval)?,
            public_url: vars
                .given("PUBLIC_URL")
                .map(|url| url.trim_end_matches('/').to_owned()),
            http_limits: serve::Limits::from_vars(vars)?,
            max_json_bytes: vars.parse_with("MAX_JSON_BYTES", parse_json_limit)?,
            max_upload_reservation: vars.parse::<ByteSize>("MAX_UPLOAD_RESERVATION")?.bytes(),
            max_upload_reservation_per_client: vars
                .parse::<ByteSize>("MAX_UPLOAD_RESERVATION_PER_CLIENT")?
                .bytes(),
            cache_size: vars.parse::<ByteSize>("CACHE_SIZE")?.bytes(),
            cache_max_object: vars.parse_with("CACHE_MAX_OBJECT", parse_cache_max_object)?,
            admin_token: sensitive(vars, "ADMIN_TOKEN", 20)?,
            admin_token_file: vars.given("ADMIN_TOKEN_FILE").map(PathBuf::from),
            public_listing: vars.parse("PUBLIC_LISTING")?,
            signing_key: sensitive(vars, "SIGNING_KEY", 32)?,
            signing_key_file: vars.given("SIGNING_KEY_FILE").map(PathBuf::from),
            cors_origins: vars
                .parse_given("CORS_ORIGINS", crate::edge::cors::parse_origins)?
                .unwrap_or_default(),
            public_metrics: vars.parse("PUBLIC_METRICS")?,
            cache_max_age: vars.parse_with("CACHE_MAX_AGE", parse_grace)?,
            node_secret: NodeSecret::from_vars(vars)?,
        })
    }

    fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }

    fn run(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = anyhow::Result<()>> {
        crate::run(listener, self, shutdown)
    }
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    let interval = humantime::parse_duration(text).map_err(|err| err.to_string())?;
    if interval < Duration::from_millis(10) {
        return Err("must be at least 10ms".into());
    }
    Ok(interval)
}

/// An AWS-style region name: `us-east-1`, `eu-central-2`, `local`.
fn parse_region(text: &str) -> Result<String, String> {
    let text = text.trim();
    let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    if text.is_empty() || text.len() > 32 || !text.chars().all(plain) {
        return Err("must be 1 to 32 lower-case letters, digits and dashes".into());
    }
    Ok(text.to_owned())
}

/// A size from 1 KiB up, as a byte count.
fn parse_json_limit(text: &str) -> Result<usize, String> {
    let size: ByteSize = text.parse().map_err(|err| format!("{err}"))?;
    match usize::try_from(size.bytes()) {
        Ok(bytes) if bytes >= 1024 => Ok(bytes),
        _ => Err("must be at least 1KiB".into()),
    }
}

/// A size up to 1 GiB: an object is held whole while it is loaded, and
/// its weight in the cache must fit 32 bits.
fn parse_cache_max_object(text: &str) -> Result<u64, String> {
    let size: ByteSize = text.parse().map_err(|err| format!("{err}"))?;
    if size.bytes() > 1 << 30 {
        return Err("must be at most 1GiB".into());
    }
    Ok(size.bytes())
}

/// Any duration, zero included (whole seconds where HTTP wants them).
fn parse_grace(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|err| err.to_string())
}

/// Reads `node1=http://node1:8080,node2=http://node2:8080`.
pub fn parse_nodes(text: &str) -> Result<Vec<NodeAddress>, String> {
    let mut nodes: Vec<NodeAddress> = Vec::new();
    for pair in text
        .split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
    {
        let (id, url) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?} is not id=url"))?;
        let id = NodeId::parse(id.trim()).map_err(|err| err.to_string())?;
        let mut url = reqwest::Url::parse(url.trim()).map_err(|err| format!("{url:?}: {err}"))?;
        // Blob paths are joined onto the URL, so it must name a directory.
        if !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("{url}: only http and https URLs can reach a node"));
        }
        if nodes.iter().any(|node| node.id == id) {
            return Err(format!("node {id} is listed twice"));
        }
        nodes.push(NodeAddress { id, url });
    }
    if nodes.is_empty() {
        return Err("lists no node".into());
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_node_list() {
        let nodes = parse_nodes("node1=http://node1:8080, node2=http://10.0.0.2:9000/cdn").unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].id.as_str(), "node1");
        assert_eq!(nodes[0].url.as_str(), "http://node1:8080/");
        assert_eq!(nodes[1].url.as_str(), "http://10.0.0.2:9000/cdn/");
    }

    #[test]
    fn refuses_bad_node_lists() {
        for bad in [
            "",
            "node1",
            "node1=",
            "node1=ftp://x",
            "no de=http://x",
            "a=http://x,a=http://y",
        ] {
            assert!(parse_nodes(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn reads_intervals() {
        assert_eq!(parse_interval("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_interval("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_interval("soon").is_err());
        assert!(parse_interval("0s").is_err());
    }
}
