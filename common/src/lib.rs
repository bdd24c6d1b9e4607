//! Pieces shared by the mini CDN's services and its client.
//!
//! # Layout
//!
//! - [`wire`]: the JSON bodies that cross the network, so the distributor,
//!   the nodes and the client cannot disagree on a field name.
//! - [`size`]: human-readable byte sizes (`MAX_STORAGE=1.5GB`).
//! - [`env`]: reading configuration from environment variables with errors
//!   that name the variable.
//! - [`service`]: what every server binary does around its router: logging,
//!   graceful shutdown and the container healthcheck probe.
//! - [`observe`]: what makes a server watchable: `/metrics`, request ids and
//!   one log line per request.

pub mod env;
pub mod observe;
pub mod service;
pub mod size;
pub mod wire;

pub use size::ByteSize;
