//! The distributor's settings, read from the environment.

use std::net::SocketAddr;
use std::time::Duration;

use cdn_common::NodeId;
use cdn_common::env::{EnvError, Setting, Vars};
use cdn_common::service::Service;

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
        name: "PUBLIC_URL",
        default: None,
        about: "Base of the absolute URLs in answers [default: taken from each request's Host].",
    },
];

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub listen_addr: SocketAddr,
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
    /// How often the repair task compares nodes' inventories with the
    /// catalogue and restores missing copies.
    pub repair_interval: Duration,
    /// The base of the absolute URLs in responses; when unset, it is taken
    /// from each request's `Host` header.
    pub public_url: Option<String>,
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
            nodes,
            poll_interval,
            down_after: vars
                .parse_given("DOWN_AFTER", parse_interval)?
                .unwrap_or(poll_interval * 3),
            replication,
            repair_grace: vars.parse_with("REPAIR_GRACE", parse_interval)?,
            orphan_grace: vars.parse_with("ORPHAN_GRACE", parse_grace)?,
            repair_interval: vars.parse_with("REPAIR_INTERVAL", parse_interval)?,
            public_url: vars
                .given("PUBLIC_URL")
                .map(|url| url.trim_end_matches('/').to_owned()),
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

/// Any duration, zero included.
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
