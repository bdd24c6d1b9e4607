//! The S3-compatible API with real clients (the `aws` command line,
//! boto3, rclone and the `object_store` crate) against a real distributor,
//! nodes and PostgreSQL from `testkit`, and the admin API of the access
//! keys those clients sign with.

mod aws;
mod boto;
mod cdn_cli;
mod cli;
mod keys;
mod multipart;
mod object_store;
mod rclone;
