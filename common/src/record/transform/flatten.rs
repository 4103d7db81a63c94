//! `Flatten$Key` / `$Value`: nested structs (or maps) become top-level
//! fields named by their path joined with `delimiter`.

use super::{
    Record, SchemaAndValue, SchemaCache, Side, Struct, Value, add_field, require_map, set_operating,
    struct_builder_like, take_operating,
};
use crate::record::{Schema, SchemaBuilder, SchemaType};

const PURPOSE: &str = "flattening";

#[derive(Debug)]
pub(crate) struct Flatten {
    side: Side,
    delimiter: String,
    schemas: SchemaCache,
}

impl Flatten {
    pub(crate) fn new(side: Side, delimiter: String) -> Self {
        Self { side, delimiter, schemas: SchemaCache::default() }
    }

    fn name(&self, prefix: &str, name: &str) -> String {
        if prefix.is_empty() { name.to_owned() } else { format!("{prefix}{}{name}", self.delimiter) }
    }

    pub(crate) fn apply(&self, mut record: Record) -> Result<Record, String> {
        let SchemaAndValue { schema, value } = take_operating(&mut record, self.side);
        let flat = match schema {
            None if value.is_null() => SchemaAndValue::NULL,
            None => {
                let mut out = Vec::new();
                self.flatten_map(require_map(value, PURPOSE)?, "", &mut out)?;
                SchemaAndValue::schemaless(Value::Map(out))
            }
            Some(schema) => {
                let updated = self.schemas.get_or_build(&schema, |s| self.updated_schema(s))?;
                let value = match value {
                    Value::Null => Value::Null,
                    Value::Struct(s) => {
                        let mut values = Vec::with_capacity(updated.fields().len());
                        flatten_struct(Some(&s), &mut values);
                        Value::Struct(Struct::from_values(updated.clone(), values)?)
                    }
                    other => {
                        return Err(format!(
                            "Only Struct objects supported for [{PURPOSE}], found: {}",
                            other.kind()
                        ));
                    }
                };
                SchemaAndValue::new(updated, value)
            }
        };
        set_operating(&mut record, self.side, flat);
        Ok(record)
    }

    fn flatten_map(
        &self,
        map: Vec<(Value, Value)>,
        prefix: &str,
        out: &mut Vec<(Value, Value)>,
    ) -> Result<(), String> {
        for (key, value) in map {
            // require_map checked that every key is a string.
            let name = self.name(prefix, key.as_str().unwrap_or_default());
            match value {
                Value::Map(_) => self.flatten_map(require_map(value, PURPOSE)?, &name, out)?,
                Value::Struct(_) => {
                    return Err(format!(
                        "Flatten transformation does not support struct for record without schemas (for field {name})."
                    ));
                }
                v => super::map_put(out, &name, v),
            }
        }
        Ok(())
    }

    fn updated_schema(&self, schema: &Schema) -> Result<Schema, String> {
        if schema.schema_type() != SchemaType::Struct {
            return Err(format!(
                "Only Struct objects supported for [{PURPOSE}], found schema type {}",
                schema.schema_type()
            ));
        }
        let mut builder = struct_builder_like(schema);
        let mut seen = Vec::new();
        let default = schema.default_value().and_then(Value::as_struct);
        self.add_fields(schema, "", &mut builder, &mut seen, schema.is_optional(), default)?;
        Ok(builder.build())
    }

    /// Kafka's `buildUpdatedSchema`: optionality and defaults flow down from
    /// the parents.
    fn add_fields(
        &self,
        schema: &Schema,
        prefix: &str,
        builder: &mut SchemaBuilder,
        seen: &mut Vec<String>,
        optional: bool,
        parent_default: Option<&Struct>,
    ) -> Result<(), String> {
        for field in schema.fields() {
            let name = self.name(prefix, field.name());
            let field_optional = optional || field.schema().is_optional();
            let default = field
                .schema()
                .default_value()
                .or_else(|| parent_default.and_then(|d| d.get_or_default(field.name())))
                .filter(|d| !d.is_null());
            if field.schema().schema_type() == SchemaType::Struct {
                let default = default.and_then(Value::as_struct);
                self.add_fields(field.schema(), &name, builder, seen, field_optional, default)?;
            } else {
                let mut field_schema = copy_basics(field.schema()).with_optional(field_optional);
                if let Some(d) = default {
                    field_schema = field_schema.default_value(d.clone());
                }
                let taken = std::mem::replace(builder, SchemaBuilder::struct_());
                *builder = add_field(taken, seen, &name, field_schema.build())?;
            }
        }
        Ok(())
    }
}

/// Kafka's `buildWithSchema`: leaf values in field order, as stored; a
/// null nested struct leaves its leaves null.
fn flatten_struct(s: Option<&Struct>, out: &mut Vec<Value>) {
    let Some(s) = s else { return };
    for field in s.schema().fields() {
        if field.schema().schema_type() == SchemaType::Struct {
            let nested = s.get_or_default(field.name()).and_then(Value::as_struct);
            match nested {
                Some(nested) => flatten_struct(Some(nested), out),
                None => out.resize(out.len() + leaf_count(field.schema()), Value::Null),
            }
        } else {
            out.push(s.get(field.name()).cloned().unwrap_or(Value::Null));
        }
    }
}

fn leaf_count(schema: &Schema) -> usize {
    schema
        .fields()
        .iter()
        .map(|f| if f.schema().schema_type() == SchemaType::Struct { leaf_count(f.schema()) } else { 1 })
        .sum()
}

/// Connect's `SchemaUtil.copySchemaBasics(Schema)`: type, element schemas,
/// name, version, doc and parameters; no optionality or default.
fn copy_basics(schema: &Schema) -> SchemaBuilder {
    let builder = match (schema.schema_type(), schema.key_schema(), schema.value_schema()) {
        (SchemaType::Array, _, Some(v)) => SchemaBuilder::array(v.clone()),
        (SchemaType::Map, Some(k), Some(v)) => SchemaBuilder::map(k.clone(), v.clone()),
        (ty, _, _) => SchemaBuilder::new(ty),
    };
    super::copy_schema_basics(schema, builder)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn city() -> Schema {
        SchemaBuilder::struct_()
            .optional()
            .field("name", Schema::of(SchemaType::String))
            .field("since", SchemaBuilder::date().build())
            .build()
    }

    fn schema() -> Schema {
        SchemaBuilder::struct_()
            .name("address")
            .field("id", Schema::of(SchemaType::Int32))
            .field("city", city())
            .build()
    }

    fn record(city_value: Value) -> Record {
        let s = Struct::from_values(schema(), vec![Value::Int32(1), city_value]).unwrap();
        Record::new("t", SchemaAndValue::new(schema(), Value::Struct(s)))
    }

    #[test]
    fn structs_flatten_with_optionality_from_parents() {
        let city_value = Struct::from_values(city(), vec!["Tbilisi".into(), Value::Date(5)]).unwrap();
        let t = Flatten::new(Side::Value, ".".into());
        let out = t.apply(record(Value::Struct(city_value))).unwrap();
        let schema = out.value.schema.clone().unwrap();
        let fields: Vec<_> = schema.fields().iter().map(|f| (f.name(), f.schema().is_optional())).collect();
        assert_eq!(fields, [("id", false), ("city.name", true), ("city.since", true)]);
        assert_eq!(schema.field("city.since").unwrap().schema().name(), Some(crate::record::DATE_NAME));
        assert_eq!(schema.name(), Some("address"));
        let values = out.value.value.as_struct().unwrap().values().to_vec();
        assert_eq!(values, [Value::Int32(1), "Tbilisi".into(), Value::Date(5)]);
        let null_city = t.apply(record(Value::Null)).unwrap();
        assert_eq!(
            null_city.value.value.as_struct().unwrap().values(),
            [Value::Int32(1), Value::Null, Value::Null]
        );
    }

    #[test]
    fn schemaless_maps_flatten_and_structs_inside_fail() {
        let inner = Value::Map(vec![("b".into(), Value::Int64(2))]);
        let value = Value::Map(vec![("a".into(), inner), ("c".into(), Value::Null)]);
        let t = Flatten::new(Side::Value, "_".into());
        let out = t.apply(Record::new("t", SchemaAndValue::schemaless(value))).unwrap();
        assert_eq!(
            out.value.value,
            Value::Map(vec![("a_b".into(), Value::Int64(2)), ("c".into(), Value::Null)])
        );
        let s = Struct::from_values(city(), vec!["x".into(), Value::Date(0)]).unwrap();
        let bad = Value::Map(vec![("s".into(), Value::Struct(s))]);
        assert!(
            t.apply(Record::new("t", SchemaAndValue::schemaless(bad))).unwrap_err().contains("(for field s)")
        );
        assert_eq!(t.apply(Record::new("t", SchemaAndValue::NULL)).unwrap().value, SchemaAndValue::NULL);
    }
}
