//! Setting request fields from text: path variables and query parameters, by field path
//! (`product.sku`), accepting proto or JSON field names, repeated fields, map entries
//! (`labels[key]`, as grpc-gateway and OpenAPI's `deepObject` style write them), enums by name
//! or number, and well-known types written as their JSON strings.

use base64::Engine as _;
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage as _, Value,
};

/// Finds a field by its proto name or its JSON name.
pub fn find_field(message: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    message
        .get_field_by_name(name)
        .or_else(|| message.get_field_by_json_name(name))
}

/// Sets (or, for a repeated field, appends) the field at `path` from `raw`.
pub fn set_from_text(
    message: &mut DynamicMessage,
    path: &[String],
    raw: &str,
) -> Result<(), String> {
    let dotted = path.join(".");
    let (target, field) = field_at(message, path, &dotted)?;
    if field.is_map() {
        return Err(format!(
            "{dotted}: a map field is set one entry at a time, as {dotted}[key]"
        ));
    }
    let value = parse_value(&field.kind(), raw).map_err(|why| format!("{dotted}: {why}"))?;
    if field.is_list() {
        if let Some(list) = target.get_field_mut(&field).as_list_mut() {
            list.push(value);
        }
    } else {
        target.set_field(&field, value);
    }
    Ok(())
}

/// A query parameter's name as a field path and, for a map entry (`labels[key]`), its key.
pub fn query_name(name: &str) -> Result<(Vec<String>, Option<&str>), String> {
    let (dotted, key) = match name.split_once('[') {
        None => (name, None),
        Some((dotted, rest)) => {
            let key = rest
                .strip_suffix(']')
                .filter(|key| !key.contains(['[', ']']))
                .ok_or_else(|| format!("{name}: a map entry is written field[key]"))?;
            (dotted, Some(key))
        }
    };
    Ok((dotted.split('.').map(str::to_owned).collect(), key))
}

/// Sets the entry `key` of the map field at `path` from `raw`.
pub fn set_map_entry_from_text(
    message: &mut DynamicMessage,
    path: &[String],
    key: &str,
    raw: &str,
) -> Result<(), String> {
    let dotted = path.join(".");
    let named = format!("{dotted}[{key}]");
    let (target, field) = field_at(message, path, &named)?;
    let Kind::Message(entry) = field.kind().clone() else {
        return Err(format!("{named}: {dotted} is not a map field"));
    };
    if !field.is_map() {
        return Err(format!("{named}: {dotted} is not a map field"));
    }
    let key = match parse_value(&entry.map_entry_key_field().kind(), key) {
        Ok(Value::String(text)) => MapKey::String(text),
        Ok(Value::Bool(flag)) => MapKey::Bool(flag),
        Ok(Value::I32(number)) => MapKey::I32(number),
        Ok(Value::I64(number)) => MapKey::I64(number),
        Ok(Value::U32(number)) => MapKey::U32(number),
        Ok(Value::U64(number)) => MapKey::U64(number),
        Ok(_) => return Err(format!("{named}: not a valid map key")),
        Err(why) => return Err(format!("{named}: key {why}")),
    };
    let value = parse_value(&entry.map_entry_value_field().kind(), raw)
        .map_err(|why| format!("{named}: {why}"))?;
    if let Some(map) = target.get_field_mut(&field).as_map_mut() {
        map.insert(key, value);
    }
    Ok(())
}

/// The message holding the field at `path`, and the field; errors begin with `named`.
fn field_at<'a>(
    message: &'a mut DynamicMessage,
    path: &[String],
    named: &str,
) -> Result<(&'a mut DynamicMessage, FieldDescriptor), String> {
    let (leaf, parents) = path
        .split_last()
        .ok_or_else(|| "empty field path".to_owned())?;
    let target = message_at_mut(message, parents).map_err(|why| format!("{named}: {why}"))?;
    let field =
        find_field(&target.descriptor(), leaf).ok_or_else(|| format!("{named}: no such field"))?;
    Ok((target, field))
}

/// The nested message at `parents` (each a singular message field), created when unset.
pub fn message_at_mut<'a>(
    message: &'a mut DynamicMessage,
    parents: &[String],
) -> Result<&'a mut DynamicMessage, String> {
    let mut target = message;
    for name in parents {
        let field =
            find_field(&target.descriptor(), name).ok_or_else(|| format!("no field {name:?}"))?;
        if field.is_list() || field.is_map() || !matches!(field.kind(), Kind::Message(_)) {
            return Err(format!("{name} is not a message field"));
        }
        target = target
            .get_field_mut(&field)
            .as_message_mut()
            .ok_or_else(|| format!("{name} is not a message field"))?;
    }
    Ok(target)
}

/// Parses one value of `kind` from text.
pub fn parse_value(kind: &Kind, raw: &str) -> Result<Value, String> {
    let number = |what: &str| format!("{raw:?} is not {what}");
    Ok(match kind {
        Kind::Double => Value::F64(raw.parse().map_err(|_| number("a number"))?),
        Kind::Float => Value::F32(raw.parse().map_err(|_| number("a number"))?),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::I32(raw.parse().map_err(|_| number("a 32-bit integer"))?)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            Value::I64(raw.parse().map_err(|_| number("a 64-bit integer"))?)
        }
        Kind::Uint32 | Kind::Fixed32 => {
            Value::U32(raw.parse().map_err(|_| number("an unsigned integer"))?)
        }
        Kind::Uint64 | Kind::Fixed64 => {
            Value::U64(raw.parse().map_err(|_| number("an unsigned integer"))?)
        }
        Kind::Bool => Value::Bool(raw.parse().map_err(|_| number("true or false"))?),
        Kind::String => Value::String(raw.to_owned()),
        Kind::Bytes => Value::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(raw)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(raw))
                .map_err(|_| number("base64"))?
                .into(),
        ),
        Kind::Enum(enumeration) => match enumeration.get_value_by_name(raw) {
            Some(value) => Value::EnumNumber(value.number()),
            None => Value::EnumNumber(
                raw.parse()
                    .map_err(|_| format!("{raw:?} is not a value of {}", enumeration.name()))?,
            ),
        },
        Kind::Message(message) => Value::Message(well_known_from_text(message, raw)?),
    })
}

/// Well-known types from their JSON form: `Timestamp` as RFC 3339, `Duration` as `"1.5s"`,
/// wrappers as their scalar, `FieldMask` as comma-separated paths.
fn well_known_from_text(message: &MessageDescriptor, raw: &str) -> Result<DynamicMessage, String> {
    let as_string = serde_json::Value::String(raw.to_owned());
    DynamicMessage::deserialize(message.clone(), as_string)
        .or_else(|first| {
            let parsed: serde_json::Value = serde_json::from_str(raw).map_err(|_| first)?;
            DynamicMessage::deserialize(message.clone(), parsed)
        })
        .map_err(|err| format!("{raw:?} is not a {}: {err}", message.full_name()))
}

#[cfg(test)]
#[path = "fields_tests.rs"]
mod tests;
