//! Avro schema compatibility: can data written with one schema be read with another, and does a
//! new schema version respect a subject's compatibility level (Confluent's seven levels).
//!
//! This is our own engine, used by the registry (`services/registry`) and by `contracts check`
//! in CI. It follows the Avro specification's "Schema Resolution" rules as Java's
//! `org.apache.avro.SchemaCompatibility` applies them (what the Confluent Schema Registry
//! exposes), on `apache_avro`'s parsed [`Schema`]:
//!
//! - **Primitives** match themselves; the writer-to-reader promotions are int to long, float or
//!   double; long to float or double; float to double; string to bytes and bytes to string.
//! - **Logical types** are compared by the type they annotate, as Java does: `timestamp-millis`
//!   reads and is read by `long`, `date` promotes to `long`, a `decimal` on bytes matches
//!   `bytes`, a `decimal`/`uuid`/`duration` on fixed is compared as that fixed (name and size).
//!   Changing a logical type over the same encoding (`timestamp-millis` to `timestamp-micros`,
//!   or a decimal's precision and scale) is therefore *not* reported: the bytes still decode.
//! - **Named types** (records, enums, fixed) match when their unqualified names are equal (the
//!   specification says "(unqualified) name" and Java compares `getName()`, so moving a type to
//!   another namespace is compatible) or when one of the **reader's** aliases, as a full name
//!   (an alias without a dot takes the reader type's namespace), equals the writer's full name.
//!   Writer aliases play no part, as in the specification and Java.
//! - **Records**: each reader field reads the writer field with its name or, failing that, the
//!   first writer field named by one of the reader field's aliases (a direct name match wins;
//!   Java throws when both match different fields). A reader field with no writer field needs a
//!   default. Writer fields the reader lacks are skipped.
//! - **Enums**: every writer symbol must be a reader symbol, unless the reader enum has a
//!   default. **Fixed**: sizes must be equal. **Arrays** and **maps**: items and values recurse.
//! - **Unions**: each branch of a writer union must be readable (by the reader, or by some branch
//!   of a reader union); a non-union writer needs one reader branch that reads it. Reader
//!   branches of the writer's kind (and, for named types, name) are tried first, then the others
//!   in order, so a promotion is only used when no exact match reads the data. When a branch that
//!   matches by name still cannot read the writer, the report says why.
//! - **Recursion**: a record pair already being compared is assumed compatible (as in Java), and
//!   a pair already compared reuses its result, so recursive types terminate. `Schema::Ref`s are
//!   resolved through a table of full names (and aliases) built from each side.
//!
//! Locations are JSON pointers into the reader schema in Java's style: `/` for the root,
//! `/fields/2/type/items`, `/name`, `/symbols`, `/size`; a field missing its default is reported
//! at `/fields/2`, and a writer union branch that cannot be read at the branch's index appended
//! (`/fields/0/type/1`).

mod checker;
mod finding;
mod names;

use std::fmt;
use std::str::FromStr;

use apache_avro::Schema;

use checker::Checker;
use names::NameTable;

/// Confluent's compatibility levels. [`FromStr`] and [`fmt::Display`] use Confluent's spelling
/// (`NONE`, `BACKWARD`, `BACKWARD_TRANSITIVE`, `FORWARD`, `FORWARD_TRANSITIVE`, `FULL`,
/// `FULL_TRANSITIVE`); parsing ignores case. The default is `BACKWARD`, as in Confluent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CompatibilityLevel {
    /// No check: every new schema is accepted.
    None,
    /// The new schema reads data written with the latest version.
    #[default]
    Backward,
    /// The new schema reads data written with every version.
    BackwardTransitive,
    /// The latest version reads data written with the new schema.
    Forward,
    /// Every version reads data written with the new schema.
    ForwardTransitive,
    /// Backward and forward against the latest version.
    Full,
    /// Backward and forward against every version.
    FullTransitive,
}

impl CompatibilityLevel {
    /// Every level, in Confluent's documentation order.
    pub const ALL: [CompatibilityLevel; 7] = [
        CompatibilityLevel::None,
        CompatibilityLevel::Backward,
        CompatibilityLevel::BackwardTransitive,
        CompatibilityLevel::Forward,
        CompatibilityLevel::ForwardTransitive,
        CompatibilityLevel::Full,
        CompatibilityLevel::FullTransitive,
    ];

    /// Confluent's spelling of the level.
    pub const fn as_str(self) -> &'static str {
        match self {
            CompatibilityLevel::None => "NONE",
            CompatibilityLevel::Backward => "BACKWARD",
            CompatibilityLevel::BackwardTransitive => "BACKWARD_TRANSITIVE",
            CompatibilityLevel::Forward => "FORWARD",
            CompatibilityLevel::ForwardTransitive => "FORWARD_TRANSITIVE",
            CompatibilityLevel::Full => "FULL",
            CompatibilityLevel::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    /// Whether the new schema must read data written with existing versions.
    pub const fn checks_backward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Backward
                | CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }

    /// Whether existing versions must read data written with the new schema.
    pub const fn checks_forward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Forward
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }

    /// Whether the check covers every existing version rather than only the latest.
    pub const fn is_transitive(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::FullTransitive
        )
    }
}

impl fmt::Display for CompatibilityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no compatibility level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown compatibility level '{value}': expected one of NONE, BACKWARD, BACKWARD_TRANSITIVE, \
     FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE"
)]
pub struct ParseCompatibilityLevelError {
    value: String,
}

impl ParseCompatibilityLevelError {
    /// The rejected text.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl FromStr for CompatibilityLevel {
    type Err = ParseCompatibilityLevelError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        CompatibilityLevel::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| ParseCompatibilityLevelError {
                value: text.to_owned(),
            })
    }
}

impl serde::Serialize for CompatibilityLevel {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for CompatibilityLevel {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What kind of rule a reader/writer pair breaks. [`fmt::Display`] gives Java's and Confluent's
/// names (`TYPE_MISMATCH`, `READER_FIELD_MISSING_DEFAULT_VALUE`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncompatibilityKind {
    /// The writer's type cannot be read as, or promoted to, the reader's type.
    TypeMismatch,
    /// Named types whose names differ, with no reader alias naming the writer type.
    NameMismatch,
    /// Fixed types of different sizes.
    FixedSizeMismatch,
    /// Writer enum symbols the reader lacks, and the reader enum has no default.
    MissingEnumSymbols,
    /// A writer type (or writer union branch) no reader union branch can read.
    MissingUnionBranch,
    /// A reader field with no default and no corresponding writer field.
    ReaderFieldMissingDefaultValue,
    /// A named-type reference with no definition in the schema (or its references).
    UnresolvedReference,
}

impl IncompatibilityKind {
    /// Java's and Confluent's name of the kind.
    pub const fn as_str(self) -> &'static str {
        match self {
            IncompatibilityKind::TypeMismatch => "TYPE_MISMATCH",
            IncompatibilityKind::NameMismatch => "NAME_MISMATCH",
            IncompatibilityKind::FixedSizeMismatch => "FIXED_SIZE_MISMATCH",
            IncompatibilityKind::MissingEnumSymbols => "MISSING_ENUM_SYMBOLS",
            IncompatibilityKind::MissingUnionBranch => "MISSING_UNION_BRANCH",
            IncompatibilityKind::ReaderFieldMissingDefaultValue => {
                "READER_FIELD_MISSING_DEFAULT_VALUE"
            }
            IncompatibilityKind::UnresolvedReference => "UNRESOLVED_REFERENCE",
        }
    }
}

impl fmt::Display for IncompatibilityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason data written with one schema cannot be read with another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incompatibility {
    /// The rule broken.
    pub kind: IncompatibilityKind,
    /// JSON-pointer-like path into the reader schema, e.g. `/fields/2/type/items` (`/` is the
    /// root), in the style of Java's `SchemaCompatibility`.
    pub location: String,
    /// What is wrong and why, naming the fields and types involved, and what would fix it.
    pub message: String,
    /// Which pair of schemas was checked, filled by [`check`]: e.g. "new schema cannot read
    /// data written with version 3" or "version 3 cannot read data written with the new
    /// schema". `None` from [`reader_writer_incompatibilities`].
    pub direction: Option<String>,
}

impl fmt::Display for Incompatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(direction) = &self.direction {
            write!(f, "{direction}: ")?;
        }
        write!(f, "{} at {}: {}", self.kind, self.location, self.message)
    }
}

/// Can data written with `writer` be read with `reader`? Empty = compatible.
///
/// Named-type references must be defined inside each schema; for schemas that use registry
/// references, see [`reader_writer_incompatibilities_with_references`].
pub fn reader_writer_incompatibilities(reader: &Schema, writer: &Schema) -> Vec<Incompatibility> {
    reader_writer_incompatibilities_with_references(reader, &[], writer, &[])
}

/// Like [`reader_writer_incompatibilities`], for schemas whose `Schema::Ref`s may name types
/// defined in other schemas (Confluent schema references, or `Schema::parse_str_with_list`):
/// each side's references are searched for definitions after the schema itself.
pub fn reader_writer_incompatibilities_with_references(
    reader: &Schema,
    reader_references: &[Schema],
    writer: &Schema,
    writer_references: &[Schema],
) -> Vec<Incompatibility> {
    let reader_names = NameTable::build(std::iter::once(reader).chain(reader_references));
    let writer_names = NameTable::build(std::iter::once(writer).chain(writer_references));
    Checker::new(reader_names, writer_names)
        .compare(reader, writer)
        .into_iter()
        .map(|finding| Incompatibility {
            kind: finding.kind,
            location: finding.location(),
            message: finding.message(),
            direction: None,
        })
        .collect()
}

/// Checks `new` against `existing` (oldest first) at `level`. BACKWARD: new reads latest;
/// FORWARD: latest reads new; FULL: both; *_TRANSITIVE: against every existing version; NONE:
/// always compatible. Empty = compatible.
///
/// Existing versions are named "version N", N counting from 1 for the oldest; use
/// [`check_versions`] when the registry's version numbers differ (deleted versions).
pub fn check(level: CompatibilityLevel, new: &Schema, existing: &[Schema]) -> Vec<Incompatibility> {
    let versions: Vec<(u32, &Schema)> = (1..).zip(existing).collect();
    check_versions(level, new, &versions)
}

/// Like [`check`], with each existing schema given with its version number (oldest first).
/// Transitive levels report every version that breaks, oldest first; within a version, the
/// backward findings come before the forward ones.
pub fn check_versions(
    level: CompatibilityLevel,
    new: &Schema,
    existing: &[(u32, &Schema)],
) -> Vec<Incompatibility> {
    let existing: Vec<(u32, SchemaWithReferences<'_>)> = existing
        .iter()
        .map(|(version, schema)| (*version, SchemaWithReferences::new(schema)))
        .collect();
    check_with_references(level, SchemaWithReferences::new(new), &existing)
}

/// A schema and the schemas its references resolve to (Confluent schema references, in the
/// order `Schema::parse_str_with_list` returns them).
#[derive(Debug, Clone, Copy)]
pub struct SchemaWithReferences<'a> {
    /// The schema itself.
    pub schema: &'a Schema,
    /// The schemas defining the named types it refers to but does not define.
    pub references: &'a [Schema],
}

impl<'a> SchemaWithReferences<'a> {
    /// A schema that defines every named type it uses.
    pub fn new(schema: &'a Schema) -> Self {
        Self {
            schema,
            references: &[],
        }
    }
}

/// Like [`check_versions`], for schemas that use references.
pub fn check_with_references(
    level: CompatibilityLevel,
    new: SchemaWithReferences<'_>,
    existing: &[(u32, SchemaWithReferences<'_>)],
) -> Vec<Incompatibility> {
    let against = if level.is_transitive() {
        existing
    } else {
        existing
            .last()
            .map(std::slice::from_ref)
            .unwrap_or_default()
    };
    let mut found = Vec::new();
    for (version, old) in against {
        if level.checks_backward() {
            let direction = format!("new schema cannot read data written with version {version}");
            let incompatibilities = reader_writer_incompatibilities_with_references(
                new.schema,
                new.references,
                old.schema,
                old.references,
            );
            found.extend(with_direction(incompatibilities, &direction));
        }
        if level.checks_forward() {
            let direction =
                format!("version {version} cannot read data written with the new schema");
            let incompatibilities = reader_writer_incompatibilities_with_references(
                old.schema,
                old.references,
                new.schema,
                new.references,
            );
            found.extend(with_direction(incompatibilities, &direction));
        }
    }
    found
}

fn with_direction(found: Vec<Incompatibility>, direction: &str) -> Vec<Incompatibility> {
    found
        .into_iter()
        .map(|incompatibility| Incompatibility {
            direction: Some(direction.to_owned()),
            ..incompatibility
        })
        .collect()
}
