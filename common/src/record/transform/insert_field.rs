//! `InsertField$Key` / `$Value`: adds the topic, partition, offset,
//! timestamp or a static string as fields at the end.

use super::{
    Record, SchemaAndValue, SchemaCache, Side, Struct, Value, add_field, map_put, operating, require_map,
    require_struct, set_operating, struct_builder_like, take_operating,
};
use crate::connect::{FieldSpec, Transform};
use crate::record::{Schema, SchemaBuilder, SchemaType};

const PURPOSE: &str = "field insertion";

#[derive(Debug)]
pub(crate) struct InsertField {
    side: Side,
    topic: Option<FieldSpec>,
    partition: Option<FieldSpec>,
    offset: Option<FieldSpec>,
    timestamp: Option<FieldSpec>,
    static_field: Option<(FieldSpec, String)>,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

impl InsertField {
    /// From a [`Transform::InsertField`] (any other variant inserts nothing).
    pub(crate) fn new(transform: &Transform) -> Self {
        let mut t = Self {
            side: Side::Value,
            topic: None,
            partition: None,
            offset: None,
            timestamp: None,
            static_field: None,
            replace_null_with_default: true,
            schemas: SchemaCache::default(),
        };
        if let Transform::InsertField {
            side,
            topic_field,
            partition_field,
            offset_field,
            timestamp_field,
            static_field,
            replace_null_with_default,
        } = transform
        {
            t.side = *side;
            t.topic = topic_field.clone();
            t.partition = partition_field.clone();
            t.offset = offset_field.clone();
            t.timestamp = timestamp_field.clone();
            t.static_field = static_field.clone();
            t.replace_null_with_default = *replace_null_with_default;
        }
        t
    }

    pub(crate) fn apply(&mut self, mut record: Record) -> Result<Record, String> {
        // Tombstones (and null keys) pass through untouched.
        if operating(&record, self.side).value.is_null() {
            return Ok(record);
        }
        let inserts = self.inserts(&record)?;
        let SchemaAndValue { schema, value } = take_operating(&mut record, self.side);
        let updated = match schema {
            None => {
                let mut map = require_map(value, PURPOSE)?;
                for (name, value) in inserts {
                    let value = match value {
                        // Schemaless timestamps stay plain longs, as in Kafka.
                        Value::Timestamp(ms) => Value::Int64(ms),
                        v => v,
                    };
                    map_put(&mut map, name, value);
                }
                SchemaAndValue::schemaless(Value::Map(map))
            }
            Some(schema) => {
                let s = require_struct(value, PURPOSE)?;
                let updated_schema = self.schemas.get_or_build(&schema, |s| self.updated_schema(s))?;
                let mut values = Vec::with_capacity(updated_schema.fields().len());
                for field in schema.fields() {
                    let v = s.get_index(field.index()).cloned().unwrap_or(Value::Null);
                    values.push(match (v, field.schema().default_value()) {
                        (Value::Null, Some(d)) if self.replace_null_with_default => d.clone(),
                        (v, _) => v,
                    });
                }
                values.resize(updated_schema.fields().len(), Value::Null);
                let mut updated = Struct::from_values(updated_schema.clone(), values)?;
                for (name, value) in inserts {
                    updated.put(name, value)?;
                }
                SchemaAndValue::new(updated_schema, Value::Struct(updated))
            }
        };
        set_operating(&mut record, self.side, updated);
        Ok(record)
    }

    /// The fields to set, in Kafka's order; a null partition or timestamp
    /// is skipped (the field stays null).
    fn inserts(&self, record: &Record) -> Result<Vec<(&str, Value)>, String> {
        let mut out = Vec::new();
        if let Some(f) = &self.topic {
            out.push((f.name.as_str(), Value::from(record.topic.as_str())));
        }
        if let (Some(f), Some(p)) = (&self.partition, record.partition) {
            out.push((f.name.as_str(), Value::Int32(p)));
        }
        if let Some(f) = &self.offset {
            let offset = record.offset.ok_or_else(|| {
                format!("Only SinkRecord supported for [{PURPOSE}], found: a record without an offset")
            })?;
            out.push((f.name.as_str(), Value::Int64(offset)));
        }
        if let (Some(f), Some(ts)) = (&self.timestamp, record.timestamp) {
            out.push((f.name.as_str(), Value::Timestamp(ts)));
        }
        if let Some((f, value)) = &self.static_field {
            out.push((f.name.as_str(), Value::from(value.as_str())));
        }
        Ok(out)
    }

    fn updated_schema(&self, schema: &Schema) -> Result<Schema, String> {
        let mut builder = struct_builder_like(schema);
        let mut seen = Vec::with_capacity(schema.fields().len() + 5);
        for field in schema.fields() {
            builder = add_field(builder, &mut seen, field.name(), field.schema().clone())?;
        }
        let with = |b: SchemaBuilder, optional: bool| b.with_optional(optional).build();
        let static_field = self.static_field.as_ref().map(|(f, _)| f.clone());
        let added = [
            (&self.topic, SchemaBuilder::new(SchemaType::String)),
            (&self.partition, SchemaBuilder::new(SchemaType::Int32)),
            (&self.offset, SchemaBuilder::new(SchemaType::Int64)),
            (&self.timestamp, SchemaBuilder::timestamp()),
            (&static_field, SchemaBuilder::new(SchemaType::String)),
        ];
        for (spec, field_builder) in added {
            if let Some(f) = spec {
                builder = add_field(builder, &mut seen, &f.name, with(field_builder, f.optional))?;
            }
        }
        Ok(builder.build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::FieldSpec;

    fn spec(name: &str, optional: bool) -> Option<FieldSpec> {
        Some(FieldSpec { name: name.into(), optional })
    }

    fn insert(side: Side) -> InsertField {
        InsertField::new(&Transform::InsertField {
            side,
            topic_field: spec("t", true),
            partition_field: spec("p", false),
            offset_field: spec("o", true),
            timestamp_field: spec("ts", true),
            static_field: Some((FieldSpec { name: "s".into(), optional: false }, "pagila".into())),
            replace_null_with_default: true,
        })
    }

    fn value_schema() -> Schema {
        SchemaBuilder::struct_().name("address").version(3).field("id", Schema::of(SchemaType::Int32)).build()
    }

    fn sink_record(value: SchemaAndValue) -> Record {
        Record { partition: Some(2), offset: Some(42), timestamp: Some(1_000), ..Record::new("topic", value) }
    }

    #[test]
    fn with_schema_appends_fields_with_kafka_schemas() {
        let s = Struct::from_values(value_schema(), vec![Value::Int32(1)]).unwrap();
        let mut t = insert(Side::Value);
        let out = t.apply(sink_record(SchemaAndValue::new(value_schema(), Value::Struct(s)))).unwrap();
        let schema = out.value.schema.clone().unwrap();
        assert_eq!(
            (schema.name(), schema.version(), schema.is_optional()),
            (Some("address"), Some(3), false)
        );
        let fields: Vec<_> = schema
            .fields()
            .iter()
            .map(|f| (f.name(), f.schema().schema_type(), f.schema().is_optional()))
            .collect();
        assert_eq!(
            fields,
            [
                ("id", SchemaType::Int32, false),
                ("t", SchemaType::String, true),
                ("p", SchemaType::Int32, false),
                ("o", SchemaType::Int64, true),
                ("ts", SchemaType::Int64, true),
                ("s", SchemaType::String, false),
            ]
        );
        assert_eq!(schema.field("ts").unwrap().schema().name(), Some(crate::record::TIMESTAMP_NAME));
        let v = out.value.value.as_struct().unwrap();
        assert_eq!(
            v.values(),
            [
                Value::Int32(1),
                "topic".into(),
                Value::Int32(2),
                Value::Int64(42),
                Value::Timestamp(1_000),
                "pagila".into()
            ]
        );
    }

    #[test]
    fn schemaless_puts_plain_values_and_tombstones_pass() {
        let mut t = insert(Side::Key);
        let mut r = sink_record(SchemaAndValue::NULL);
        r.key = SchemaAndValue::schemaless(Value::Map(vec![("t".into(), Value::Int32(0))]));
        let out = t.apply(r).unwrap();
        assert_eq!(
            out.key.value,
            Value::Map(vec![
                ("t".into(), "topic".into()),
                ("p".into(), Value::Int32(2)),
                ("o".into(), Value::Int64(42)),
                ("ts".into(), Value::Int64(1_000)),
                ("s".into(), "pagila".into()),
            ])
        );
        let tombstone = sink_record(SchemaAndValue::NULL);
        assert_eq!(insert(Side::Value).apply(tombstone.clone()).unwrap(), tombstone);
    }

    #[test]
    fn offsets_need_sink_records_and_names_must_be_new() {
        let s = Struct::from_values(value_schema(), vec![Value::Int32(1)]).unwrap();
        let value = SchemaAndValue::new(value_schema(), Value::Struct(s));
        let source = Record { offset: None, ..sink_record(value.clone()) };
        assert!(insert(Side::Value).apply(source).unwrap_err().contains("SinkRecord"));
        let mut clash = InsertField::new(&Transform::InsertField {
            side: Side::Value,
            topic_field: spec("id", true),
            partition_field: None,
            offset_field: None,
            timestamp_field: None,
            static_field: None,
            replace_null_with_default: true,
        });
        assert!(clash.apply(sink_record(value)).unwrap_err().contains("duplication id"));
    }
}
