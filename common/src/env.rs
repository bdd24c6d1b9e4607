//! Settings from environment variables, declared once.
//!
//! Each service lists its settings in a table of [`Setting`]s: the name,
//! the default (as the text a person would write) and what it does. The
//! same table reads the values, fills in the defaults and prints `--help`,
//! so the help can never disagree with what the service does. Every error
//! names the variable, so a bad value stops a service with one line that
//! says what to fix.

use std::collections::HashMap;
use std::fmt::{Display, Write};
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct EnvError {
    pub name: &'static str,
    pub message: String,
}

/// One setting a service reads.
#[derive(Clone, Copy, Debug)]
pub struct Setting {
    pub name: &'static str,
    /// The value used when the variable is unset, as text; `None` when
    /// there is none (required, or worked out from other settings, as
    /// `about` says).
    pub default: Option<&'static str>,
    pub about: &'static str,
}

/// Where settings come from: the process environment, or a fixed list
/// (tests, which must not touch the process's environment).
pub struct Vars {
    declared: &'static [Setting],
    values: HashMap<String, String>,
}

impl Vars {
    /// The declared settings as the process environment has them.
    pub fn from_env(declared: &'static [Setting]) -> Self {
        let values = declared
            .iter()
            .filter_map(|setting| {
                Some((setting.name.to_owned(), std::env::var(setting.name).ok()?))
            })
            .collect();
        Vars { declared, values }
    }

    /// The declared settings as `pairs` give them; the rest unset.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        declared: &'static [Setting],
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let values = pairs
            .into_iter()
            .map(|(key, value)| (key.into(), value.into()))
            .collect();
        Vars { declared, values }
    }

    fn setting(&self, name: &'static str) -> &Setting {
        self.declared
            .iter()
            .find(|setting| setting.name == name)
            .unwrap_or_else(|| panic!("setting {name} is read but not declared"))
    }

    /// The value as given; unset and empty are the same.
    pub fn given(&self, name: &'static str) -> Option<String> {
        self.setting(name);
        self.values
            .get(name)
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    }

    /// The value as given, else its declared default.
    pub fn text(&self, name: &'static str) -> Option<String> {
        self.given(name)
            .or_else(|| self.setting(name).default.map(str::to_owned))
    }

    pub fn required(&self, name: &'static str) -> Result<String, EnvError> {
        self.text(name).ok_or(EnvError {
            name,
            message: "is required but not set".into(),
        })
    }

    /// Parses the value (or its default) with `FromStr`.
    pub fn parse<T>(&self, name: &'static str) -> Result<T, EnvError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.parse_with(name, str::parse)
    }

    /// Parses the value (or its default) with `parse`.
    pub fn parse_with<T, E: Display>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, EnvError> {
        let value = self.required(name)?;
        parse(&value).map_err(|err| EnvError {
            name,
            message: format!("{value:?}: {err}"),
        })
    }

    /// Parses the value when one is given; `None` when unset.
    pub fn parse_given<T, E: Display>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, EnvError> {
        self.given(name)
            .map(|value| {
                parse(&value).map_err(|err| EnvError {
                    name,
                    message: format!("{value:?}: {err}"),
                })
            })
            .transpose()
    }
}

/// The logging settings every service reads (see `service::init_tracing`).
pub const LOG_SETTINGS: &[Setting] = &[
    Setting {
        name: "RUST_LOG",
        default: Some("info"),
        about: "Log filter; RUST_LOG=info,access=off drops the per-request lines.",
    },
    Setting {
        name: "LOG_FORMAT",
        default: Some("text"),
        about: "text, or json for one JSON object per line.",
    },
];

/// `--help` for a service: what it is, then every setting with its default,
/// the service's own first, then [`LOG_SETTINGS`].
pub fn help(program: &str, about: &str, settings: &[Setting]) -> String {
    let settings: Vec<&Setting> = settings.iter().chain(LOG_SETTINGS).collect();
    let mut text = format!(
        "{program}: {about}\n\nUsage: {program} [--help | --healthcheck]\n\n\
         Settings are read from environment variables:\n\n"
    );
    let width = settings.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for setting in &settings {
        let default = match setting.default {
            Some(value) => format!(" [default: {value}]"),
            None => String::new(),
        };
        let _ = writeln!(
            text,
            "  {:width$}  {}{default}",
            setting.name, setting.about
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: &[Setting] = &[
        Setting {
            name: "SIZE",
            default: Some("10"),
            about: "How many.",
        },
        Setting {
            name: "URL",
            default: None,
            about: "Where.",
        },
    ];

    #[test]
    fn values_defaults_and_errors_that_name_the_variable() {
        let vars = Vars::from_pairs(SETTINGS, [("SIZE", " 12 "), ("URL", "")]);
        assert_eq!(vars.parse::<u32>("SIZE").unwrap(), 12);
        let err = vars.required("URL").unwrap_err();
        assert_eq!(err.to_string(), "URL: is required but not set");

        let vars = Vars::from_pairs(SETTINGS, [("SIZE", "many")]);
        let err = vars.parse::<u32>("SIZE").unwrap_err();
        assert!(err.to_string().starts_with("SIZE: \"many\": "), "{err}");

        let vars = Vars::from_pairs(SETTINGS, Vec::<(String, String)>::new());
        assert_eq!(vars.parse::<u32>("SIZE").unwrap(), 10);
        assert_eq!(vars.parse_given("URL", str::parse::<u32>).unwrap(), None);
    }

    #[test]
    fn help_lists_every_setting_with_its_default() {
        let text = help("svc", "does things", SETTINGS);
        assert!(
            text.contains("SIZE        How many. [default: 10]"),
            "{text}"
        );
        assert!(text.contains("URL         Where.\n"), "{text}");
        assert!(text.contains("LOG_FORMAT"), "{text}");
    }

    #[test]
    #[should_panic(expected = "not declared")]
    fn reading_an_undeclared_setting_is_a_bug() {
        Vars::from_pairs(SETTINGS, [("X", "1")]).given("X");
    }
}
