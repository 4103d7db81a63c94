//! `ExtractField$Key` / `$Value`: the key or value becomes one of its fields.

use super::{
    Record, SchemaAndValue, Side, Value, map_get, require_map, require_struct, set_operating, take_operating,
};
use crate::record::{Schema, SchemaType};

const PURPOSE: &str = "field extraction";

#[derive(Debug)]
pub(crate) struct ExtractField {
    side: Side,
    /// The field as configured, for messages.
    original: String,
    /// One name, or with `field.syntax.version=V2` the nested path.
    path: Vec<String>,
    replace_null_with_default: bool,
}

impl ExtractField {
    pub(crate) fn new(
        side: Side,
        field: &str,
        nested: bool,
        replace_null_with_default: bool,
    ) -> Result<Self, String> {
        let path = if nested { parse_path(field)? } else { vec![field.to_owned()] };
        Ok(Self { side, original: field.to_owned(), path, replace_null_with_default })
    }

    pub(crate) fn apply(&self, mut record: Record) -> Result<Record, String> {
        let SchemaAndValue { schema, value } = take_operating(&mut record, self.side);
        let extracted = match schema {
            None => {
                let value = if value.is_null() { Value::Null } else { self.value_in_map(value)? };
                SchemaAndValue::schemaless(value)
            }
            Some(schema) => {
                // Kafka checks the value's shape before looking the field up.
                let value =
                    if value.is_null() { value } else { Value::Struct(require_struct(value, PURPOSE)?) };
                let field_schema =
                    self.field_schema(&schema).ok_or_else(|| format!("Unknown field: {}", self.original))?;
                let value = if value.is_null() { Value::Null } else { self.value_in_struct(value)? };
                SchemaAndValue::new(field_schema, value)
            }
        };
        set_operating(&mut record, self.side, extracted);
        Ok(record)
    }

    fn field_schema(&self, schema: &Schema) -> Option<Schema> {
        let mut current = schema.clone();
        for name in &self.path {
            if current.schema_type() != SchemaType::Struct {
                return None;
            }
            current = current.field(name)?.schema().clone();
        }
        Some(current)
    }

    fn value_in_struct(&self, value: Value) -> Result<Value, String> {
        let mut current = Value::Struct(require_struct(value, PURPOSE)?);
        for name in &self.path {
            current = match current {
                Value::Struct(s) => {
                    let field =
                        s.schema().field(name).ok_or_else(|| format!("Unknown field: {}", self.original))?;
                    let index = field.index();
                    let default = field.schema().default_value().cloned();
                    match (s.into_values().swap_remove(index), default) {
                        (Value::Null, Some(d)) if self.replace_null_with_default => d,
                        (v, _) => v,
                    }
                }
                // A null parent yields null, as Kafka's nested lookups do.
                _ => return Ok(Value::Null),
            };
        }
        Ok(current)
    }

    fn value_in_map(&self, value: Value) -> Result<Value, String> {
        let mut current = Value::Map(require_map(value, PURPOSE)?);
        for name in &self.path {
            current = match &current {
                Value::Map(entries) => map_get(entries, name).cloned().unwrap_or(Value::Null),
                _ => return Ok(Value::Null),
            };
        }
        Ok(current)
    }
}

/// A V2 field path: names separated by dots; a name holding dots is quoted
/// in backticks.
fn parse_path(text: &str) -> Result<Vec<String>, String> {
    let mut path = Vec::new();
    let mut rest = text;
    loop {
        let (name, after) = match rest.strip_prefix('`') {
            Some(quoted) => {
                let end =
                    quoted.find('`').ok_or_else(|| format!("unclosed backtick in field path '{text}'"))?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => rest.split_at(rest.find('.').unwrap_or(rest.len())),
        };
        path.push(name.to_owned());
        match after.strip_prefix('.') {
            Some(next) => rest = next,
            None if after.is_empty() => return Ok(path),
            None => return Err(format!("field path '{text}': expected '.' after a quoted name")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{SchemaBuilder, Struct};

    fn key_record() -> Record {
        let schema = SchemaBuilder::struct_()
            .field("address_id", Schema::of(SchemaType::Int32))
            .field(
                "code",
                SchemaBuilder::new(SchemaType::String).optional().default_value("none".into()).build(),
            )
            .build();
        let key = Struct::from_values(schema.clone(), vec![Value::Int32(100), Value::Null]).unwrap();
        let mut r = Record::new("t", SchemaAndValue::schemaless(Value::Int32(1)));
        r.key = SchemaAndValue::new(schema, Value::Struct(key));
        r
    }

    #[test]
    fn extracts_a_key_field_with_its_schema() {
        let t = ExtractField::new(Side::Key, "address_id", false, true).unwrap();
        let out = t.apply(key_record()).unwrap();
        assert_eq!(out.key, SchemaAndValue::new(Schema::of(SchemaType::Int32), Value::Int32(100)));
        assert_eq!(out.value.value, Value::Int32(1));
    }

    #[test]
    fn defaults_apply_only_when_asked() {
        let with = ExtractField::new(Side::Key, "code", false, true).unwrap().apply(key_record()).unwrap();
        assert_eq!(with.key.value, Value::from("none"));
        let without =
            ExtractField::new(Side::Key, "code", false, false).unwrap().apply(key_record()).unwrap();
        assert_eq!(without.key.value, Value::Null);
    }

    #[test]
    fn unknown_fields_fail_and_null_stays_null() {
        let t = ExtractField::new(Side::Key, "nope", false, true).unwrap();
        assert_eq!(t.apply(key_record()).unwrap_err(), "Unknown field: nope");
        let t = ExtractField::new(Side::Value, "a", false, true).unwrap();
        let out = t.apply(Record::new("t", SchemaAndValue::NULL)).unwrap();
        assert_eq!(out.value, SchemaAndValue::NULL);
        let mut r = key_record();
        r.key.value = Value::Null;
        let out = ExtractField::new(Side::Key, "address_id", false, true).unwrap().apply(r).unwrap();
        assert_eq!(out.key, SchemaAndValue::new(Schema::of(SchemaType::Int32), Value::Null));
        let t = ExtractField::new(Side::Value, "a", false, true).unwrap();
        assert!(t.apply(Record::new("t", SchemaAndValue::schemaless(Value::Int32(1)))).is_err());
        let int = SchemaAndValue::new(Schema::of(SchemaType::Int32), Value::Int32(1));
        assert!(t.apply(Record::new("t", int)).unwrap_err().contains("Only Struct objects"));
    }

    #[test]
    fn schemaless_and_nested_paths() {
        let inner = Value::Map(vec![("b.c".into(), Value::Int64(7))]);
        let value = Value::Map(vec![("a".into(), inner.clone())]);
        let r = || Record::new("t", SchemaAndValue::schemaless(value.clone()));
        let flat = ExtractField::new(Side::Value, "a", false, true).unwrap().apply(r()).unwrap();
        assert_eq!(flat.value, SchemaAndValue::schemaless(inner));
        let nested = ExtractField::new(Side::Value, "a.`b.c`", true, true).unwrap().apply(r()).unwrap();
        assert_eq!(nested.value.value, Value::Int64(7));
        let absent = ExtractField::new(Side::Value, "a.x.y", true, true).unwrap().apply(r()).unwrap();
        assert_eq!(absent.value.value, Value::Null);
        assert_eq!(parse_path("a.b").unwrap(), ["a", "b"]);
        assert!(parse_path("`a").is_err());
    }
}
