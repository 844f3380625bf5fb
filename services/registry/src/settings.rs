//! Compatibility levels and modes: per subject, falling back to the global setting ('' in the
//! store), falling back to the defaults (BACKWARD, READWRITE).

use std::fmt;
use std::str::FromStr;

use sagaway_contracts::compat::CompatibilityLevel;

use crate::error::ApiError;
use crate::store::{Setting, Store};

/// The global row's subject.
pub const GLOBAL: &str = "";

/// The default level when none is configured (Confluent's).
pub const DEFAULT_LEVEL: CompatibilityLevel = CompatibilityLevel::Backward;

/// What writes a subject accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Normal operation.
    ReadWrite,
    /// No registrations or deletions.
    ReadOnly,
    /// Registrations keep the ids and versions they are given (migrating from another registry).
    Import,
}

impl FromStr for Mode {
    type Err = ApiError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw.to_ascii_uppercase().as_str() {
            "READWRITE" => Ok(Mode::ReadWrite),
            "READONLY" => Ok(Mode::ReadOnly),
            "IMPORT" => Ok(Mode::Import),
            _ => Err(ApiError::InvalidMode(raw.to_owned())),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::ReadWrite => "READWRITE",
            Mode::ReadOnly => "READONLY",
            Mode::Import => "IMPORT",
        })
    }
}

/// Parses a level; 42203 for anything else.
pub fn parse_level(raw: &str) -> Result<CompatibilityLevel, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::InvalidCompatibilityLevel(raw.to_owned()))
}

/// The global level.
pub async fn global_level(store: &Store) -> Result<CompatibilityLevel, ApiError> {
    match store.setting(Setting::Compatibility, GLOBAL).await? {
        Some(raw) => parse_level(&raw),
        None => Ok(DEFAULT_LEVEL),
    }
}

/// The level that applies to `subject`.
pub async fn effective_level(store: &Store, subject: &str) -> Result<CompatibilityLevel, ApiError> {
    match store.setting(Setting::Compatibility, subject).await? {
        Some(raw) => parse_level(&raw),
        None => global_level(store).await,
    }
}

/// The global mode.
pub async fn global_mode(store: &Store) -> Result<Mode, ApiError> {
    match store.setting(Setting::Mode, GLOBAL).await? {
        Some(raw) => raw.parse(),
        None => Ok(Mode::ReadWrite),
    }
}

/// The mode that applies to `subject`.
pub async fn effective_mode(store: &Store, subject: &str) -> Result<Mode, ApiError> {
    match store.setting(Setting::Mode, subject).await? {
        Some(raw) => raw.parse(),
        None => global_mode(store).await,
    }
}

/// Refuses a write to `subject` when it is read-only.
pub async fn ensure_writable(store: &Store, subject: &str) -> Result<(), ApiError> {
    if effective_mode(store, subject).await? == Mode::ReadOnly {
        return Err(ApiError::OperationNotPermitted(format!(
            "Subject {subject} is in read-only mode"
        )));
    }
    Ok(())
}
