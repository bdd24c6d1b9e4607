//! Integration tests of the distributor with real nodes and a real
//! PostgreSQL, driven over HTTP with the client library. The stack comes
//! from `testkit`: services in-process on port-0 listeners, child
//! processes where a test kills one, reads its log or measures its memory.
//! Tests that run longer than a few seconds are `#[ignore]`d with the
//! reason "long": `scripts/test` runs them (`--include-ignored`).

mod auth;
mod browser;
mod byteranges;
mod cache;
mod caching;
mod cli;
mod compression;
mod content;
mod dashboard;
mod dashboard_routes;
mod delivery;
mod demo;
mod edges;
mod errors;
mod faults;
mod forms;
mod inert;
mod integrity;
mod listing;
mod observability;
mod placement;
mod private;
mod sealed;
mod startup;
mod streaming;
