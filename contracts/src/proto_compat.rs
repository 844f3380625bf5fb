//! Wire-breaking changes between two versions of `proto/`, found by comparing their descriptor
//! sets: the check CI runs so that a published API never breaks a client in any language.
//!
//! Refused (each with a readable location): a service or RPC removed; an RPC's request or
//! response type or streaming changed; a message removed; a field removed without reserving its
//! number, renumbered, or given a type the wire cannot carry over; a field moved between
//! singular and repeated; an enum value number removed without being reserved. Wire-compatible
//! changes pass: new fields, services, RPCs, messages and enum values; renaming a field but
//! keeping its number (JSON clients notice, the wire does not; reported as a warning);
//! changing between integer types that share an encoding.

use std::collections::BTreeMap;
use std::path::Path;

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorSet};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Visible to some clients (JSON names) but not on the wire.
    Warning,
    /// Breaks existing clients on the wire.
    Breaking,
}

/// One difference worth reporting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Breaking or warning.
    pub severity: Severity,
    /// Where: a fully qualified element, e.g. `sagaway.order.v1.Order.status (3)`.
    pub location: String,
    /// What changed and why it matters.
    pub message: String,
}

/// Why `proto/` could not be compiled.
#[derive(Debug, thiserror::Error)]
#[error("compiling the protos under {dir} failed: {reason}")]
pub struct CompileError {
    /// The directory.
    pub dir: String,
    /// protox's message.
    pub reason: String,
}

/// Compiles every `.proto` under `dir` (imports resolved from `dir`) into a descriptor set.
pub fn compile_dir(dir: &Path) -> Result<FileDescriptorSet, CompileError> {
    let error = |reason: String| CompileError {
        dir: dir.display().to_string(),
        reason,
    };
    let mut files = Vec::new();
    collect(dir, dir, &mut files).map_err(|err| error(err.to_string()))?;
    files.sort();
    protox::compile(&files, [dir]).map_err(|err| error(err.to_string()))
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            out.push(
                path.strip_prefix(root)
                    .map(Path::to_path_buf)
                    .unwrap_or(path),
            );
        }
    }
    Ok(())
}

/// Everything in `new` that breaks (or may surprise) a client built against `old`. Files of
/// the `google.*` packages are not ours to police and are skipped.
pub fn compare(old: &FileDescriptorSet, new: &FileDescriptorSet) -> Vec<Finding> {
    let old = Index::of(old);
    let new = Index::of(new);
    let mut findings = Vec::new();
    for (name, old_service) in &old.services {
        let Some(new_service) = new.services.get(name) else {
            findings.push(breaking(
                name,
                "service removed; clients calling it get UNIMPLEMENTED",
            ));
            continue;
        };
        for old_method in &old_service.method {
            let method_name = old_method.name();
            let location = format!("{name}.{method_name}");
            let Some(new_method) = new_service.method.iter().find(|m| m.name() == method_name)
            else {
                findings.push(breaking(
                    &location,
                    "RPC removed; clients calling it get UNIMPLEMENTED",
                ));
                continue;
            };
            for (what, before, after) in [
                (
                    "request type",
                    old_method.input_type(),
                    new_method.input_type(),
                ),
                (
                    "response type",
                    old_method.output_type(),
                    new_method.output_type(),
                ),
            ] {
                if before != after {
                    findings.push(breaking(
                        &location,
                        &format!("{what} changed from {} to {}", trim(before), trim(after)),
                    ));
                }
            }
            if old_method.client_streaming() != new_method.client_streaming()
                || old_method.server_streaming() != new_method.server_streaming()
            {
                findings.push(breaking(&location, "streaming changed"));
            }
        }
    }
    for (name, old_message) in &old.messages {
        match new.messages.get(name) {
            None => findings.push(breaking(
                name,
                "message removed; fields and RPCs that used it break",
            )),
            Some(new_message) => compare_messages(name, old_message, new_message, &mut findings),
        }
    }
    for (name, old_enum) in &old.enums {
        match new.enums.get(name) {
            None => findings.push(breaking(name, "enum removed")),
            Some(new_enum) => compare_enums(name, old_enum, new_enum, &mut findings),
        }
    }
    findings
}

fn compare_messages(
    name: &str,
    old: &DescriptorProto,
    new: &DescriptorProto,
    findings: &mut Vec<Finding>,
) {
    for old_field in &old.field {
        let location = format!("{name}.{} ({})", old_field.name(), old_field.number());
        match new.field.iter().find(|f| f.number() == old_field.number()) {
            None => {
                if let Some(moved) = new.field.iter().find(|f| f.name() == old_field.name()) {
                    findings.push(breaking(
                        &location,
                        &format!(
                            "field renumbered from {} to {}; old clients read nothing",
                            old_field.number(),
                            moved.number()
                        ),
                    ));
                } else if !is_reserved(new, old_field.number()) {
                    findings.push(breaking(
                        &location,
                        "field removed without reserving its number; a later field could reuse it and be misread",
                    ));
                }
            }
            Some(new_field) => {
                if !wire_compatible(old_field, new_field) {
                    findings.push(breaking(
                        &location,
                        &format!(
                            "type changed from {} to {}",
                            describe(old_field),
                            describe(new_field)
                        ),
                    ));
                } else if repeated(old_field) != repeated(new_field) {
                    findings.push(breaking(&location, "changed between singular and repeated"));
                } else if old_field.name() != new_field.name() {
                    findings.push(Finding {
                        severity: Severity::Warning,
                        location,
                        message: format!(
                            "renamed to {}; the wire is unchanged but JSON clients and the gateway see a new name",
                            new_field.name()
                        ),
                    });
                }
            }
        }
    }
}

fn compare_enums(
    name: &str,
    old: &EnumDescriptorProto,
    new: &EnumDescriptorProto,
    findings: &mut Vec<Finding>,
) {
    for value in &old.value {
        let present = new.value.iter().any(|v| v.number() == value.number());
        let reserved = new
            .reserved_range
            .iter()
            .any(|r| (r.start()..=r.end()).contains(&value.number()));
        if !present && !reserved {
            findings.push(breaking(
                &format!("{name}.{} ({})", value.name(), value.number()),
                "enum value removed without reserving its number",
            ));
        }
    }
}

fn is_reserved(message: &DescriptorProto, number: i32) -> bool {
    // Message reserved ranges are end-exclusive.
    message
        .reserved_range
        .iter()
        .any(|r| (r.start()..r.end()).contains(&number))
}

fn repeated(field: &FieldDescriptorProto) -> bool {
    field.label() == Label::Repeated
}

/// Types that share a wire encoding, so a change between them is not breaking.
fn wire_group(field: &FieldDescriptorProto) -> String {
    match field.r#type() {
        Type::Int32 | Type::Uint32 | Type::Int64 | Type::Uint64 | Type::Bool => "varint".into(),
        Type::Sint32 | Type::Sint64 => "zigzag".into(),
        Type::Fixed32 | Type::Sfixed32 => "fixed32".into(),
        Type::Fixed64 | Type::Sfixed64 => "fixed64".into(),
        Type::String | Type::Bytes => "length-delimited".into(),
        Type::Message | Type::Group => format!("message {}", field.type_name()),
        Type::Enum => format!("enum {}", field.type_name()),
        Type::Float => "float".into(),
        Type::Double => "double".into(),
    }
}

fn wire_compatible(old: &FieldDescriptorProto, new: &FieldDescriptorProto) -> bool {
    wire_group(old) == wire_group(new)
}

fn describe(field: &FieldDescriptorProto) -> String {
    match field.r#type() {
        Type::Message | Type::Group | Type::Enum => trim(field.type_name()).to_owned(),
        other => format!("{other:?}").to_lowercase(),
    }
}

fn trim(type_name: &str) -> &str {
    type_name.trim_start_matches('.')
}

fn breaking(location: &str, message: &str) -> Finding {
    Finding {
        severity: Severity::Breaking,
        location: location.to_owned(),
        message: message.to_owned(),
    }
}

/// Services, messages and enums by fully qualified name (nested ones included).
struct Index<'a> {
    services: BTreeMap<String, &'a prost_types::ServiceDescriptorProto>,
    messages: BTreeMap<String, &'a DescriptorProto>,
    enums: BTreeMap<String, &'a EnumDescriptorProto>,
}

impl<'a> Index<'a> {
    fn of(set: &'a FileDescriptorSet) -> Self {
        let mut index = Index {
            services: BTreeMap::new(),
            messages: BTreeMap::new(),
            enums: BTreeMap::new(),
        };
        for file in set
            .file
            .iter()
            .filter(|f| !f.package().starts_with("google."))
        {
            let package = file.package();
            for service in &file.service {
                index
                    .services
                    .insert(qualify(package, service.name()), service);
            }
            for message in &file.message_type {
                index.add_message(&qualify(package, message.name()), message);
            }
            for enumeration in &file.enum_type {
                index
                    .enums
                    .insert(qualify(package, enumeration.name()), enumeration);
            }
        }
        index
    }

    fn add_message(&mut self, name: &str, message: &'a DescriptorProto) {
        self.messages.insert(name.to_owned(), message);
        for nested in &message.nested_type {
            // Map entries are synthetic; their key/value fields are compared through the map field.
            if nested.options.as_ref().and_then(|o| o.map_entry) != Some(true) {
                self.add_message(&format!("{name}.{}", nested.name()), nested);
            }
        }
        for enumeration in &message.enum_type {
            self.enums
                .insert(format!("{name}.{}", enumeration.name()), enumeration);
        }
    }
}

fn qualify(package: &str, name: &str) -> String {
    if package.is_empty() {
        name.to_owned()
    } else {
        format!("{package}.{name}")
    }
}
