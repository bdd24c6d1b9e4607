//! The node's settings, read from the environment.

use std::net::SocketAddr;
use std::path::PathBuf;

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
        })
    }
}
