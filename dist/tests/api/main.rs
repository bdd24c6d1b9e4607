//! Integration tests of the distributor with real nodes and a real
//! PostgreSQL, driven over HTTP with the client library.

mod helpers;

mod cli;
mod content;
mod delivery;
mod demo;
mod errors;
mod faults;
mod observability;
mod placement;
mod startup;
mod streaming;
