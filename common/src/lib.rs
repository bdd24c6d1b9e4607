//! Pieces shared by the mini CDN's services and its client.
//!
//! # Layout
//!
//! - [`wire`]: the JSON bodies that cross the network, so the distributor,
//!   the nodes and the client cannot disagree on a field name.
//! - [`ids`]: `NodeId` and `BlobKey`, checked where they come in.
//! - [`digest`]: `Sha256`, and hashing bytes as they stream past.
//! - [`size`]: human-readable byte sizes (`MAX_STORAGE=1.5GB`).
//! - [`env`]: each service's settings, declared once: read from the
//!   environment with errors that name the variable, and listed by `--help`.
//! - [`serve`]: the HTTP/1 server both services run, with its limits
//!   (header size and time, idle keep-alive, stalled bodies, connection and
//!   in-flight caps).
//! - [`service`]: what every server binary does around its router: logging,
//!   graceful shutdown and the container healthcheck probe.
//! - [`node_auth`]: the node secret and signed node read URLs, both sides.
//! - [`active`]: which content types are sandboxed when served.
//! - [`observe`]: what makes a server watchable: `/metrics`, request ids and
//!   one log line per request.

pub mod active;
pub mod digest;
pub mod env;
pub mod ids;
pub mod node_auth;
pub mod observe;
pub mod serve;
pub mod service;
pub mod size;
pub mod wire;

pub use digest::{Fingerprint, Hasher, HashingStream, Sha256};
pub use ids::{BlobKey, NodeId};
pub use size::ByteSize;
