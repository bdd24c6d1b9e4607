//! The node's settings, read from the environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use cdn_common::ByteSize;
use cdn_common::env::{self, EnvError};

#[derive(Clone, Debug)]
pub struct Config {
    /// How the node names itself in `/stats`.
    pub node_id: String,
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
}

impl Config {
    pub fn from_env() -> Result<Self, EnvError> {
        let listen_addr = env::parse_or("LISTEN_ADDR", SocketAddr::from(([0, 0, 0, 0], 8080)))?;
        Ok(Config {
            node_id: env::optional("NODE_ID").unwrap_or_else(|| "node".into()),
            listen_addr,
            storage_dir: env::optional("STORAGE_DIR")
                .unwrap_or_else(|| "/storage".into())
                .into(),
            max_storage: env::parse_or("MAX_STORAGE", ByteSize(1 << 30))?,
            public_url: env::optional("PUBLIC_URL")
                .unwrap_or_else(|| format!("http://localhost:{}", listen_addr.port()))
                .trim_end_matches('/')
                .to_owned(),
            scrub_interval: env::parse_with(
                "SCRUB_INTERVAL",
                Some(Duration::from_secs(3600)),
                parse_scrub_interval,
            )?,
        })
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
