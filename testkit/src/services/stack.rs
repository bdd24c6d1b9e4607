//! A whole cluster for one test: three nodes and a distributor on a fresh
//! database, each node with its own directory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cdn_client::Client;
use cdn_common::wire::{Content, NodeList, NodeStatus};
use futures::Stream;
use reqwest::StatusCode;
use tempfile::TempDir;

use super::{Mode, Program, Service};
use crate::net::HeldPort;
use crate::postgres;

pub const NODE_IDS: [&str; 3] = ["node1", "node2", "node3"];

/// The index of node `id` in [`NODE_IDS`], and so in [`Stack::nodes`].
pub fn node_index(id: &str) -> usize {
    NODE_IDS
        .iter()
        .position(|known| *known == id)
        .unwrap_or_else(|| panic!("{id} is not one of the stack's nodes"))
}

/// `bytes` as an upload's body of one chunk, for the client's streaming
/// uploads and replacements.
pub fn body(
    bytes: impl AsRef<[u8]>,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    futures::stream::iter([Ok(Bytes::copy_from_slice(bytes.as_ref()))])
}

/// Which services run as child processes; the others run in-process.
#[derive(Clone, Copy, Debug, Default)]
pub struct Children {
    pub dist: bool,
    pub nodes: bool,
}

impl Children {
    pub const ALL: Children = Children {
        dist: true,
        nodes: true,
    };
    /// For tests that SIGKILL a node.
    pub const NODES: Children = Children {
        dist: false,
        nodes: true,
    };
    /// For tests that SIGKILL the distributor.
    pub const DIST: Children = Children {
        dist: true,
        nodes: false,
    };
}

pub struct StackConfig {
    pub max_storage: [&'static str; 3],
    /// Bytes of blobs already on each node's disk when it starts.
    pub prefill: [usize; 3],
    pub replication: usize,
    /// More settings for the distributor (`REPAIR_GRACE`, …).
    pub dist_env: Vec<(&'static str, String)>,
    /// A database of the test's own instead of a fresh one on the shared
    /// server.
    pub database_url: Option<String>,
    /// What to run as child processes: what a test SIGKILLs, or whose log
    /// or memory it reads.
    pub children: Children,
    /// Whether the distributor gets an `ADMIN_TOKEN` (one made for this
    /// stack, unless `dist_env` names one), carried by `client` and `http`.
    /// Off for a test of the bootstrap without one.
    pub set_admin_token: bool,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            max_storage: ["2GiB"; 3],
            prefill: [0; 3],
            replication: 1,
            dist_env: Vec::new(),
            database_url: None,
            children: Children::default(),
            set_admin_token: true,
        }
    }
}

pub struct Stack {
    pub dist: Service,
    /// In the order of [`NODE_IDS`].
    pub nodes: Vec<Service>,
    /// Carries the admin token.
    pub client: Client,
    /// Sends the admin token as the bearer on every request; make a plain
    /// `reqwest::Client` to ask as an anonymous caller.
    pub http: reqwest::Client,
    /// The distributor's admin token, unless the test turned it off.
    pub admin_token: Option<String>,
    /// Sends the node secret: for a test that calls a node as the
    /// distributor does.
    pub node_http: reqwest::Client,
    pub database_url: String,
    /// The nodes' storage directories and the children's logs.
    pub dir: TempDir,
}

impl Stack {
    pub async fn start() -> Stack {
        Stack::start_with(StackConfig::default()).await
    }

    pub async fn start_with(config: StackConfig) -> Stack {
        let dir = tempfile::tempdir().expect("a directory for the stack");
        let mode = |child: bool, name: &str| match child {
            true => Mode::Child {
                log: dir.path().join(format!("{name}.log")),
            },
            false => Mode::InProcess,
        };
        let node = |index: usize| {
            let id = NODE_IDS[index];
            let storage = dir.path().join(id);
            if config.prefill[index] > 0 {
                let blobs = storage.join("blobs");
                std::fs::create_dir_all(&blobs).unwrap();
                std::fs::write(blobs.join("prefill"), vec![0u8; config.prefill[index]]).unwrap();
            }
            let port = HeldPort::new().expect("holding a loopback port");
            let settings = [
                ("NODE_ID", id.to_owned()),
                ("PUBLIC_URL", port.url()),
                ("STORAGE_DIR", storage.display().to_string()),
                ("MAX_STORAGE", config.max_storage[index].to_owned()),
                ("SCRUB_INTERVAL", "off".to_owned()),
            ];
            Service::start_on(
                port,
                Program::Node,
                settings,
                mode(config.children.nodes, id),
            )
        };
        // PostgreSQL starts (once per process) while the nodes do.
        let database = async {
            match config.database_url {
                Some(url) => url,
                None => postgres::shared().await.fresh_database().await,
            }
        };
        let (node1, node2, node3, database_url) = tokio::join!(node(0), node(1), node(2), database);
        let nodes = vec![node1, node2, node3];

        let node_list = NODE_IDS
            .iter()
            .zip(&nodes)
            .map(|(id, node)| format!("{id}={}", node.url))
            .collect::<Vec<_>>()
            .join(",");
        let mut settings = vec![
            ("DATABASE_URL", database_url.clone()),
            ("NODES", node_list),
            ("POLL_INTERVAL", "200ms".to_owned()),
            ("REPLICATION", config.replication.to_string()),
            ("REPAIR_INTERVAL", "300ms".to_owned()),
        ];
        let given = config
            .dist_env
            .iter()
            .find(|(name, _)| *name == "ADMIN_TOKEN")
            .map(|(_, token)| token.clone());
        let admin_token = match given {
            Some(token) => Some(token),
            None if config.set_admin_token => {
                let token = test_token();
                settings.push(("ADMIN_TOKEN", token.clone()));
                Some(token)
            }
            None => None,
        };
        settings.extend(config.dist_env);
        let dist =
            Service::start(Program::Dist, settings, mode(config.children.dist, "dist")).await;
        let mut client = Client::new(&dist.url).expect("a client for the distributor");
        if let Some(token) = &admin_token {
            client = client.with_token(token);
        }
        Stack {
            client,
            http: bearer_http(admin_token.as_deref()),
            admin_token,
            node_http: super::node_http(),
            dist,
            nodes,
            database_url,
            dir,
        }
    }

    /// The admin token; panics for a stack started without one.
    pub fn admin_token(&self) -> &str {
        self.admin_token
            .as_deref()
            .expect("this stack was started without an admin token")
    }

    /// `path` on the distributor.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.dist.url)
    }

    /// The status the distributor answers a GET of `path` with.
    pub async fn status_of(&self, path: &str) -> StatusCode {
        let url = self.url(path);
        match self.http.get(&url).send().await {
            Ok(response) => response.status(),
            Err(err) => panic!("GET {url}: {err}"),
        }
    }

    /// Uploads `bytes` as `name`, its length given, and returns what the
    /// distributor stored; panics if the upload fails.
    pub async fn upload(&self, name: &str, bytes: impl AsRef<[u8]>) -> Content {
        self.try_upload(name, bytes)
            .await
            .unwrap_or_else(|err| panic!("uploading {name}: {err}"))
    }

    /// [`Stack::upload`], for a test that expects it to be refused.
    pub async fn try_upload(
        &self,
        name: &str,
        bytes: impl AsRef<[u8]>,
    ) -> cdn_client::Result<Content> {
        let len = bytes.as_ref().len() as u64;
        self.client
            .upload_stream(body(bytes), Some(len), name, None)
            .await
    }

    pub fn node_dir(&self, index: usize) -> PathBuf {
        self.dir.path().join(NODE_IDS[index])
    }

    /// Where node `index` keeps the blob `key`.
    pub fn blob_file(&self, index: usize, key: &str) -> PathBuf {
        self.node_dir(index).join("blobs").join(key)
    }

    /// Keys of the whole blobs on node `index`'s disk.
    pub fn blobs_on_disk(&self, index: usize) -> Vec<String> {
        list_dir(&self.node_dir(index).join("blobs"))
    }

    /// Files of writes under way (or abandoned) on node `index`'s disk.
    pub fn temp_files_on_disk(&self, index: usize) -> Vec<String> {
        list_dir(&self.node_dir(index).join("tmp"))
    }

    /// Waits (up to 10 s) until the distributor reports the node so.
    pub async fn wait_for_node(&self, id: &str, status: NodeStatus) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let nodes: NodeList = self.client.nodes().await.unwrap();
            if nodes
                .nodes
                .iter()
                .any(|node| node.id.as_str() == id && node.status == status)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{id} never became {status:?}: {nodes:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A token no other stack shares: test stacks share nothing but the
/// PostgreSQL server.
fn test_token() -> String {
    format!(
        "cdn_test_{}{}",
        uuid::Uuid::now_v7().simple(),
        uuid::Uuid::now_v7().simple()
    )
}

/// An HTTP client that sends `token`, if any, as the bearer.
pub fn bearer_http(token: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .expect("a token fit for a header");
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("an HTTP client")
}

fn list_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
