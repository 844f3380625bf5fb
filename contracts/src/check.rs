//! The contract checks CI runs: the Avro schemas in `avro/` against an earlier version of them
//! (another directory, a git revision, or what a registry holds), and `proto/` against an
//! earlier version, each reported so that a person can act on it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use apache_avro::Schema;

use crate::compat::{self, CompatibilityLevel};
use crate::events::EventType;
use crate::proto_compat::{self, Severity};
use crate::topics;

/// One problem found by a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The subject (Avro) or `proto` element family it concerns.
    pub subject: String,
    /// The level checked at (Avro), or `WIRE` (proto).
    pub level: String,
    /// Where in the schema.
    pub location: String,
    /// Why it breaks a consumer.
    pub reason: String,
    /// False for warnings that do not fail the check.
    pub breaking: bool,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = if self.breaking { "BREAKING" } else { "warning" };
        write!(
            f,
            "{tag} {} [{}] at {}: {}",
            self.subject, self.level, self.location, self.reason
        )
    }
}

/// Why schemas could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A file could not be read.
    #[error("reading {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A schema does not parse.
    #[error("{path} is not a valid Avro schema: {reason}")]
    InvalidAvro { path: String, reason: String },
    /// `proto/` does not compile.
    #[error(transparent)]
    Proto(#[from] proto_compat::CompileError),
}

/// The Avro schemas of a directory's top-level `*.avsc` files, by subject.
#[derive(Debug, Default)]
pub struct AvroSet {
    /// Subject → (file name, schema text).
    pub schemas: BTreeMap<String, (String, String)>,
}

impl AvroSet {
    /// Reads `dir/*.avsc` (the shared metadata record in `dir/shared/` is inlined in each).
    pub fn from_dir(dir: &Path) -> Result<Self, CheckError> {
        let io = |path: &Path, source| CheckError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|err| io(dir, err))? {
            let path = entry.map_err(|err| io(dir, err))?.path();
            if path.extension().is_some_and(|ext| ext == "avsc") && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        let mut set = AvroSet::default();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|err| io(&path, err))?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            set.insert(&name, text)?;
        }
        Ok(set)
    }

    /// Adds one schema file's text.
    pub fn insert(&mut self, file: &str, text: String) -> Result<(), CheckError> {
        let schema = Schema::parse_str(&text).map_err(|err| CheckError::InvalidAvro {
            path: file.to_owned(),
            reason: err.to_string(),
        })?;
        let full_name = match &schema {
            Schema::Record(record) => record.name.fullname(None),
            _ => file.trim_end_matches(".avsc").to_owned(),
        };
        self.schemas
            .insert(subject_of(&full_name), (file.to_owned(), text));
        Ok(())
    }
}

/// The registry subject of a record: `<topic>-<full name>` for saga events, else the full name.
pub fn subject_of(full_name: &str) -> String {
    match EventType::from_name(full_name).filter(|event| event.full_name() == full_name) {
        Some(event) => topics::subject(event.topic(), full_name),
        None => full_name.to_owned(),
    }
}

/// Checks every schema of `new` against the same subject in `old` at `level`. A subject that
/// disappeared is breaking too: its consumers lose their contract.
pub fn check_avro(old: &AvroSet, new: &AvroSet, level: CompatibilityLevel) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (subject, (file, old_text)) in &old.schemas {
        let Some((_, new_text)) = new.schemas.get(subject) else {
            problems.push(Problem {
                subject: subject.clone(),
                level: level.to_string(),
                location: file.clone(),
                reason: "the schema was removed; consumers of this subject lose their contract"
                    .to_owned(),
                breaking: true,
            });
            continue;
        };
        let (Ok(old_schema), Ok(new_schema)) =
            (Schema::parse_str(old_text), Schema::parse_str(new_text))
        else {
            continue; // both parsed when the sets were built
        };
        for finding in compat::check(level, &new_schema, &[old_schema]) {
            let reason = match &finding.direction {
                Some(direction) => format!("{} ({direction})", finding.message),
                None => finding.message.clone(),
            };
            problems.push(Problem {
                subject: subject.clone(),
                level: level.to_string(),
                location: format!("{file}{}", finding.location),
                reason,
                breaking: true,
            });
        }
    }
    problems
}

/// Compiles both proto trees and reports wire-breaking changes (and warnings).
pub fn check_proto(old_dir: &Path, new_dir: &Path) -> Result<Vec<Problem>, CheckError> {
    let old = proto_compat::compile_dir(old_dir)?;
    let new = proto_compat::compile_dir(new_dir)?;
    Ok(proto_compat::compare(&old, &new)
        .into_iter()
        .map(|finding| Problem {
            subject: "proto".to_owned(),
            level: "WIRE".to_owned(),
            location: finding.location,
            reason: finding.message,
            breaking: finding.severity == Severity::Breaking,
        })
        .collect())
}
