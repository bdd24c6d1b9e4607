//! Client library for the mini CDN's distributor, used by the `cdn` command
//! and by the project's integration tests.
//!
//! # Layout
//!
//! - [`client`]: [`Client`], one typed async method per distributor route,
//!   with uploads and downloads streamed so no file is ever held in memory.
//! - [`error`]: [`Error`], what every call fails with, and how an error
//!   response (JSON or not) becomes one.
//! - [`progress`]: [`Progress`], how a caller watches bytes move; this crate
//!   never draws anything itself.
//! - [`names`]: [`safe_file_name`], which keeps a server-provided file name
//!   from escaping the directory a download goes to.
//!
//! The JSON types are [`cdn_common::wire`]'s, re-exported as [`wire`] so a
//! user of this crate needs no other.
//!
//! The `cdn` binary (`src/main.rs`, `src/cli/`) is a thin layer on top:
//! argument parsing, human and JSON output, progress bars and the demo.
//! It is the only place that knows about terminals.

pub mod client;
pub mod error;
pub mod names;
pub mod progress;

pub use cdn_common::wire;

pub use client::{ByteStream, Client, DEFAULT_URL, Download, DownloadedFile};
pub use error::{Error, Result};
pub use names::safe_file_name;
pub use progress::{NoProgress, Progress};
