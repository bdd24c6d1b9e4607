//! Client library for the mini CDN's distributor, used by the `cdn` command
//! and by the project's integration tests.
//!
//! # Layout
//!
//! - [`client`]: [`Client`], one typed async method per distributor route;
//!   this module has the handle and the calls that move only metadata.
//! - [`transfer`]: the calls that move an object's bytes, streamed both ways
//!   so no file is ever held in memory, and downloads checked against their
//!   SHA-256 before they appear.
//! - `access`: tokens and presigned links (more [`Client`] methods).
//! - [`error`]: [`Error`], what every call fails with, and how an error
//!   response (JSON or not) becomes one.
//! - [`progress`]: [`Progress`], how a caller watches bytes move; this crate
//!   never draws anything itself.
//! - [`names`]: [`safe_file_name`], which keeps a server-provided file name
//!   from escaping the directory a download goes to.
//!
//! Private helpers: `response` reads answers (and error bodies), and
//! `partial_file` keeps a download hidden until it is whole and checked.
//!
//! The JSON types are [`cdn_common::wire`]'s, re-exported as [`wire`], and
//! the identifiers they hold ([`NodeId`], [`Sha256`]) are re-exported too,
//! so a user of this crate needs no other.
//!
//! The `cdn` binary (`src/main.rs`, `src/cli/`) is a thin layer on top:
//! argument parsing, human and JSON output, progress bars and the demo.
//! It is the only place that knows about terminals.

mod access;
pub mod client;
pub mod error;
pub mod names;
mod partial_file;
pub mod progress;
mod response;
pub mod transfer;

pub use cdn_common::wire;
pub use cdn_common::{NodeId, Sha256};

pub use client::{Client, DEFAULT_URL};
pub use error::{Error, Result};
pub use names::safe_file_name;
pub use progress::{NoProgress, Progress};
pub use transfer::{ByteStream, Chunks, Download, DownloadedFile};
