//! Avro schemas as the registry handles them: parsed (with their references), validated and
//! normalized to the text that is stored and compared.

use apache_avro::Schema;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// A reference to a named type registered under another subject (Confluent's shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// The referenced type's full name, as the referring schema uses it.
    pub name: String,
    /// The subject that holds it.
    pub subject: String,
    /// Its version in that subject.
    pub version: i32,
}

/// A schema parsed with everything it references.
#[derive(Debug)]
pub struct Parsed {
    /// The schema itself.
    pub schema: Schema,
    /// The referenced schemas it was parsed with (their named types resolve its references).
    pub referenced: Vec<Schema>,
}

/// Parses `text` with the texts of the schemas it references (dependencies first).
pub fn parse(text: &str, referenced: &[String]) -> Result<Parsed, ApiError> {
    let invalid = |err: apache_avro::Error| ApiError::InvalidSchema(err.to_string());
    if referenced.is_empty() {
        return Ok(Parsed {
            schema: Schema::parse_str(text).map_err(invalid)?,
            referenced: Vec::new(),
        });
    }
    let (schema, referenced) = Schema::parse_str_with_list(text, referenced).map_err(invalid)?;
    Ok(Parsed { schema, referenced })
}

/// The stored form of a schema: valid JSON with insignificant whitespace removed and object
/// keys in a stable order, so that the same schema always gets the same id.
pub fn normalize(text: &str) -> Result<String, ApiError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|err| ApiError::InvalidSchema(err.to_string()))?;
    Ok(value.to_string())
}

/// The fingerprint that identifies a schema globally: its normalized text and its references.
pub fn fingerprint_input(normalized: &str, references: &[Reference]) -> String {
    if references.is_empty() {
        normalized.to_owned()
    } else {
        format!(
            "{normalized}|{}",
            serde_json::to_string(references).unwrap_or_default()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_and_key_order_do_not_change_the_stored_form() {
        let a = normalize(r#"{ "type": "record", "name": "A", "fields": [] }"#).expect("valid");
        let b = normalize(r#"{"fields":[],"name":"A","type":"record"}"#).expect("valid");
        assert_eq!(a, b);
    }

    #[test]
    fn invalid_avro_is_refused_with_the_parser_reason() {
        let err = parse(r#"{"type":"record","name":"A"}"#, &[]).expect_err("no fields");
        assert!(matches!(err, ApiError::InvalidSchema(_)), "{err:?}");
    }

    #[test]
    fn references_resolve_named_types_from_other_schemas() {
        let money = r#"{"type":"record","name":"Money","namespace":"t","fields":[{"name":"minor","type":"long"}]}"#;
        let order = r#"{"type":"record","name":"Order","namespace":"t","fields":[{"name":"total","type":"t.Money"}]}"#;
        assert!(
            parse(order, &[]).is_err(),
            "unresolved without the reference"
        );
        let parsed = parse(order, &[money.to_owned()]).expect("resolves");
        assert_eq!(parsed.referenced.len(), 1);
    }
}
