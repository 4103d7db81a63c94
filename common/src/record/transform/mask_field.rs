//! `MaskField$Key` / `$Value`: replaces field values with their type's
//! empty value (0, false, "", epoch, empty list or map) or a replacement.

use super::{
    Record, SchemaAndValue, Side, Struct, Value, map_get, map_put, operating, require_map, require_struct,
    set_operating, struct_get, take_operating,
};
use crate::record::Decimal;

const PURPOSE: &str = "mask fields";

#[derive(Debug)]
pub(crate) struct MaskField {
    side: Side,
    fields: Vec<String>,
    replacement: Option<String>,
    replace_null_with_default: bool,
}

impl MaskField {
    pub(crate) fn new(
        side: Side,
        fields: Vec<String>,
        replacement: Option<String>,
        replace_null_with_default: bool,
    ) -> Self {
        Self { side, fields, replacement, replace_null_with_default }
    }

    pub(crate) fn apply(&self, mut record: Record) -> Result<Record, String> {
        if operating(&record, self.side).value.is_null() {
            return Ok(record);
        }
        let SchemaAndValue { schema, value } = take_operating(&mut record, self.side);
        let masked = match schema {
            None => {
                let mut map = require_map(value, PURPOSE)?;
                for name in &self.fields {
                    let value = self.mask(map_get(&map, name).cloned().unwrap_or(Value::Null))?;
                    map_put(&mut map, name, value);
                }
                SchemaAndValue::schemaless(Value::Map(map))
            }
            Some(schema) => {
                let s = require_struct(value, PURPOSE)?;
                let mut values = Vec::with_capacity(schema.fields().len());
                for field in schema.fields() {
                    let v =
                        struct_get(&s, field.name(), self.replace_null_with_default).unwrap_or(Value::Null);
                    let masked = self.fields.iter().any(|f| f == field.name());
                    values.push(if masked {
                        self.mask(v).map_err(|e| format!("field {}: {e}", field.name()))?
                    } else {
                        v
                    });
                }
                let masked = Struct::from_values(schema.clone(), values)?;
                masked.validate()?;
                SchemaAndValue::new(schema, Value::Struct(masked))
            }
        };
        set_operating(&mut record, self.side, masked);
        Ok(record)
    }

    fn mask(&self, value: Value) -> Result<Value, String> {
        match &self.replacement {
            _ if value.is_null() => Ok(Value::Null),
            None => empty_of(value),
            Some(replacement) => replace_with(value, replacement),
        }
    }
}

/// Kafka's `PRIMITIVE_VALUE_MAPPING`, plus empty collections.
fn empty_of(value: Value) -> Result<Value, String> {
    Ok(match value {
        Value::Boolean(_) => Value::Boolean(false),
        Value::Int8(_) => Value::Int8(0),
        Value::Int16(_) => Value::Int16(0),
        Value::Int32(_) => Value::Int32(0),
        Value::Int64(_) => Value::Int64(0),
        Value::Float32(_) => Value::Float32(0.0),
        Value::Float64(_) => Value::Float64(0.0),
        Value::String(_) => Value::from(""),
        // Kafka's BigDecimal.ZERO has scale 0; the value's scale keeps it writable.
        Value::Decimal(d) => Value::Decimal(Decimal::from_i128(0, d.scale())),
        Value::Date(_) => Value::Date(0),
        Value::Time(_) => Value::Time(0),
        Value::Timestamp(_) => Value::Timestamp(0),
        Value::Array(_) => Value::Array(Vec::new()),
        Value::Map(_) => Value::Map(Vec::new()),
        other => return Err(format!("Cannot mask value of type: {}", other.kind())),
    })
}

/// Kafka's `REPLACEMENT_MAPPING_FUNC`: the replacement parsed as the value's type.
fn replace_with(value: Value, replacement: &str) -> Result<Value, String> {
    let number = || format!("Unable to convert {replacement} (String) to number");
    let text = replacement.trim();
    Ok(match value {
        Value::Int8(_) => Value::Int8(text.parse().map_err(|_| number())?),
        Value::Int16(_) => Value::Int16(text.parse().map_err(|_| number())?),
        Value::Int32(_) => Value::Int32(text.parse().map_err(|_| number())?),
        Value::Int64(_) => Value::Int64(text.parse().map_err(|_| number())?),
        Value::Float32(_) => Value::Float32(text.parse().map_err(|_| number())?),
        Value::Float64(_) => Value::Float64(text.parse().map_err(|_| number())?),
        Value::String(_) => Value::from(replacement),
        Value::Decimal(d) => {
            let parsed = Decimal::parse(text).ok_or_else(number)?;
            Value::Decimal(parsed.rescale(d.scale()).ok_or_else(number)?)
        }
        other => return Err(format!("Cannot mask value of type {} with custom replacement.", other.kind())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Schema, SchemaBuilder, SchemaType};

    fn schema() -> Schema {
        SchemaBuilder::struct_()
            .field("id", Schema::of(SchemaType::Int32))
            .field("phone", Schema::of(SchemaType::String))
            .field("seen", SchemaBuilder::timestamp().build())
            .field("note", Schema::optional_of(SchemaType::String))
            .build()
    }

    fn record() -> Record {
        let values = vec![Value::Int32(7), "555".into(), Value::Timestamp(99), Value::Null];
        Record::new(
            "t",
            SchemaAndValue::new(schema(), Value::Struct(Struct::from_values(schema(), values).unwrap())),
        )
    }

    fn fields(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn masks_with_empty_values_keeping_schema_and_nulls() {
        let t = MaskField::new(Side::Value, fields(&["id", "phone", "seen", "note"]), None, true);
        let out = t.apply(record()).unwrap();
        assert_eq!(out.value.schema.as_ref(), Some(&schema()));
        let values = out.value.value.as_struct().unwrap().values().to_vec();
        assert_eq!(values, [Value::Int32(0), "".into(), Value::Timestamp(0), Value::Null]);
    }

    #[test]
    fn replacements_are_parsed_as_the_field_type() {
        let t = MaskField::new(Side::Value, fields(&["id", "phone"]), Some("42".into()), true);
        let values = t.apply(record()).unwrap().value.value.as_struct().unwrap().values().to_vec();
        assert_eq!(&values[..2], [Value::Int32(42), "42".into()]);
        let t = MaskField::new(Side::Value, fields(&["id"]), Some("x".into()), true);
        assert!(t.apply(record()).unwrap_err().contains("to number"));
        let t = MaskField::new(Side::Value, fields(&["seen"]), Some("0".into()), true);
        assert!(t.apply(record()).unwrap_err().contains("custom replacement"));
    }

    #[test]
    fn schemaless_maps() {
        let value = Value::Map(vec![
            ("a".into(), Value::Boolean(true)),
            ("b".into(), Value::Array(vec![Value::Int64(1)])),
        ]);
        let t = MaskField::new(Side::Value, fields(&["a", "b"]), None, true);
        let out = t.apply(Record::new("t", SchemaAndValue::schemaless(value))).unwrap();
        assert_eq!(
            out.value.value,
            Value::Map(vec![("a".into(), Value::Boolean(false)), ("b".into(), Value::Array(vec![]))])
        );
    }
}
