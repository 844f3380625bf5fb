//! The CI contract gate: breaking edits to `avro/` and `proto/` are refused with a readable
//! report, compatible ones pass. Each test copies the real contracts into a scratch
//! directory, edits the copy, and compares it with the original.

use std::path::{Path, PathBuf};

use sagaway_contracts::check::{AvroSet, check_avro, check_proto};
use sagaway_contracts::compat::CompatibilityLevel;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A scratch copy of `avro/` or `proto/`, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn copy_of(what: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "contracts-test-{what}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        copy_tree(&repo().join(what), &dir);
        Scratch(dir)
    }

    fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.0.join(file);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains(from), "{file} does not contain {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

fn avro_problems(edit: impl FnOnce(&Scratch)) -> Vec<String> {
    let scratch = Scratch::copy_of("avro");
    edit(&scratch);
    let old = AvroSet::from_dir(&repo().join("avro")).expect("old avro");
    let new = AvroSet::from_dir(&scratch.0).expect("new avro");
    check_avro(&old, &new, CompatibilityLevel::Full)
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn proto_problems(edit: impl FnOnce(&Scratch)) -> Vec<(bool, String)> {
    let scratch = Scratch::copy_of("proto");
    edit(&scratch);
    check_proto(&repo().join("proto"), &scratch.0)
        .expect("both compile")
        .into_iter()
        .map(|p| (p.breaking, p.to_string()))
        .collect()
}

const ORDER_FIELD: &str = r#""name": "order_id""#;

#[test]
fn unchanged_contracts_pass() {
    assert_eq!(avro_problems(|_| {}), Vec::<String>::new());
    assert_eq!(proto_problems(|_| {}), Vec::<(bool, String)>::new());
}

#[test]
fn adding_an_avro_field_with_a_default_passes() {
    let problems = avro_problems(|s| {
        s.edit(
            "OrderCompleted.avsc",
            r#""fields": ["#,
            r#""fields": [{"name": "note", "type": ["null", "string"], "default": null, "doc": "x"},"#,
        )
    });
    assert_eq!(problems, Vec::<String>::new());
}

#[test]
fn breaking_avro_edits_are_refused_with_subject_location_and_reason() {
    let cases: [(&str, &str, &str, &str); 4] = [
        (
            "a field without a default",
            "OrderCompleted.avsc",
            r#""fields": ["#,
            r#""fields": [{"name": "note", "type": "string", "doc": "x"},"#,
        ),
        (
            "a changed field type",
            "OrderCompleted.avsc",
            "\"total_minor\",\n      \"type\": \"long\"",
            "\"total_minor\",\n      \"type\": \"string\"",
        ),
        (
            "a renamed field",
            "PaymentCompleted.avsc",
            ORDER_FIELD,
            r#""name": "order""#,
        ),
        (
            "a renamed enum type",
            "PaymentFailed.avsc",
            r#""name": "PaymentFailureReason""#,
            r#""name": "FailureReason""#,
        ),
    ];
    for (case, file, from, to) in cases {
        let problems = avro_problems(|s| s.edit(file, from, to));
        assert!(!problems.is_empty(), "{case}: accepted");
        let subject = format!("sagaway.events.{}", file.trim_end_matches(".avsc"));
        assert!(
            problems
                .iter()
                .all(|p| p.contains(&subject) && p.contains(file) && p.contains("BREAKING")),
            "{case}: {problems:#?}"
        );
    }
}

#[test]
fn removing_an_enum_symbol_passes_because_the_enum_has_a_default() {
    let problems = avro_problems(|s| s.edit("PaymentFailed.avsc", r#""INSUFFICIENT_FUNDS", "#, ""));
    assert_eq!(
        problems,
        Vec::<String>::new(),
        "old readers map the unknown symbol to UNKNOWN"
    );
}

#[test]
fn removing_an_event_schema_is_breaking() {
    let problems =
        avro_problems(|s| std::fs::remove_file(s.0.join("StockCommitted.avsc")).expect("rm"));
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].contains("removed"), "{problems:#?}");
}

#[test]
fn compatible_proto_edits_pass() {
    let problems = proto_problems(|s| {
        // A new field, a new RPC and a new message.
        s.edit(
            "sagaway/order/v1/order.proto",
            "message OrderItem {",
            "message Note {\n  string text = 1;\n}\n\nmessage OrderItem {\n  string note = 3;",
        );
    });
    assert_eq!(problems, Vec::<(bool, String)>::new());
}

#[test]
fn breaking_proto_edits_are_refused_with_a_readable_report() {
    let cases: [(&str, &str, &str, &str); 5] = [
        (
            "a renumbered field",
            "int64 quantity = 2;",
            "int64 quantity = 7;",
            "renumbered",
        ),
        (
            "a changed field type",
            "int64 quantity = 2;",
            "string quantity = 2;",
            "type changed",
        ),
        ("a removed field", "int64 quantity = 2;", "", "removed"),
        (
            "a removed RPC",
            "rpc CancelOrder(",
            "rpc CancelOrderRenamed(",
            "RPC removed",
        ),
        (
            "a field made repeated",
            "int64 quantity = 2;",
            "repeated int64 quantity = 2;",
            "repeated",
        ),
    ];
    for (case, from, to, expected) in cases {
        let problems = proto_problems(|s| s.edit("sagaway/order/v1/order.proto", from, to));
        assert!(
            problems
                .iter()
                .any(|(breaking, text)| *breaking && text.contains(expected)),
            "{case}: {problems:#?}"
        );
    }
}

#[test]
fn a_removed_field_whose_number_is_reserved_passes() {
    let problems = proto_problems(|s| {
        s.edit(
            "sagaway/order/v1/order.proto",
            "int64 quantity = 2;",
            "reserved 2;",
        )
    });
    assert_eq!(problems, Vec::<(bool, String)>::new());
}

#[test]
fn a_removed_service_is_breaking() {
    let problems = proto_problems(|s| {
        std::fs::write(
            s.0.join("sagaway/user/v1/user.proto"),
            "syntax = \"proto3\";\npackage sagaway.user.v1;\n",
        )
        .expect("write")
    });
    assert!(
        problems.iter().any(|(breaking, text)| *breaking
            && text.contains("UserService")
            && text.contains("service removed")),
        "{problems:#?}"
    );
}
