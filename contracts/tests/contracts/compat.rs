//! The Avro compatibility engine against the specification's resolution rules, one table row per
//! rule (reader, writer, expected findings), then the seven Confluent levels over version
//! histories, then the level names.

use apache_avro::Schema;
use sagaway_contracts::compat::{
    CompatibilityLevel, Incompatibility, IncompatibilityKind, SchemaWithReferences, check,
    check_versions, check_with_references, reader_writer_incompatibilities,
    reader_writer_incompatibilities_with_references,
};
use sagaway_contracts::events::EventType;

use IncompatibilityKind::{
    FixedSizeMismatch, MissingEnumSymbols, MissingUnionBranch, NameMismatch,
    ReaderFieldMissingDefaultValue, TypeMismatch, UnresolvedReference,
};

fn parse(json: &str) -> Schema {
    Schema::parse_str(json)
        .unwrap_or_else(|err| panic!("test schema does not parse: {err}\n{json}"))
}

/// A record `test.R` with the given fields (JSON objects, comma-separated).
fn record(fields: &str) -> String {
    format!(r#"{{"type":"record","name":"R","namespace":"test","fields":[{fields}]}}"#)
}

/// A record `test.R` with one field `f` of the given type.
fn field_of(field_type: &str) -> String {
    record(&format!(r#"{{"name":"f","type":{field_type}}}"#))
}

/// What a row expects: no finding, or exactly these (kind, location) pairs in this order.
enum Expected {
    Compatible,
    Incompatible(&'static [(IncompatibilityKind, &'static str)]),
}

fn render(found: &[Incompatibility]) -> String {
    found
        .iter()
        .map(|incompatibility| format!("  {incompatibility}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_row(name: &str, reader: impl AsRef<str>, writer: impl AsRef<str>, expected: Expected) {
    let found = reader_writer_incompatibilities(&parse(reader.as_ref()), &parse(writer.as_ref()));
    let got: Vec<(IncompatibilityKind, &str)> = found
        .iter()
        .map(|incompatibility| (incompatibility.kind, incompatibility.location.as_str()))
        .collect();
    let want: &[(IncompatibilityKind, &str)] = match expected {
        Expected::Compatible => &[],
        Expected::Incompatible(want) => want,
    };
    assert_eq!(got, want, "row `{name}` found:\n{}", render(&found));
    for incompatibility in &found {
        assert!(
            !incompatibility.message.is_empty(),
            "row `{name}`: empty message"
        );
        assert_eq!(
            incompatibility.direction, None,
            "row `{name}`: direction set"
        );
    }
}

/// One `#[test]` per row: `name: reader JSON, writer JSON => expected;`.
macro_rules! resolution_table {
    ($($name:ident: reader $reader:expr, writer $writer:expr => $expected:expr;)+) => {
        $(
            #[test]
            fn $name() {
                assert_row(stringify!($name), $reader, $writer, $expected);
            }
        )+
    };
}

use Expected::{Compatible, Incompatible};

const LINKED_LIST_LONG: &str = r#"{"type":"record","name":"Node","namespace":"test","fields":[
    {"name":"value","type":"long"},
    {"name":"next","type":["null","Node"],"default":null}]}"#;
const LINKED_LIST_INT: &str = r#"{"type":"record","name":"Node","namespace":"test","fields":[
    {"name":"value","type":"int"},
    {"name":"next","type":["null","Node"],"default":null}]}"#;
const LINKED_LIST_LONG_WITH_LABEL: &str = r#"{"type":"record","name":"Node","namespace":"test","fields":[
    {"name":"value","type":"long"},
    {"name":"next","type":["null","Node"],"default":null},
    {"name":"label","type":"string"}]}"#;
const TREE_LONG: &str = r#"{"type":"record","name":"Tree","namespace":"test","fields":[
    {"name":"label","type":"long"},
    {"name":"children","type":{"type":"array","items":"Tree"}}]}"#;
const TREE_INT: &str = r#"{"type":"record","name":"Tree","namespace":"test","fields":[
    {"name":"label","type":"int"},
    {"name":"children","type":{"type":"array","items":"Tree"}}]}"#;

const ADDRESS_V1: &str =
    r#"{"type":"record","name":"Address","fields":[{"name":"street","type":"string"}]}"#;
const ADDRESS_WITH_ZIP: &str = r#"{"type":"record","name":"Address","fields":[
    {"name":"street","type":"string"},{"name":"zip","type":"string"}]}"#;

resolution_table! {
    // Primitives: every promotion the specification allows.
    an_int_writer_is_read_by_a_long_reader:
        reader r#""long""#, writer r#""int""# => Compatible;
    an_int_writer_is_read_by_a_float_reader:
        reader r#""float""#, writer r#""int""# => Compatible;
    an_int_writer_is_read_by_a_double_reader:
        reader r#""double""#, writer r#""int""# => Compatible;
    a_long_writer_is_read_by_a_float_reader:
        reader r#""float""#, writer r#""long""# => Compatible;
    a_long_writer_is_read_by_a_double_reader:
        reader r#""double""#, writer r#""long""# => Compatible;
    a_float_writer_is_read_by_a_double_reader:
        reader r#""double""#, writer r#""float""# => Compatible;
    a_string_writer_is_read_by_a_bytes_reader:
        reader r#""bytes""#, writer r#""string""# => Compatible;
    a_bytes_writer_is_read_by_a_string_reader:
        reader r#""string""#, writer r#""bytes""# => Compatible;

    // Primitives: narrowing and unrelated types.
    a_long_writer_cannot_be_read_by_an_int_reader:
        reader r#""int""#, writer r#""long""# => Incompatible(&[(TypeMismatch, "/")]);
    a_double_writer_cannot_be_read_by_a_float_reader:
        reader r#""float""#, writer r#""double""# => Incompatible(&[(TypeMismatch, "/")]);
    a_float_writer_cannot_be_read_by_a_long_reader:
        reader r#""long""#, writer r#""float""# => Incompatible(&[(TypeMismatch, "/")]);
    a_string_writer_cannot_be_read_by_an_int_reader:
        reader r#""int""#, writer r#""string""# => Incompatible(&[(TypeMismatch, "/")]);
    a_bytes_writer_cannot_be_read_by_an_int_reader:
        reader r#""int""#, writer r#""bytes""# => Incompatible(&[(TypeMismatch, "/")]);
    an_int_writer_cannot_be_read_by_a_string_reader:
        reader r#""string""#, writer r#""int""# => Incompatible(&[(TypeMismatch, "/")]);
    a_boolean_writer_cannot_be_read_by_an_int_reader:
        reader r#""int""#, writer r#""boolean""# => Incompatible(&[(TypeMismatch, "/")]);
    a_null_writer_cannot_be_read_by_a_string_reader:
        reader r#""string""#, writer r#""null""# => Incompatible(&[(TypeMismatch, "/")]);
    a_field_narrowed_from_long_to_int_is_reported_at_the_field_type:
        reader field_of(r#""int""#), writer field_of(r#""long""#)
        => Incompatible(&[(TypeMismatch, "/fields/0/type")]);

    // Logical types compare by the type they annotate.
    a_timestamp_millis_reader_reads_a_plain_long_writer:
        reader r#"{"type":"long","logicalType":"timestamp-millis"}"#, writer r#""long""# => Compatible;
    a_plain_long_reader_reads_a_timestamp_millis_writer:
        reader r#""long""#, writer r#"{"type":"long","logicalType":"timestamp-millis"}"# => Compatible;
    a_date_writer_is_promoted_to_a_long_reader:
        reader r#""long""#, writer r#"{"type":"int","logicalType":"date"}"# => Compatible;
    a_timestamp_millis_writer_cannot_be_read_by_a_date_reader:
        reader r#"{"type":"int","logicalType":"date"}"#,
        writer r#"{"type":"long","logicalType":"timestamp-millis"}"#
        => Incompatible(&[(TypeMismatch, "/")]);
    a_timestamp_micros_reader_reads_timestamp_millis_data_as_java_does:
        reader r#"{"type":"long","logicalType":"timestamp-micros"}"#,
        writer r#"{"type":"long","logicalType":"timestamp-millis"}"# => Compatible;
    a_decimal_on_bytes_reads_plain_bytes:
        reader r#"{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}"#,
        writer r#""bytes""# => Compatible;
    a_decimal_on_fixed_reads_the_same_plain_fixed:
        reader r#"{"type":"fixed","name":"Money","size":8,"logicalType":"decimal","precision":18,"scale":2}"#,
        writer r#"{"type":"fixed","name":"Money","size":8}"# => Compatible;
    a_decimal_on_a_fixed_of_another_size_is_a_fixed_size_mismatch:
        reader r#"{"type":"fixed","name":"Money","size":8,"logicalType":"decimal","precision":18,"scale":2}"#,
        writer r#"{"type":"fixed","name":"Money","size":16,"logicalType":"decimal","precision":18,"scale":2}"#
        => Incompatible(&[(FixedSizeMismatch, "/size")]);
    a_uuid_string_reads_a_plain_string:
        reader r#"{"type":"string","logicalType":"uuid"}"#, writer r#""string""# => Compatible;

    // Records.
    a_field_added_with_a_default_is_compatible:
        reader record(r#"{"name":"a","type":"int"},{"name":"b","type":"string","default":""}"#),
        writer record(r#"{"name":"a","type":"int"}"#) => Compatible;
    a_field_added_without_a_default_is_missing_its_default:
        reader record(r#"{"name":"a","type":"int"},{"name":"b","type":"string"}"#),
        writer record(r#"{"name":"a","type":"int"}"#)
        => Incompatible(&[(ReaderFieldMissingDefaultValue, "/fields/1")]);
    a_nullable_field_added_with_a_null_default_is_compatible:
        reader record(r#"{"name":"a","type":"int"},{"name":"b","type":["null","string"],"default":null}"#),
        writer record(r#"{"name":"a","type":"int"}"#) => Compatible;
    a_field_removed_from_the_reader_is_skipped:
        reader record(r#"{"name":"a","type":"int"}"#),
        writer record(r#"{"name":"a","type":"int"},{"name":"b","type":"string"}"#) => Compatible;
    a_field_renamed_with_a_reader_alias_reads_the_old_field:
        reader record(r#"{"name":"email","type":"string","aliases":["mail"]}"#),
        writer record(r#"{"name":"mail","type":"string"}"#) => Compatible;
    a_field_renamed_with_an_alias_still_checks_the_old_fields_type:
        reader record(r#"{"name":"count","type":"int","aliases":["total"]}"#),
        writer record(r#"{"name":"total","type":"long"}"#)
        => Incompatible(&[(TypeMismatch, "/fields/0/type")]);
    a_field_renamed_without_an_alias_is_missing_its_default:
        reader record(r#"{"name":"email","type":"string"}"#),
        writer record(r#"{"name":"mail","type":"string"}"#)
        => Incompatible(&[(ReaderFieldMissingDefaultValue, "/fields/0")]);
    a_writer_field_alias_does_not_help_the_reader:
        reader record(r#"{"name":"email","type":"string"}"#),
        writer record(r#"{"name":"mail","type":"string","aliases":["email"]}"#)
        => Incompatible(&[(ReaderFieldMissingDefaultValue, "/fields/0")]);
    a_record_renamed_with_a_reader_alias_is_compatible:
        reader r#"{"type":"record","name":"Customer","namespace":"test","aliases":["User"],"fields":[]}"#,
        writer r#"{"type":"record","name":"User","namespace":"test","fields":[]}"# => Compatible;
    a_record_renamed_without_an_alias_is_a_name_mismatch:
        reader r#"{"type":"record","name":"Customer","namespace":"test","fields":[]}"#,
        writer r#"{"type":"record","name":"User","namespace":"test","fields":[]}"#
        => Incompatible(&[(NameMismatch, "/name")]);
    a_record_moved_to_another_namespace_keeps_its_unqualified_name:
        reader r#"{"type":"record","name":"User","namespace":"new.ns","fields":[]}"#,
        writer r#"{"type":"record","name":"User","namespace":"old.ns","fields":[]}"# => Compatible;
    a_short_reader_alias_takes_the_readers_namespace_and_misses_a_writer_elsewhere:
        reader r#"{"type":"record","name":"Customer","namespace":"new.ns","aliases":["User"],"fields":[]}"#,
        writer r#"{"type":"record","name":"User","namespace":"old.ns","fields":[]}"#
        => Incompatible(&[(NameMismatch, "/name")]);
    a_fully_qualified_reader_alias_matches_a_writer_in_another_namespace:
        reader r#"{"type":"record","name":"Customer","namespace":"new.ns","aliases":["old.ns.User"],"fields":[]}"#,
        writer r#"{"type":"record","name":"User","namespace":"old.ns","fields":[]}"# => Compatible;
    a_promotion_inside_a_nested_record_is_compatible:
        reader field_of(r#"{"type":"record","name":"Inner","fields":[{"name":"n","type":"double"}]}"#),
        writer field_of(r#"{"type":"record","name":"Inner","fields":[{"name":"n","type":"int"}]}"#)
        => Compatible;
    a_nested_record_field_without_default_is_located_inside_the_nested_record:
        reader record(&format!(r#"{{"name":"id","type":"string"}},{{"name":"address","type":{ADDRESS_WITH_ZIP}}}"#)),
        writer record(&format!(r#"{{"name":"id","type":"string"}},{{"name":"address","type":{ADDRESS_V1}}}"#))
        => Incompatible(&[(ReaderFieldMissingDefaultValue, "/fields/1/type/fields/1")]);
    every_problem_in_one_record_is_reported:
        reader record(r#"{"name":"a","type":"int"},{"name":"b","type":"string"},{"name":"c","type":"string"}"#),
        writer record(r#"{"name":"a","type":"long"},{"name":"b","type":"string"}"#)
        => Incompatible(&[(TypeMismatch, "/fields/0/type"), (ReaderFieldMissingDefaultValue, "/fields/2")]);
    a_named_type_used_twice_is_reported_at_each_use:
        reader record(&format!(r#"{{"name":"home","type":{ADDRESS_WITH_ZIP}}},{{"name":"work","type":"Address"}}"#)),
        writer record(&format!(r#"{{"name":"home","type":{ADDRESS_V1}}},{{"name":"work","type":"Address"}}"#))
        => Incompatible(&[
            (ReaderFieldMissingDefaultValue, "/fields/0/type/fields/1"),
            (ReaderFieldMissingDefaultValue, "/fields/1/type/fields/1"),
        ]);
    a_record_cannot_be_read_as_a_string:
        reader r#""string""#, writer record(r#"{"name":"a","type":"int"}"#)
        => Incompatible(&[(TypeMismatch, "/")]);

    // Enums.
    an_enum_symbol_added_in_the_reader_is_compatible:
        reader r#"{"type":"enum","name":"Status","symbols":["NEW","PAID","SHIPPED"]}"#,
        writer r#"{"type":"enum","name":"Status","symbols":["NEW","PAID"]}"# => Compatible;
    an_enum_symbol_removed_from_the_reader_is_a_missing_symbol:
        reader r#"{"type":"enum","name":"Status","symbols":["NEW"]}"#,
        writer r#"{"type":"enum","name":"Status","symbols":["NEW","PAID"]}"#
        => Incompatible(&[(MissingEnumSymbols, "/symbols")]);
    an_enum_symbol_removed_from_a_reader_with_a_default_is_compatible:
        reader r#"{"type":"enum","name":"Status","symbols":["UNKNOWN","NEW"],"default":"UNKNOWN"}"#,
        writer r#"{"type":"enum","name":"Status","symbols":["NEW","PAID"]}"# => Compatible;
    an_enum_symbol_added_to_a_writer_is_missing_from_a_reader_without_default:
        reader r#"{"type":"enum","name":"Status","symbols":["NEW","PAID"]}"#,
        writer r#"{"type":"enum","name":"Status","symbols":["NEW","PAID","REFUNDED"]}"#
        => Incompatible(&[(MissingEnumSymbols, "/symbols")]);
    an_enum_renamed_without_an_alias_is_a_name_mismatch:
        reader r#"{"type":"enum","name":"State","symbols":["NEW"]}"#,
        writer r#"{"type":"enum","name":"Status","symbols":["NEW"]}"#
        => Incompatible(&[(NameMismatch, "/name")]);
    an_enum_renamed_with_a_reader_alias_is_compatible:
        reader r#"{"type":"enum","name":"State","aliases":["Status"],"symbols":["NEW"]}"#,
        writer r#"{"type":"enum","name":"Status","symbols":["NEW"]}"# => Compatible;
    an_enum_cannot_be_read_as_a_string:
        reader r#""string""#, writer r#"{"type":"enum","name":"Status","symbols":["NEW"]}"#
        => Incompatible(&[(TypeMismatch, "/")]);

    // Fixed.
    a_fixed_of_the_same_name_and_size_is_compatible:
        reader r#"{"type":"fixed","name":"Hash","size":16}"#,
        writer r#"{"type":"fixed","name":"Hash","size":16}"# => Compatible;
    a_fixed_size_change_is_a_fixed_size_mismatch:
        reader r#"{"type":"fixed","name":"Hash","size":16}"#,
        writer r#"{"type":"fixed","name":"Hash","size":32}"#
        => Incompatible(&[(FixedSizeMismatch, "/size")]);
    a_fixed_name_change_is_a_name_mismatch:
        reader r#"{"type":"fixed","name":"Digest","size":16}"#,
        writer r#"{"type":"fixed","name":"Hash","size":16}"#
        => Incompatible(&[(NameMismatch, "/name")]);
    a_fixed_name_and_size_change_reports_both:
        reader r#"{"type":"fixed","name":"Digest","size":16}"#,
        writer r#"{"type":"fixed","name":"Hash","size":32}"#
        => Incompatible(&[(NameMismatch, "/name"), (FixedSizeMismatch, "/size")]);
    a_fixed_cannot_be_read_as_bytes:
        reader r#""bytes""#, writer r#"{"type":"fixed","name":"Hash","size":16}"#
        => Incompatible(&[(TypeMismatch, "/")]);

    // Arrays and maps.
    array_items_promoted_from_int_to_long_are_compatible:
        reader r#"{"type":"array","items":"long"}"#, writer r#"{"type":"array","items":"int"}"# => Compatible;
    array_items_narrowed_from_long_to_int_are_located_at_the_items:
        reader r#"{"type":"array","items":"int"}"#, writer r#"{"type":"array","items":"long"}"#
        => Incompatible(&[(TypeMismatch, "/items")]);
    map_values_promoted_from_float_to_double_are_compatible:
        reader r#"{"type":"map","values":"double"}"#, writer r#"{"type":"map","values":"float"}"# => Compatible;
    map_values_changed_from_string_to_int_are_located_at_the_values:
        reader r#"{"type":"map","values":"int"}"#, writer r#"{"type":"map","values":"string"}"#
        => Incompatible(&[(TypeMismatch, "/values")]);
    an_array_cannot_be_read_as_a_map:
        reader r#"{"type":"map","values":"int"}"#, writer r#"{"type":"array","items":"int"}"#
        => Incompatible(&[(TypeMismatch, "/")]);
    a_record_item_missing_a_default_is_located_inside_the_array_items:
        reader format!(r#"{{"type":"array","items":{ADDRESS_WITH_ZIP}}}"#),
        writer format!(r#"{{"type":"array","items":{ADDRESS_V1}}}"#)
        => Incompatible(&[(ReaderFieldMissingDefaultValue, "/items/fields/1")]);
    a_map_of_arrays_is_checked_all_the_way_down:
        reader field_of(r#"{"type":"map","values":{"type":"array","items":"int"}}"#),
        writer field_of(r#"{"type":"map","values":{"type":"array","items":"string"}}"#)
        => Incompatible(&[(TypeMismatch, "/fields/0/type/values/items")]);

    // Unions.
    a_writer_union_whose_branches_all_promote_is_read_by_a_non_union_reader:
        reader r#""double""#, writer r#"["int","long","float"]"# => Compatible;
    a_writer_union_with_one_unreadable_branch_reports_that_branch:
        reader r#""long""#, writer r#"["int","string"]"#
        => Incompatible(&[(TypeMismatch, "/1")]);
    a_non_union_writer_is_read_by_a_promoting_reader_union_branch:
        reader r#"["null","long"]"#, writer r#""int""# => Compatible;
    a_non_union_writer_no_reader_branch_can_read_is_a_missing_union_branch:
        reader r#"["null","int"]"#, writer r#""string""#
        => Incompatible(&[(MissingUnionBranch, "/")]);
    a_union_branch_added_in_the_reader_is_compatible:
        reader r#"["null","string","int"]"#, writer r#"["null","string"]"# => Compatible;
    a_union_branch_removed_from_the_reader_is_a_missing_union_branch:
        reader r#"["null","string"]"#, writer r#"["null","string","int"]"#
        => Incompatible(&[(MissingUnionBranch, "/2")]);
    union_branches_reordered_are_compatible:
        reader r#"["string","null"]"#, writer r#"["null","string"]"# => Compatible;
    a_nullable_field_made_required_cannot_read_the_nulls:
        reader record(r#"{"name":"email","type":"string"}"#),
        writer record(r#"{"name":"email","type":["null","string"],"default":null}"#)
        => Incompatible(&[(TypeMismatch, "/fields/0/type/0")]);
    a_required_field_made_nullable_reads_the_old_data:
        reader record(r#"{"name":"email","type":["null","string"],"default":null}"#),
        writer record(r#"{"name":"email","type":"string"}"#) => Compatible;
    a_union_reader_picks_the_record_branch_with_the_writers_name:
        reader r#"[{"type":"record","name":"A","fields":[{"name":"a","type":"int"}]},
                   {"type":"record","name":"B","fields":[{"name":"b","type":"int"}]}]"#,
        writer r#"{"type":"record","name":"B","fields":[{"name":"b","type":"int"}]}"# => Compatible;
    a_writer_union_of_records_is_matched_to_reader_branches_by_name:
        reader r#"[{"type":"record","name":"B","fields":[{"name":"b","type":"long"}]},
                   {"type":"record","name":"A","fields":[{"name":"a","type":"long"}]}]"#,
        writer r#"[{"type":"record","name":"A","fields":[{"name":"a","type":"int"}]},
                   {"type":"record","name":"B","fields":[{"name":"b","type":"int"}]}]"# => Compatible;
    a_record_in_a_nullable_union_that_changed_incompatibly_is_a_missing_union_branch:
        reader field_of(&format!(r#"["null",{ADDRESS_WITH_ZIP}]"#)),
        writer field_of(&format!(r#"["null",{ADDRESS_V1}]"#))
        => Incompatible(&[(MissingUnionBranch, "/fields/0/type/1")]);
    a_union_reader_uses_a_promotion_when_no_branch_matches_exactly:
        reader r#"["null","int","double"]"#, writer r#""float""# => Compatible;

    // Recursive types.
    a_recursive_linked_list_with_a_widened_value_is_compatible:
        reader LINKED_LIST_LONG, writer LINKED_LIST_INT => Compatible;
    a_recursive_linked_list_with_a_narrowed_value_is_a_type_mismatch:
        reader LINKED_LIST_INT, writer LINKED_LIST_LONG
        => Incompatible(&[(TypeMismatch, "/fields/0/type")]);
    a_recursive_linked_list_gaining_a_field_without_default_is_reported_once:
        reader LINKED_LIST_LONG_WITH_LABEL, writer LINKED_LIST_LONG
        => Incompatible(&[(ReaderFieldMissingDefaultValue, "/fields/2")]);
    a_recursive_tree_through_an_array_with_a_widened_label_is_compatible:
        reader TREE_LONG, writer TREE_INT => Compatible;
    a_recursive_tree_through_an_array_with_a_narrowed_label_is_a_type_mismatch:
        reader TREE_INT, writer TREE_LONG => Incompatible(&[(TypeMismatch, "/fields/0/type")]);
}

#[test]
fn every_primitive_reads_itself() {
    for primitive in [
        "null", "boolean", "int", "long", "float", "double", "bytes", "string",
    ] {
        let schema = parse(&format!(r#""{primitive}""#));
        assert_eq!(
            reader_writer_incompatibilities(&schema, &schema),
            Vec::new(),
            "{primitive}"
        );
    }
}

#[test]
fn every_embedded_event_schema_is_fully_compatible_with_itself() {
    for event in EventType::ALL {
        let schema = sagaway_contracts::avro::schema(event);
        let found = check(
            CompatibilityLevel::FullTransitive,
            schema,
            &[schema.clone(), schema.clone()],
        );
        assert!(found.is_empty(), "{event:?}:\n{}", render(&found));
    }
}

// Messages say what is wrong, where and why, with the names involved.

fn only_message(reader: &str, writer: &str) -> String {
    let found = reader_writer_incompatibilities(&parse(reader), &parse(writer));
    assert_eq!(found.len(), 1, "expected one finding:\n{}", render(&found));
    found[0].message.clone()
}

#[test]
fn a_missing_field_message_names_the_field_and_says_it_has_no_default() {
    let message = only_message(
        &record(r#"{"name":"id","type":"string"},{"name":"email","type":"string"}"#),
        &record(r#"{"name":"id","type":"string"}"#),
    );
    assert!(
        message.contains("reader field 'email' has no default and is missing from the writer"),
        "{message}"
    );
}

#[test]
fn a_narrowing_message_names_both_types_and_what_the_writer_type_can_become() {
    let message = only_message(&field_of(r#""int""#), &field_of(r#""long""#));
    assert!(message.starts_with("in field 'f': "), "{message}");
    assert!(
        message.contains("writer type long cannot be promoted to reader type int"),
        "{message}"
    );
    assert!(message.contains("long, float or double"), "{message}");
}

#[test]
fn a_message_inside_nested_fields_gives_the_field_path() {
    let message = only_message(
        &field_of(
            r#"{"type":"array","items":{"type":"record","name":"Line","fields":[{"name":"qty","type":"int"}]}}"#,
        ),
        &field_of(
            r#"{"type":"array","items":{"type":"record","name":"Line","fields":[{"name":"qty","type":"long"}]}}"#,
        ),
    );
    assert!(message.starts_with("in field 'f[].qty': "), "{message}");
}

#[test]
fn a_logical_type_is_named_in_the_message() {
    let message = only_message(
        r#"{"type":"int","logicalType":"date"}"#,
        r#"{"type":"long","logicalType":"timestamp-millis"}"#,
    );
    assert!(message.contains("long (timestamp-millis)"), "{message}");
    assert!(message.contains("int (date)"), "{message}");
}

#[test]
fn a_name_mismatch_message_suggests_the_reader_alias_that_would_accept_the_rename() {
    let message = only_message(
        r#"{"type":"record","name":"Customer","namespace":"test","fields":[]}"#,
        r#"{"type":"record","name":"User","namespace":"test","fields":[]}"#,
    );
    assert!(message.contains("'test.Customer'"), "{message}");
    assert!(
        message.contains(r#"add "test.User" to the reader's aliases"#),
        "{message}"
    );
}

#[test]
fn a_missing_symbols_message_lists_the_symbols() {
    let message = only_message(
        r#"{"type":"enum","name":"Status","symbols":["NEW"]}"#,
        r#"{"type":"enum","name":"Status","symbols":["NEW","PAID","REFUNDED"]}"#,
    );
    assert!(message.contains("[PAID, REFUNDED]"), "{message}");
}

#[test]
fn a_missing_union_branch_message_explains_why_the_same_named_branch_does_not_fit() {
    let message = only_message(
        &field_of(&format!(r#"["null",{ADDRESS_WITH_ZIP}]"#)),
        &field_of(&format!(r#"["null",{ADDRESS_V1}]"#)),
    );
    assert!(
        message.contains("writer union branch 1 (record 'test.Address')"),
        "{message}"
    );
    assert!(
        message.contains("reader field 'zip' has no default"),
        "{message}"
    );
}

#[test]
fn a_nullable_field_made_required_says_the_null_branch_cannot_be_read() {
    let message = only_message(
        &record(r#"{"name":"email","type":"string"}"#),
        &record(r#"{"name":"email","type":["null","string"],"default":null}"#),
    );
    assert!(
        message.contains("writer union branch 0 (null)"),
        "{message}"
    );
}

// Schemas whose named types live in other schemas (Confluent references).

const MONEY: &str = r#"{"type":"record","name":"Money","namespace":"test","fields":[{"name":"minor","type":"long"}]}"#;
const PRICED: &str = r#"{"type":"record","name":"Priced","namespace":"test","fields":[{"name":"price","type":"test.Money"}]}"#;

#[test]
fn a_reference_without_its_definition_is_reported_as_unresolved() {
    let (schema, _) = Schema::parse_str_with_list(PRICED, [MONEY]).expect("parses with references");
    let found = reader_writer_incompatibilities(&schema, &schema);
    let got: Vec<_> = found
        .iter()
        .map(|i| (i.kind, i.location.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![(UnresolvedReference, "/fields/0/type")],
        "{}",
        render(&found)
    );
}

#[test]
fn a_reference_resolves_through_the_schemas_given_with_it() {
    let (schema, references) =
        Schema::parse_str_with_list(PRICED, [MONEY]).expect("parses with references");
    let found =
        reader_writer_incompatibilities_with_references(&schema, &references, &schema, &references);
    assert!(found.is_empty(), "{}", render(&found));

    let with_refs = SchemaWithReferences {
        schema: &schema,
        references: &references,
    };
    let found = check_with_references(
        CompatibilityLevel::FullTransitive,
        with_refs,
        &[(1, with_refs)],
    );
    assert!(found.is_empty(), "{}", render(&found));
}

// Levels over version histories (oldest first), where transitive and non-transitive differ.

const BACKWARD: &str = "new schema cannot read data written with version";
const FORWARD: &str = "cannot read data written with the new schema";

/// (location, direction) of every finding.
fn findings(level: CompatibilityLevel, new: &str, history: &[&str]) -> Vec<(String, String)> {
    let existing: Vec<Schema> = history.iter().map(|json| parse(json)).collect();
    check(level, &parse(new), &existing)
        .into_iter()
        .map(|incompatibility| {
            (
                incompatibility.location,
                incompatibility.direction.unwrap_or_default(),
            )
        })
        .collect()
}

fn expect_per_level(
    new: &str,
    history: &[&str],
    table: [(CompatibilityLevel, &[(&str, &str)]); 7],
) {
    for (level, expected) in table {
        let got = findings(level, new, history);
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(location, direction)| ((*location).to_owned(), (*direction).to_owned()))
            .collect();
        assert_eq!(got, expected, "level {level}");
    }
}

#[test]
fn only_transitive_levels_see_that_version_1_breaks_in_both_directions() {
    // v1 {a, c}; v2 {a?, b?, c?} (? = with default); new {b, c}: the new schema reads v2 and v2
    // reads it, but it cannot read v1 (no b) and v1 cannot read it (no a).
    let v1 = record(r#"{"name":"a","type":"string"},{"name":"c","type":"string"}"#);
    let v2 = record(
        r#"{"name":"a","type":"string","default":""},{"name":"b","type":"string","default":""},{"name":"c","type":"string","default":""}"#,
    );
    let new = record(r#"{"name":"b","type":"string"},{"name":"c","type":"string"}"#);
    let backward_v1 = "new schema cannot read data written with version 1";
    let forward_v1 = "version 1 cannot read data written with the new schema";
    expect_per_level(
        &new,
        &[&v1, &v2],
        [
            (CompatibilityLevel::None, &[]),
            (CompatibilityLevel::Backward, &[]),
            (
                CompatibilityLevel::BackwardTransitive,
                &[("/fields/0", backward_v1)],
            ),
            (CompatibilityLevel::Forward, &[]),
            (
                CompatibilityLevel::ForwardTransitive,
                &[("/fields/0", forward_v1)],
            ),
            (CompatibilityLevel::Full, &[]),
            (
                CompatibilityLevel::FullTransitive,
                &[("/fields/0", backward_v1), ("/fields/0", forward_v1)],
            ),
        ],
    );
}

#[test]
fn backward_passes_but_backward_transitive_fails_when_a_default_is_dropped_after_version_1() {
    // v1 {a}; v2 {a, b default}; new {a, b}: the new schema reads v2 but not v1.
    let v1 = record(r#"{"name":"a","type":"string"}"#);
    let v2 = record(r#"{"name":"a","type":"string"},{"name":"b","type":"string","default":"x"}"#);
    let new = record(r#"{"name":"a","type":"string"},{"name":"b","type":"string"}"#);
    let backward_v1 = "new schema cannot read data written with version 1";
    expect_per_level(
        &new,
        &[&v1, &v2],
        [
            (CompatibilityLevel::None, &[]),
            (CompatibilityLevel::Backward, &[]),
            (
                CompatibilityLevel::BackwardTransitive,
                &[("/fields/1", backward_v1)],
            ),
            (CompatibilityLevel::Forward, &[]),
            (CompatibilityLevel::ForwardTransitive, &[]),
            (CompatibilityLevel::Full, &[]),
            (
                CompatibilityLevel::FullTransitive,
                &[("/fields/1", backward_v1)],
            ),
        ],
    );
}

#[test]
fn forward_passes_but_forward_transitive_fails_when_a_field_version_1_requires_is_removed() {
    // v1 {a, b}; v2 {a, b default}; new {a}: v2 reads the new data, v1 does not (no b).
    let v1 = record(r#"{"name":"a","type":"string"},{"name":"b","type":"string"}"#);
    let v2 = record(r#"{"name":"a","type":"string"},{"name":"b","type":"string","default":"x"}"#);
    let new = record(r#"{"name":"a","type":"string"}"#);
    let forward_v1 = "version 1 cannot read data written with the new schema";
    expect_per_level(
        &new,
        &[&v1, &v2],
        [
            (CompatibilityLevel::None, &[]),
            (CompatibilityLevel::Backward, &[]),
            (CompatibilityLevel::BackwardTransitive, &[]),
            (CompatibilityLevel::Forward, &[]),
            (
                CompatibilityLevel::ForwardTransitive,
                &[("/fields/1", forward_v1)],
            ),
            (CompatibilityLevel::Full, &[]),
            (
                CompatibilityLevel::FullTransitive,
                &[("/fields/1", forward_v1)],
            ),
        ],
    );
}

#[test]
fn a_break_against_the_latest_version_fails_every_level_that_checks_that_direction() {
    // v1 {n: int}; v2 {n: long}; new {n: int}: the new schema cannot read v2's longs; every
    // version reads the new ints.
    let v1 = field_of(r#""int""#);
    let v2 = field_of(r#""long""#);
    let new = field_of(r#""int""#);
    let backward_v2 = "new schema cannot read data written with version 2";
    expect_per_level(
        &new,
        &[&v1, &v2],
        [
            (CompatibilityLevel::None, &[]),
            (
                CompatibilityLevel::Backward,
                &[("/fields/0/type", backward_v2)],
            ),
            (
                CompatibilityLevel::BackwardTransitive,
                &[("/fields/0/type", backward_v2)],
            ),
            (CompatibilityLevel::Forward, &[]),
            (CompatibilityLevel::ForwardTransitive, &[]),
            (CompatibilityLevel::Full, &[("/fields/0/type", backward_v2)]),
            (
                CompatibilityLevel::FullTransitive,
                &[("/fields/0/type", backward_v2)],
            ),
        ],
    );
}

#[test]
fn none_accepts_an_unrelated_schema() {
    let found = check(
        CompatibilityLevel::None,
        &parse(r#""int""#),
        &[parse(r#""string""#)],
    );
    assert!(found.is_empty());
}

#[test]
fn every_level_accepts_the_first_version_of_a_subject() {
    for level in CompatibilityLevel::ALL {
        assert!(check(level, &parse(r#""int""#), &[]).is_empty(), "{level}");
    }
}

#[test]
fn full_reports_the_backward_findings_before_the_forward_ones() {
    // new {a: int} against {a: long, c}: the new schema cannot read the old longs, and the old
    // schema finds no c (without default) in the new data.
    let old = record(r#"{"name":"a","type":"long"},{"name":"c","type":"string"}"#);
    let new = record(r#"{"name":"a","type":"int"}"#);
    let found = findings(CompatibilityLevel::Full, &new, &[&old]);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].1.starts_with(BACKWARD), "{found:?}");
    assert!(found[1].1.ends_with(FORWARD), "{found:?}");
}

#[test]
fn check_versions_names_the_registry_version_numbers() {
    let old = parse(&field_of(r#""long""#));
    let new = parse(&field_of(r#""int""#));
    let found = check_versions(CompatibilityLevel::Backward, &new, &[(3, &old), (7, &old)]);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].direction.as_deref(),
        Some("new schema cannot read data written with version 7")
    );
    assert_eq!(
        found[0].to_string(),
        format!(
            "new schema cannot read data written with version 7: TYPE_MISMATCH at /fields/0/type: {}",
            found[0].message
        )
    );
}

// Level names.

#[test]
fn every_level_round_trips_through_its_confluent_spelling() {
    let spellings = [
        "NONE",
        "BACKWARD",
        "BACKWARD_TRANSITIVE",
        "FORWARD",
        "FORWARD_TRANSITIVE",
        "FULL",
        "FULL_TRANSITIVE",
    ];
    for (level, spelling) in CompatibilityLevel::ALL.into_iter().zip(spellings) {
        assert_eq!(level.to_string(), spelling);
        assert_eq!(spelling.parse::<CompatibilityLevel>(), Ok(level));
    }
}

#[test]
fn parsing_a_level_ignores_case() {
    assert_eq!(
        "backward_transitive".parse::<CompatibilityLevel>(),
        Ok(CompatibilityLevel::BackwardTransitive)
    );
    assert_eq!(
        "Full".parse::<CompatibilityLevel>(),
        Ok(CompatibilityLevel::Full)
    );
    assert_eq!(
        "none".parse::<CompatibilityLevel>(),
        Ok(CompatibilityLevel::None)
    );
}

#[test]
fn parsing_an_unknown_level_names_the_bad_value() {
    let err = "BACKWARDS"
        .parse::<CompatibilityLevel>()
        .expect_err("not a level");
    assert_eq!(err.value(), "BACKWARDS");
    assert!(err.to_string().contains("'BACKWARDS'"), "{err}");
    assert!(err.to_string().contains("FULL_TRANSITIVE"), "{err}");
    assert!("".parse::<CompatibilityLevel>().is_err());
}

#[test]
fn levels_travel_as_confluent_strings_in_json() {
    let json = serde_json::to_string(&CompatibilityLevel::ForwardTransitive).expect("serializes");
    assert_eq!(json, r#""FORWARD_TRANSITIVE""#);
    let level: CompatibilityLevel = serde_json::from_str(r#""full""#).expect("deserializes");
    assert_eq!(level, CompatibilityLevel::Full);
    assert!(serde_json::from_str::<CompatibilityLevel>(r#""SIDEWAYS""#).is_err());
}

#[test]
fn the_default_level_is_backward_as_in_confluent() {
    assert_eq!(CompatibilityLevel::default(), CompatibilityLevel::Backward);
}

#[test]
fn incompatibility_kinds_display_with_java_names() {
    assert_eq!(
        ReaderFieldMissingDefaultValue.to_string(),
        "READER_FIELD_MISSING_DEFAULT_VALUE"
    );
    assert_eq!(MissingUnionBranch.to_string(), "MISSING_UNION_BRANCH");
}
