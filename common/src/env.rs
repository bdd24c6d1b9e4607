//! Configuration from environment variables.
//!
//! Every error names the variable, so a bad value stops a service with one
//! line that says what to fix.

use std::fmt::Display;
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct EnvError {
    pub name: &'static str,
    pub message: String,
}

/// The variable's value; unset and empty are the same.
pub fn optional(name: &'static str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

pub fn required(name: &'static str) -> Result<String, EnvError> {
    optional(name).ok_or(EnvError {
        name,
        message: "is required but not set".into(),
    })
}

/// Parses the variable with `FromStr`, or gives `default` when it is unset.
pub fn parse_or<T>(name: &'static str, default: T) -> Result<T, EnvError>
where
    T: FromStr,
    T::Err: Display,
{
    parse_with(name, default, str::parse)
}

/// Parses the variable with `parse`, or gives `default` when it is unset.
pub fn parse_with<T, E: Display>(
    name: &'static str,
    default: T,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, EnvError> {
    match optional(name) {
        None => Ok(default),
        Some(value) => parse(value.trim()).map_err(|err| EnvError {
            name,
            message: format!("{value:?}: {err}"),
        }),
    }
}
