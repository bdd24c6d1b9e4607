//! The node's settings, read from the environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use cdn_common::env::{EnvError, Setting, Vars};
use cdn_common::node_auth::{self, NodeSecret};
use cdn_common::serve;
use cdn_common::service::Service;
use cdn_common::{ByteSize, NodeId};

/// Every setting, with its default: read by [`Config::from_vars`] and
/// listed by `cdn-node --help`.
pub const SETTINGS: &[Setting] = &[
    Setting {
        name: "NODE_ID",
        default: Some("node"),
        about: "How the node names itself in /stats (A-Z a-z 0-9 _ -).",
    },
    Setting {
        name: "LISTEN_ADDR",
        default: Some("0.0.0.0:8080"),
        about: "Address to serve on; port 0 takes a free port, printed on stdout.",
    },
    Setting {
        name: "STORAGE_DIR",
        default: Some("/storage"),
        about: "The volume the blobs live on; the node owns everything below it.",
    },
    Setting {
        name: "MAX_STORAGE",
        default: Some("1GiB"),
        about: "The most bytes of blobs the node holds (100M, 1.5GB, 512MiB or bytes).",
    },
    Setting {
        name: "PUBLIC_URL",
        default: None,
        about: "How clients outside reach this node, for ?redirect=1 [default: http://localhost:<port>].",
    },
    Setting {
        name: "SCRUB_INTERVAL",
        default: Some("1h"),
        about: "How often every blob is re-read and checked against its SHA-256, or off.",
    },
    Setting {
        name: "NODE_SECRET",
        default: None,
        about: "The secret shared with the distributor; every route but /healthz needs it (required).",
    },
    node_auth::NODE_SECRET_FILE,
    // The HTTP limits, shared with the distributor (see `cdn_common::serve`).
    serve::HEADER_TIMEOUT,
    serve::IDLE_TIMEOUT,
    serve::BODY_STALL_TIMEOUT,
    serve::BODY_MIN_RATE,
    serve::MAX_HEADER_BYTES,
    serve::MAX_CONNECTIONS,
    serve::MAX_REQUESTS_IN_FLIGHT,
];

#[derive(Clone, Debug)]
pub struct Config {
    /// How the node names itself in `/stats`.
    pub node_id: NodeId,
    pub listen_addr: SocketAddr,
    /// The volume the blobs live on; the node owns everything below it.
    pub storage_dir: PathBuf,
    /// The most bytes of blobs the node will hold.
    pub max_storage: ByteSize,
    /// How clients outside reach this node, for `?redirect=1`.
    pub public_url: String,
    /// How often every blob is re-read and checked against its SHA-256;
    /// `None` when only `POST /scrub` starts a scrub.
    pub scrub_interval: Option<Duration>,
    /// What the distributor proves itself with, and signs read URLs with.
    pub node_secret: NodeSecret,
    /// Header size and time, idle keep-alive, stalled bodies, connection
    /// and in-flight caps.
    pub http_limits: serve::Limits,
}

impl Service for Config {
    const NAME: &'static str = "cdn-node";
    const ABOUT: &'static str = "a storage node of the mini CDN.";
    const SETTINGS: &'static [Setting] = SETTINGS;
    type Error = anyhow::Error;

    fn from_vars(vars: &Vars) -> Result<Self, EnvError> {
        let listen_addr: SocketAddr = vars.parse("LISTEN_ADDR")?;
        let public_url = vars
            .given("PUBLIC_URL")
            .unwrap_or_else(|| format!("http://localhost:{}", listen_addr.port()));
        Ok(Config {
            node_id: vars.parse("NODE_ID")?,
            listen_addr,
            storage_dir: vars.required("STORAGE_DIR")?.into(),
            max_storage: vars.parse("MAX_STORAGE")?,
            public_url: public_url.trim_end_matches('/').to_owned(),
            scrub_interval: vars.parse_with("SCRUB_INTERVAL", parse_scrub_interval)?,
            node_secret: NodeSecret::from_vars(vars)?,
            http_limits: serve::Limits::from_vars(vars)?,
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

/// A duration such as `1h` or `30m`, or `off`.
fn parse_scrub_interval(text: &str) -> Result<Option<Duration>, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    match humantime::parse_duration(text) {
        Ok(interval) if interval >= Duration::from_secs(1) => Ok(Some(interval)),
        Ok(_) => Err("must be at least 1s, or off".into()),
        Err(err) => Err(format!("{err} (try 1h, 30m or off)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a-node-secret-for-tests";

    #[test]
    fn defaults_make_a_working_node() {
        let config =
            Config::from_vars(&Vars::from_pairs(SETTINGS, [("NODE_SECRET", SECRET)])).unwrap();
        assert_eq!(config.node_id.as_str(), "node");
        assert_eq!(config.max_storage, ByteSize(1 << 30));
        assert_eq!(config.public_url, "http://localhost:8080");
        assert_eq!(config.scrub_interval, Some(Duration::from_secs(3600)));
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("MAX_STORAGE", "lots"),
            ("NODE_ID", "no de"),
            ("SCRUB_INTERVAL", "0s"),
        ] {
            let pairs = [(name, value), ("NODE_SECRET", SECRET)];
            let err = Config::from_vars(&Vars::from_pairs(SETTINGS, pairs)).unwrap_err();
            assert_eq!(err.name, name);
        }
    }

    #[test]
    fn a_node_without_its_secret_does_not_start() {
        let err = Config::from_vars(&Vars::from_pairs(SETTINGS, [("", ""); 0])).unwrap_err();
        assert_eq!(err.name, "NODE_SECRET");
    }
}
