//! The reader/writer walk: the Avro specification's schema-resolution rules, applied the way
//! Java's `org.apache.avro.SchemaCompatibility` applies them, with findings that say what to fix.

use std::collections::HashMap;

use apache_avro::Schema;
use apache_avro::schema::{EnumSchema, FixedSchema, Name, RecordField, RecordSchema};

use super::IncompatibilityKind;
use super::finding::{Finding, nest};
use super::names::{NameTable, Node};

/// The memo of record pairs, as Java keeps it: a pair already being checked is assumed
/// compatible (which ends recursion), a pair already checked reuses its findings.
#[derive(Debug)]
enum Memo {
    InProgress,
    Done(Vec<Finding>),
}

/// One reader/writer comparison, with the name tables of both sides and the record-pair memo.
#[derive(Debug)]
pub(super) struct Checker<'a> {
    reader: NameTable<'a>,
    writer: NameTable<'a>,
    records: HashMap<(usize, usize), Memo>,
}

impl<'a> Checker<'a> {
    pub(super) fn new(reader: NameTable<'a>, writer: NameTable<'a>) -> Self {
        Self {
            reader,
            writer,
            records: HashMap::new(),
        }
    }

    /// Everything that prevents data written with `writer` from being read with `reader`,
    /// located relative to this pair.
    pub(super) fn compare(&mut self, reader: &'a Schema, writer: &'a Schema) -> Vec<Finding> {
        let r = match self.reader.node(reader) {
            Ok(node) => node,
            Err(name) => return vec![unresolved("reader", name)],
        };
        let w = match self.writer.node(writer) {
            Ok(node) => node,
            Err(name) => return vec![unresolved("writer", name)],
        };
        match (r, w) {
            (Node::Union(reader_branches), Node::Union(writer_branches)) => {
                let mut findings = Vec::new();
                for (index, branch) in writer_branches.iter().enumerate() {
                    if let Err(closest) = self.union_reads(reader_branches, branch) {
                        let detail = format!(
                            "writer union branch {index} ({}) cannot be read by any branch of the \
                             reader {}{}",
                            self.writer.describe(branch),
                            self.reader.describe(reader),
                            self.closest_note(reader_branches, closest),
                        );
                        findings.push(
                            Finding::new(IncompatibilityKind::MissingUnionBranch, detail)
                                .at(&index.to_string()),
                        );
                    }
                }
                findings
            }
            (_, Node::Union(writer_branches)) => {
                let mut findings = Vec::new();
                for (index, branch) in writer_branches.iter().enumerate() {
                    let mut found = self.compare(reader, branch);
                    for finding in &mut found {
                        if finding.pointer.is_empty() {
                            finding.detail = format!(
                                "writer union branch {index} ({}) cannot be read: {}",
                                self.writer.describe(branch),
                                finding.detail
                            );
                        }
                    }
                    findings.extend(nest(found, &[&index.to_string()], None));
                }
                findings
            }
            (Node::Union(reader_branches), _) => match self.union_reads(reader_branches, writer) {
                Ok(()) => Vec::new(),
                Err(closest) => {
                    let detail = format!(
                        "reader {} has no branch that can read writer type {}{}",
                        self.reader.describe(reader),
                        self.writer.describe(writer),
                        self.closest_note(reader_branches, closest),
                    );
                    vec![Finding::new(
                        IncompatibilityKind::MissingUnionBranch,
                        detail,
                    )]
                }
            },
            (Node::Array(reader_items), Node::Array(writer_items)) => nest(
                self.compare(reader_items, writer_items),
                &["items"],
                Some("[]"),
            ),
            (Node::Map(reader_values), Node::Map(writer_values)) => nest(
                self.compare(reader_values, writer_values),
                &["values"],
                Some("{}"),
            ),
            (Node::Record(reader_record), Node::Record(writer_record)) => {
                self.records(reader_record, writer_record)
            }
            (Node::Enum(reader_enum), Node::Enum(writer_enum)) => {
                let mut findings: Vec<Finding> = name_mismatch(r, w).into_iter().collect();
                findings.extend(missing_symbols(reader_enum, writer_enum));
                findings
            }
            (Node::Fixed(reader_fixed), Node::Fixed(writer_fixed)) => {
                let mut findings: Vec<Finding> = name_mismatch(r, w).into_iter().collect();
                findings.extend(size_mismatch(reader_fixed, writer_fixed));
                findings
            }
            _ if promotes(w, r) => Vec::new(),
            _ => vec![self.type_mismatch(reader, writer, r, w)],
        }
    }

    /// Whether some branch of a reader union reads `writer` (not itself a union). Branches that
    /// match the writer by kind and name are tried first, then the others in declaration order
    /// (so promotions come after exact matches, as in Java's resolver). On failure, returns the
    /// findings of the best candidate (a same-kind, same-name branch), if there was one.
    fn union_reads(
        &mut self,
        reader_branches: &'a [Schema],
        writer: &'a Schema,
    ) -> Result<(), Option<(usize, Vec<Finding>)>> {
        let writer_node = self.writer.node(writer).ok();
        let preferred: Vec<bool> = reader_branches
            .iter()
            .map(
                |branch| match (self.reader.node(branch).ok(), writer_node) {
                    (Some(r), Some(w)) => same_kind_and_name(r, w),
                    _ => false,
                },
            )
            .collect();
        let order = (0..reader_branches.len())
            .filter(|index| preferred[*index])
            .chain((0..reader_branches.len()).filter(|index| !preferred[*index]));
        let mut closest = None;
        for index in order {
            let findings = self.compare(&reader_branches[index], writer);
            if findings.is_empty() {
                return Ok(());
            }
            if closest.is_none() && preferred[index] {
                closest = Some((index, findings));
            }
        }
        Err(closest)
    }

    /// Explains why the reader branch that looked like the match still cannot read the writer.
    fn closest_note(
        &self,
        reader_branches: &[Schema],
        closest: Option<(usize, Vec<Finding>)>,
    ) -> String {
        let Some((index, findings)) = closest else {
            return String::new();
        };
        let reasons: Vec<String> = findings
            .iter()
            .map(|finding| {
                let location = finding.location();
                if location == "/" {
                    finding.message()
                } else {
                    format!("{} (at {location} of that branch)", finding.message())
                }
            })
            .collect();
        let branch = reader_branches
            .get(index)
            .map(|branch| self.reader.describe(branch))
            .unwrap_or_default();
        format!(
            "; reader branch {index} ({branch}) matches it by kind and name but: {}",
            reasons.join("; ")
        )
    }

    fn records(&mut self, reader: &'a RecordSchema, writer: &'a RecordSchema) -> Vec<Finding> {
        let key = (
            std::ptr::from_ref(reader).addr(),
            std::ptr::from_ref(writer).addr(),
        );
        match self.records.get(&key) {
            Some(Memo::InProgress) => return Vec::new(),
            Some(Memo::Done(findings)) => return findings.clone(),
            None => {}
        }
        self.records.insert(key, Memo::InProgress);

        let mut findings: Vec<Finding> = name_mismatch(Node::Record(reader), Node::Record(writer))
            .into_iter()
            .collect();
        for (index, reader_field) in reader.fields.iter().enumerate() {
            let index = index.to_string();
            match writer_field(writer, reader_field) {
                Some(writer_field) => findings.extend(nest(
                    self.compare(&reader_field.schema, &writer_field.schema),
                    &["fields", &index, "type"],
                    Some(&reader_field.name),
                )),
                None if reader_field.default.is_some() => {}
                None => findings.push(
                    missing_default(reader_field, writer)
                        .at(&index)
                        .at("fields"),
                ),
            }
        }

        self.records.insert(key, Memo::Done(findings.clone()));
        findings
    }

    fn type_mismatch(&self, reader: &Schema, writer: &Schema, r: Node<'_>, w: Node<'_>) -> Finding {
        let reader_type = self.reader.describe(reader);
        let writer_type = self.writer.describe(writer);
        let detail = match (r.primitive_name(), w.primitive_name()) {
            (Some(_), Some(written)) => format!(
                "writer type {writer_type} cannot be promoted to reader type {reader_type} (data \
                 written as {written} can be read only as {})",
                readable_as(w)
            ),
            _ => format!("writer type {writer_type} cannot be read as reader type {reader_type}"),
        };
        Finding::new(IncompatibilityKind::TypeMismatch, detail)
    }
}

/// The writer field a reader field reads: the one with the reader field's name, else the first
/// one named by a reader field alias. Only the reader's aliases count (writer field aliases
/// are ignored, as in the specification and Java); a direct name match wins over aliases.
fn writer_field<'w>(
    writer: &'w RecordSchema,
    reader_field: &RecordField,
) -> Option<&'w RecordField> {
    let by_name = |name: &str| writer.fields.iter().find(|field| field.name == name);
    by_name(&reader_field.name)
        .or_else(|| reader_field.aliases.iter().find_map(|alias| by_name(alias)))
}

/// Allowed promotions (writer to reader), and identical primitives.
fn promotes(writer: Node<'_>, reader: Node<'_>) -> bool {
    match (writer.primitive_name(), reader.primitive_name()) {
        (Some(written), Some(read)) if written == read => true,
        _ => matches!(
            (writer, reader),
            (Node::Int, Node::Long | Node::Float | Node::Double)
                | (Node::Long, Node::Float | Node::Double)
                | (Node::Float, Node::Double)
                | (Node::String, Node::Bytes)
                | (Node::Bytes, Node::String)
        ),
    }
}

/// What a writer primitive can be read as, for messages.
fn readable_as(writer: Node<'_>) -> &'static str {
    match writer {
        Node::Int => "int, long, float or double",
        Node::Long => "long, float or double",
        Node::Float => "float or double",
        Node::String => "string or bytes",
        Node::Bytes => "bytes or string",
        Node::Null => "null, or by a union with a null branch",
        other => other.primitive_name().unwrap_or("itself"),
    }
}

/// Reader and writer named types match if their unqualified names are equal (the
/// specification's rule, and Java's `schemaNameEquals`), or if one of the reader's aliases
/// (full names, resolved against the reader's namespace) is the writer's full name.
fn names_match(
    reader: &Name,
    reader_aliases: &[apache_avro::schema::Alias],
    writer: &Name,
) -> bool {
    let writer_full = writer.fullname(None);
    reader.name() == writer.name()
        || reader_aliases
            .iter()
            .any(|alias| alias.fullname(None) == writer_full)
}

/// Union branch preference: same kind, and for named types, matching names.
fn same_kind_and_name(reader: Node<'_>, writer: Node<'_>) -> bool {
    if reader.kind_name() != writer.kind_name() {
        return false;
    }
    match (reader.name_and_aliases(), writer.name_and_aliases()) {
        (Some((reader_name, aliases)), Some((writer_name, _))) => {
            names_match(reader_name, aliases, writer_name)
        }
        _ => true,
    }
}

fn name_mismatch(reader: Node<'_>, writer: Node<'_>) -> Option<Finding> {
    let (reader_name, aliases) = reader.name_and_aliases()?;
    let (writer_name, _) = writer.name_and_aliases()?;
    if names_match(reader_name, aliases, writer_name) {
        return None;
    }
    let kind = reader.kind_name();
    let alias_note = if aliases.is_empty() {
        "the reader has no aliases".to_owned()
    } else {
        let names: Vec<String> = aliases.iter().map(|alias| alias.fullname(None)).collect();
        format!(
            "the reader's aliases [{}] do not include it",
            names.join(", ")
        )
    };
    let detail = format!(
        "reader {kind} '{reader_name}' cannot read writer {kind} '{writer_name}': their \
         unqualified names differ ('{}' vs '{}') and {alias_note}; if this is a rename, add \
         \"{writer_name}\" to the reader's aliases",
        reader_name.name(),
        writer_name.name()
    );
    Some(Finding::new(IncompatibilityKind::NameMismatch, detail).at("name"))
}

fn missing_symbols(reader: &EnumSchema, writer: &EnumSchema) -> Option<Finding> {
    let missing: Vec<&str> = writer
        .symbols
        .iter()
        .filter(|symbol| !reader.symbols.contains(symbol))
        .map(String::as_str)
        .collect();
    let reader_has_default = reader
        .default
        .as_ref()
        .is_some_and(|default| reader.symbols.contains(default));
    if missing.is_empty() || reader_has_default {
        return None;
    }
    let detail = format!(
        "reader enum '{}' lacks writer symbol(s) [{}] and has no default symbol to read them as; \
         add them to the reader's symbols or give the reader enum a \"default\"",
        reader.name,
        missing.join(", ")
    );
    Some(Finding::new(IncompatibilityKind::MissingEnumSymbols, detail).at("symbols"))
}

fn size_mismatch(reader: &FixedSchema, writer: &FixedSchema) -> Option<Finding> {
    if reader.size == writer.size {
        return None;
    }
    let detail = format!(
        "reader fixed '{}' has size {} but writer fixed '{}' has size {}; fixed sizes must be equal",
        reader.name, reader.size, writer.name, writer.size
    );
    Some(Finding::new(IncompatibilityKind::FixedSizeMismatch, detail).at("size"))
}

fn missing_default(reader_field: &RecordField, writer: &RecordSchema) -> Finding {
    let aliases = if reader_field.aliases.is_empty() {
        String::new()
    } else {
        format!(
            " or any of its aliases [{}]",
            reader_field.aliases.join(", ")
        )
    };
    let detail = format!(
        "reader field '{}' has no default and is missing from the writer (writer record '{}' has \
         no field '{}'{aliases}); give it a default, or an alias naming the writer field it \
         replaces",
        reader_field.name, writer.name, reader_field.name
    );
    Finding::new(IncompatibilityKind::ReaderFieldMissingDefaultValue, detail)
}

fn unresolved(side: &str, name: &Name) -> Finding {
    let detail = format!(
        "the {side} schema refers to '{name}' but does not define it; pass the schema that \
         defines it as a reference"
    );
    Finding::new(IncompatibilityKind::UnresolvedReference, detail)
}
