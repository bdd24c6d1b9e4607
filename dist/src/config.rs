//! The distributor's settings, read from the environment.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use cdn_common::env::{self, EnvError};

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

/// A node's name: `[A-Za-z0-9_-]{1,64}`, unique among the nodes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(String);

impl NodeId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for NodeId {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if (1..=64).contains(&text.len()) && text.chars().all(allowed) {
            Ok(NodeId(text.to_owned()))
        } else {
            Err(format!(
                "{text:?} is not a node id (use 1 to 64 of A-Z a-z 0-9 _ -)"
            ))
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Self, EnvError> {
        let nodes = env::required("NODES").and_then(|text| {
            parse_nodes(&text).map_err(|message| EnvError {
                name: "NODES",
                message,
            })
        })?;
        let replication = env::parse_or("REPLICATION", 1usize)?;
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
        let poll_interval =
            env::parse_with("POLL_INTERVAL", Duration::from_secs(2), parse_interval)?;
        Ok(Config {
            database_url: env::required("DATABASE_URL")?,
            listen_addr: env::parse_or("LISTEN_ADDR", SocketAddr::from(([0, 0, 0, 0], 8000)))?,
            nodes,
            poll_interval,
            down_after: env::parse_with("DOWN_AFTER", poll_interval * 3, parse_interval)?,
            replication,
            repair_grace: env::parse_with("REPAIR_GRACE", Duration::from_secs(60), parse_interval)?,
            orphan_grace: env::parse_with("ORPHAN_GRACE", Duration::from_secs(3600), parse_grace)?,
            repair_interval: env::parse_with(
                "REPAIR_INTERVAL",
                Duration::from_secs(10),
                parse_interval,
            )?,
            public_url: env::optional("PUBLIC_URL").map(|url| url.trim_end_matches('/').to_owned()),
        })
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
        let id: NodeId = id.trim().parse()?;
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
