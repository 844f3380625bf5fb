//! Named-type lookup and the physical view of a schema: how the checker sees through
//! `Schema::Ref` and logical types to the Avro type that is actually encoded.

use std::collections::HashMap;

use apache_avro::Schema;
use apache_avro::schema::{
    Alias, DecimalSchema, EnumSchema, FixedSchema, InnerDecimalSchema, Name, RecordSchema,
    UuidSchema,
};

/// A named type's definition, found through its full name (or one of its aliases' full names).
#[derive(Debug, Clone, Copy)]
enum Named<'a> {
    Record(&'a RecordSchema),
    Enum(&'a EnumSchema),
    Fixed(&'a FixedSchema),
}

/// The encoded (physical) type of a schema node: logical types are replaced by the type they
/// annotate and references by their definition.
#[derive(Debug, Clone, Copy)]
pub(super) enum Node<'a> {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Array(&'a Schema),
    Map(&'a Schema),
    Union(&'a [Schema]),
    Record(&'a RecordSchema),
    Enum(&'a EnumSchema),
    Fixed(&'a FixedSchema),
}

impl Node<'_> {
    /// The primitive type name, if this node is a primitive.
    pub(super) fn primitive_name(self) -> Option<&'static str> {
        Some(match self {
            Node::Null => "null",
            Node::Boolean => "boolean",
            Node::Int => "int",
            Node::Long => "long",
            Node::Float => "float",
            Node::Double => "double",
            Node::Bytes => "bytes",
            Node::String => "string",
            _ => return None,
        })
    }

    /// The Avro type name of this node's kind ("record", "array", "int", ...).
    pub(super) fn kind_name(self) -> &'static str {
        match self {
            Node::Array(_) => "array",
            Node::Map(_) => "map",
            Node::Union(_) => "union",
            Node::Record(_) => "record",
            Node::Enum(_) => "enum",
            Node::Fixed(_) => "fixed",
            primitive => primitive.primitive_name().unwrap_or("unknown"),
        }
    }
}

impl<'a> Node<'a> {
    /// The full name and the aliases of a named type (record, enum, fixed).
    pub(super) fn name_and_aliases(self) -> Option<(&'a Name, &'a [Alias])> {
        let (name, aliases) = match self {
            Node::Record(record) => (&record.name, &record.aliases),
            Node::Enum(enumeration) => (&enumeration.name, &enumeration.aliases),
            Node::Fixed(fixed) => (&fixed.name, &fixed.aliases),
            _ => return None,
        };
        Some((name, aliases.as_deref().unwrap_or_default()))
    }
}

/// Every named type defined in one schema (plus the schemas it references), by full name.
#[derive(Debug)]
pub(super) struct NameTable<'a> {
    defined: HashMap<String, Named<'a>>,
}

impl<'a> NameTable<'a> {
    /// Walks `schemas` and records every record, enum and fixed definition under its full name
    /// and, where no real name takes precedence, under its aliases' full names (the parser emits
    /// a `Ref` to an alias when a schema refers to a type through one).
    pub(super) fn build(schemas: impl IntoIterator<Item = &'a Schema>) -> Self {
        let mut defined = HashMap::new();
        let mut aliases = Vec::new();
        for schema in schemas {
            collect(schema, &mut defined, &mut aliases);
        }
        for (alias, named) in aliases {
            defined.entry(alias).or_insert(named);
        }
        Self { defined }
    }

    /// The physical view of `schema`; `Err` carries the name of a reference with no definition.
    pub(super) fn node(&self, schema: &'a Schema) -> Result<Node<'a>, &'a Name> {
        Ok(match schema {
            Schema::Null => Node::Null,
            Schema::Boolean => Node::Boolean,
            Schema::Int | Schema::Date | Schema::TimeMillis => Node::Int,
            Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => Node::Long,
            Schema::Float => Node::Float,
            Schema::Double => Node::Double,
            Schema::Bytes
            | Schema::BigDecimal
            | Schema::Uuid(UuidSchema::Bytes)
            | Schema::Decimal(DecimalSchema {
                inner: InnerDecimalSchema::Bytes,
                ..
            }) => Node::Bytes,
            Schema::String | Schema::Uuid(UuidSchema::String) => Node::String,
            Schema::Array(array) => Node::Array(&array.items),
            Schema::Map(map) => Node::Map(&map.types),
            Schema::Union(union) => Node::Union(union.variants()),
            Schema::Record(record) => Node::Record(record),
            Schema::Enum(enumeration) => Node::Enum(enumeration),
            Schema::Fixed(fixed)
            | Schema::Duration(fixed)
            | Schema::Uuid(UuidSchema::Fixed(fixed))
            | Schema::Decimal(DecimalSchema {
                inner: InnerDecimalSchema::Fixed(fixed),
                ..
            }) => Node::Fixed(fixed),
            Schema::Ref { name } => match self.defined.get(&name.fullname(None)) {
                Some(Named::Record(record)) => Node::Record(record),
                Some(Named::Enum(enumeration)) => Node::Enum(enumeration),
                Some(Named::Fixed(fixed)) => Node::Fixed(fixed),
                None => return Err(name),
            },
        })
    }

    /// A short human description of `schema` for messages: `int`, `long (timestamp-millis)`,
    /// `record 'sagaway.events.Order'`, `array<string>`, `union [null, string]`.
    pub(super) fn describe(&self, schema: &Schema) -> String {
        match schema {
            Schema::Null => "null".into(),
            Schema::Boolean => "boolean".into(),
            Schema::Int => "int".into(),
            Schema::Long => "long".into(),
            Schema::Float => "float".into(),
            Schema::Double => "double".into(),
            Schema::Bytes => "bytes".into(),
            Schema::String => "string".into(),
            Schema::Date => "int (date)".into(),
            Schema::TimeMillis => "int (time-millis)".into(),
            Schema::TimeMicros => "long (time-micros)".into(),
            Schema::TimestampMillis => "long (timestamp-millis)".into(),
            Schema::TimestampMicros => "long (timestamp-micros)".into(),
            Schema::TimestampNanos => "long (timestamp-nanos)".into(),
            Schema::LocalTimestampMillis => "long (local-timestamp-millis)".into(),
            Schema::LocalTimestampMicros => "long (local-timestamp-micros)".into(),
            Schema::LocalTimestampNanos => "long (local-timestamp-nanos)".into(),
            Schema::BigDecimal => "bytes (big-decimal)".into(),
            Schema::Uuid(UuidSchema::String) => "string (uuid)".into(),
            Schema::Uuid(UuidSchema::Bytes) => "bytes (uuid)".into(),
            Schema::Uuid(UuidSchema::Fixed(fixed)) => format!("fixed '{}' (uuid)", fixed.name),
            Schema::Duration(fixed) => format!("fixed '{}' (duration)", fixed.name),
            Schema::Decimal(decimal) => {
                let logical = format!("decimal({}, {})", decimal.precision, decimal.scale);
                match &decimal.inner {
                    InnerDecimalSchema::Bytes => format!("bytes ({logical})"),
                    InnerDecimalSchema::Fixed(fixed) => {
                        format!("fixed '{}' ({logical})", fixed.name)
                    }
                }
            }
            Schema::Array(array) => format!("array<{}>", self.describe(&array.items)),
            Schema::Map(map) => format!("map<{}>", self.describe(&map.types)),
            Schema::Union(union) => {
                let branches: Vec<String> = union
                    .variants()
                    .iter()
                    .map(|branch| self.describe(branch))
                    .collect();
                format!("union [{}]", branches.join(", "))
            }
            Schema::Record(record) => format!("record '{}'", record.name),
            Schema::Enum(enumeration) => format!("enum '{}'", enumeration.name),
            Schema::Fixed(fixed) => format!("fixed '{}'", fixed.name),
            Schema::Ref { name } => match self.defined.get(&name.fullname(None)) {
                Some(Named::Record(record)) => format!("record '{}'", record.name),
                Some(Named::Enum(enumeration)) => format!("enum '{}'", enumeration.name),
                Some(Named::Fixed(fixed)) => format!("fixed '{}'", fixed.name),
                None => format!("undefined type '{name}'"),
            },
        }
    }
}

fn collect<'a>(
    schema: &'a Schema,
    defined: &mut HashMap<String, Named<'a>>,
    aliases: &mut Vec<(String, Named<'a>)>,
) {
    let named = match schema {
        Schema::Record(record) => Named::Record(record),
        Schema::Enum(enumeration) => Named::Enum(enumeration),
        Schema::Fixed(fixed)
        | Schema::Duration(fixed)
        | Schema::Uuid(UuidSchema::Fixed(fixed))
        | Schema::Decimal(DecimalSchema {
            inner: InnerDecimalSchema::Fixed(fixed),
            ..
        }) => Named::Fixed(fixed),
        Schema::Array(array) => return collect(&array.items, defined, aliases),
        Schema::Map(map) => return collect(&map.types, defined, aliases),
        Schema::Union(union) => {
            for branch in union.variants() {
                collect(branch, defined, aliases);
            }
            return;
        }
        _ => return,
    };
    let (name, alias_names) = match named {
        Named::Record(record) => (&record.name, &record.aliases),
        Named::Enum(enumeration) => (&enumeration.name, &enumeration.aliases),
        Named::Fixed(fixed) => (&fixed.name, &fixed.aliases),
    };
    // The first definition of a name wins, as the parser's references point to it.
    defined.entry(name.fullname(None)).or_insert(named);
    for alias in alias_names.as_deref().unwrap_or_default() {
        aliases.push((alias.fullname(None), named));
    }
    if let Named::Record(record) = named {
        for field in &record.fields {
            collect(&field.schema, defined, aliases);
        }
    }
}
