//! Typed configuration from environment variables.
//!
//! Every setting has a documented default and is read through [`Env`], which wraps a map: the
//! binaries fill it from the process environment, tests build it by hand. A bad value fails at
//! start-up with a message naming the variable.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// A configuration value could not be used.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}={value:?} is invalid: {reason}")]
pub struct ConfigError {
    /// The variable's name.
    pub name: String,
    /// The value found.
    pub value: String,
    /// Why it was refused.
    pub reason: String,
}

/// A snapshot of configuration variables.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// The process environment, read once.
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    /// A hand-built environment, for tests.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    /// The variable's value, or `default` when unset or empty.
    pub fn string(&self, name: &str, default: &str) -> String {
        match self.vars.get(name) {
            Some(value) if !value.is_empty() => value.clone(),
            _ => default.to_owned(),
        }
    }

    /// The variable parsed as `T`, or `default` when unset or empty.
    pub fn parse<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.vars.get(name) {
            Some(value) if !value.is_empty() => value.parse().map_err(|err: T::Err| ConfigError {
                name: name.to_owned(),
                value: value.clone(),
                reason: err.to_string(),
            }),
            _ => Ok(default),
        }
    }

    /// A secret: never printed by `Debug`.
    pub fn secret(&self, name: &str, default: &str) -> Secret {
        Secret(self.string(name, default))
    }
}

/// A value that must not appear in logs; `Debug` prints `Secret(***)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A database URL with its password hidden, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_and_empty_variables_take_the_default() {
        let env = Env::from_pairs([("EMPTY", "")]);
        assert_eq!(env.string("EMPTY", "d"), "d");
        assert_eq!(env.parse::<u16>("MISSING", 7).expect("default"), 7);
    }

    #[test]
    fn bad_values_fail_with_the_variable_name() {
        let env = Env::from_pairs([("SAGAWAY_GRPC_ADDR", "not-an-address")]);
        let err = env
            .parse::<std::net::SocketAddr>("SAGAWAY_GRPC_ADDR", "0.0.0.0:1".parse().expect("addr"))
            .expect_err("must fail");
        assert!(err.to_string().contains("SAGAWAY_GRPC_ADDR"), "{err}");
    }

    #[test]
    fn secrets_and_passwords_never_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
        assert_eq!(
            redact_url("postgres://postgres:hunter2@localhost:5432/db"),
            "postgres://postgres:***@localhost:5432/db"
        );
        assert_eq!(
            redact_url("redis://localhost:6379"),
            "redis://localhost:6379"
        );
    }
}
