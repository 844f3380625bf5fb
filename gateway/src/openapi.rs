//! `/openapi.json`: an OpenAPI 3.1 document generated from the route table: paths from the
//! HTTP rules, schemas from the messages (proto3 JSON shapes), descriptions from proto comments.

use std::collections::BTreeMap;

use prost_reflect::{EnumDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value, json};

use crate::fields::find_field;
use crate::routes::{Route, RouteTable};

/// The OpenAPI document for every route in `table`.
pub fn document(table: &RouteTable) -> Value {
    let mut schemas = Schemas::default();
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for route in table.routes() {
        let operation = operation(route, &mut schemas);
        paths
            .entry(openapi_path(route.template.as_str()))
            .or_default()
            .insert(route.method.as_str().to_ascii_lowercase(), operation);
    }
    schemas
        .0
        .insert("google.rpc.Status".to_owned(), status_schema());
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Sagaway API", "version": env!("CARGO_PKG_VERSION") },
        "paths": paths,
        "components": { "schemas": schemas.0 },
    })
}

/// `/v1/{name=shelves/*}:publish` → `/v1/{name}:publish`.
fn openapi_path(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let (mut inside, mut skipping) = (false, false);
    for c in template.chars() {
        match c {
            '{' => {
                inside = true;
                out.push(c);
            }
            '}' => {
                (inside, skipping) = (false, false);
                out.push(c);
            }
            '=' if inside => skipping = true,
            _ if skipping => {}
            _ => out.push(c),
        }
    }
    out
}

fn operation(route: &Route, schemas: &mut Schemas) -> Value {
    let rpc = &route.rpc;
    let description = comments(rpc.parent_file(), rpc.path()).unwrap_or_default();
    let summary = description.lines().next().unwrap_or_default().to_owned();
    let input = rpc.input();
    let bound: Vec<String> = route.template.field_paths().map(|p| p.join(".")).collect();
    let mut parameters: Vec<Value> = bound
        .iter()
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    let mut operation = json!({
        "operationId": format!("{}.{}", rpc.parent_service().name(), rpc.name()),
        "summary": summary,
        "description": description,
        "tags": [rpc.parent_service().name()],
    });
    match route.body.as_deref() {
        Some("*") => operation["requestBody"] = body(&schemas.reference(&input)),
        body_field => {
            if let Some(path) = body_field {
                let schema = field_path_schema(&input, path, schemas);
                operation["requestBody"] = body(&schema);
            }
            for field in input.fields() {
                let skip = bound
                    .iter()
                    .any(|b| b.split('.').next() == Some(field.name()))
                    || body_field == Some(field.name())
                    || matches!(field.kind(), Kind::Message(_))
                        && !field.is_map()
                        && !is_well_known(&field);
                if !skip {
                    let mut parameter = json!({
                        "name": field.name(),
                        "in": "query",
                        "description": comments(field.parent_file(), field.path()).unwrap_or_default(),
                        "schema": schemas.field(&field),
                    });
                    // A map is written one entry per parameter: `labels[key]=value`.
                    if field.is_map() {
                        parameter["style"] = json!("deepObject");
                        parameter["explode"] = json!(true);
                    }
                    parameters.push(parameter);
                }
            }
        }
    }
    operation["parameters"] = Value::from(parameters);
    let reply = match route.response_body.as_deref() {
        Some(path) => field_path_schema(&rpc.output(), path, schemas),
        None => schemas.reference(&rpc.output()),
    };
    operation["responses"] = json!({
        "200": { "description": "OK", "content": { "application/json": { "schema": reply } } },
        "default": { "description": "An error: a google.rpc.Status", "content": { "application/json": {
            "schema": { "$ref": "#/components/schemas/google.rpc.Status" } } } },
    });
    operation
}

fn body(schema: &Value) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": schema } } })
}

fn field_path_schema(message: &MessageDescriptor, path: &str, schemas: &mut Schemas) -> Value {
    let mut current = message.clone();
    let mut schema = json!({});
    for name in path.split('.') {
        let Some(field) = find_field(&current, name) else {
            return json!({});
        };
        schema = schemas.field(&field);
        if let Kind::Message(inner) = field.kind() {
            current = inner;
        }
    }
    schema
}

/// The component schemas collected so far, by full message or enum name.
#[derive(Default)]
struct Schemas(BTreeMap<String, Value>);

impl Schemas {
    fn reference(&mut self, message: &MessageDescriptor) -> Value {
        if let Some(simple) = well_known(message.full_name()) {
            return simple;
        }
        let name = message.full_name().to_owned();
        if !self.0.contains_key(&name) {
            self.0.insert(name.clone(), json!({}));
            let properties: Map<String, Value> = message
                .fields()
                .map(|field| {
                    let mut schema = self.field(&field);
                    if let Some(text) = comments(field.parent_file(), field.path()) {
                        schema = json!({ "allOf": [schema], "description": text });
                    }
                    (field.json_name().to_owned(), schema)
                })
                .collect();
            let description = comments(message.parent_file(), message.path()).unwrap_or_default();
            self.0.insert(
                name.clone(),
                json!({ "type": "object", "description": description, "properties": properties }),
            );
        }
        json!({ "$ref": format!("#/components/schemas/{name}") })
    }

    fn enumeration(&mut self, enumeration: &EnumDescriptor) -> Value {
        let name = enumeration.full_name().to_owned();
        let values: Vec<String> = enumeration.values().map(|v| v.name().to_owned()).collect();
        let description =
            comments(enumeration.parent_file(), enumeration.path()).unwrap_or_default();
        self.0.insert(
            name.clone(),
            json!({ "type": "string", "enum": values, "description": description }),
        );
        json!({ "$ref": format!("#/components/schemas/{name}") })
    }

    fn field(&mut self, field: &FieldDescriptor) -> Value {
        let single = match field.kind() {
            Kind::Message(message) if field.is_map() => {
                let value = message.map_entry_value_field();
                return json!({ "type": "object", "additionalProperties": self.field(&value) });
            }
            Kind::Message(message) => self.reference(&message),
            Kind::Enum(enumeration) => self.enumeration(&enumeration),
            kind => scalar(&kind),
        };
        if field.is_list() {
            json!({ "type": "array", "items": single })
        } else {
            single
        }
    }
}

fn scalar(kind: &Kind) -> Value {
    match kind {
        Kind::Double | Kind::Float => json!({ "type": "number" }),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Uint32 | Kind::Fixed32 => {
            json!({ "type": "integer", "format": "int32" })
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => {
            json!({ "type": "string", "format": "int64" })
        }
        Kind::Bool => json!({ "type": "boolean" }),
        Kind::Bytes => json!({ "type": "string", "format": "byte" }),
        _ => json!({ "type": "string" }),
    }
}

fn is_well_known(field: &FieldDescriptor) -> bool {
    matches!(field.kind(), Kind::Message(m) if well_known(m.full_name()).is_some())
}

fn well_known(name: &str) -> Option<Value> {
    Some(match name {
        "google.protobuf.Timestamp" => json!({ "type": "string", "format": "date-time" }),
        "google.protobuf.Duration" => json!({ "type": "string", "pattern": "^-?[0-9.]+s$" }),
        "google.protobuf.FieldMask" => json!({ "type": "string" }),
        "google.protobuf.StringValue" => json!({ "type": ["string", "null"] }),
        "google.protobuf.BoolValue" => json!({ "type": ["boolean", "null"] }),
        "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => {
            json!({ "type": ["integer", "null"] })
        }
        "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => {
            json!({ "type": ["string", "null"] })
        }
        "google.protobuf.Struct" => json!({ "type": "object" }),
        "google.protobuf.Value" => json!({}),
        "google.protobuf.Empty" => json!({ "type": "object" }),
        _ => return None,
    })
}

fn status_schema() -> Value {
    json!({
        "type": "object",
        "description": "The error body: the gRPC code number, a message, and typed details.",
        "properties": {
            "code": { "type": "integer" },
            "message": { "type": "string" },
            "details": { "type": "array", "items": { "type": "object" } },
        },
    })
}

/// The leading comments of the element at `path` in `file`, trimmed.
fn comments(file: FileDescriptor, path: &[i32]) -> Option<String> {
    let info = file.file_descriptor_proto().source_code_info.as_ref()?;
    let location = info.location.iter().find(|l| l.path == path)?;
    let text = location.leading_comments.as_deref()?;
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    Some(lines.join("\n").trim().to_owned()).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_become_openapi_paths() {
        for (template, path) in [
            ("/v1/products/{product_id}", "/v1/products/{product_id}"),
            ("/v1/{name=shelves/*}:publish", "/v1/{name}:publish"),
            ("/v1/items/{product.sku}", "/v1/items/{product.sku}"),
            ("/v1/files/{path=**}", "/v1/files/{path}"),
        ] {
            assert_eq!(openapi_path(template), path);
        }
    }
}
