//! The registry's side of compatibility: parses the versions a check compares against and runs
//! the engine in `sagaway_contracts::compat`, turning each finding into a line a person can act
//! on (where, why, and in which direction).

use sagaway_contracts::compat::{self as engine, CompatibilityLevel, SchemaWithReferences};

use crate::error::ApiError;
use crate::schema::{self, Parsed};
use crate::store::VersionRecord;

/// Checks `new` against `existing` (oldest first, each with the texts it references) at
/// `level`; returns one line per incompatibility (empty when compatible).
pub fn check_history(
    level: CompatibilityLevel,
    new: &Parsed,
    existing: &[(VersionRecord, Vec<String>)],
) -> Result<Vec<String>, ApiError> {
    let parsed: Vec<(u32, Parsed)> = existing
        .iter()
        .map(|(version, referenced)| {
            let number = u32::try_from(version.version).unwrap_or_default();
            schema::parse(&version.schema, referenced).map(|parsed| (number, parsed))
        })
        .collect::<Result<_, _>>()?;
    let against: Vec<(u32, SchemaWithReferences<'_>)> = parsed
        .iter()
        .map(|(number, p)| {
            (
                *number,
                SchemaWithReferences {
                    schema: &p.schema,
                    references: &p.referenced,
                },
            )
        })
        .collect();
    let new = SchemaWithReferences {
        schema: &new.schema,
        references: &new.referenced,
    };
    Ok(engine::check_with_references(level, new, &against)
        .iter()
        .map(ToString::to_string)
        .collect())
}

/// The same direction without the transitive reach (a check against one named version).
pub fn non_transitive(level: CompatibilityLevel) -> CompatibilityLevel {
    match level {
        CompatibilityLevel::BackwardTransitive => CompatibilityLevel::Backward,
        CompatibilityLevel::ForwardTransitive => CompatibilityLevel::Forward,
        CompatibilityLevel::FullTransitive => CompatibilityLevel::Full,
        other => other,
    }
}
