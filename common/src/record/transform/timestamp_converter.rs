//! `TimestampConverter$Key` / `$Value`: converts a timestamp field (or the
//! whole key or value) between strings, unix numbers, Date, Time and
//! Timestamp, as Kafka's.

use super::date_format::DateFormat;
use super::{
    Record, SchemaAndValue, SchemaCache, Side, Struct, Value, map_get, map_put, require_map, set_operating,
    struct_builder_like, struct_get, take_operating,
};
use crate::connect::{TimestampTarget, UnixPrecision};
use crate::record::{Logical, Schema, SchemaBuilder, SchemaType};

const PURPOSE: &str = "converting timestamp formats";
const MILLIS_PER_DAY: i64 = 86_400_000;

#[derive(Debug)]
pub(crate) struct TimestampConverter {
    side: Side,
    field: Option<String>,
    target: TimestampTarget,
    format: Option<DateFormat>,
    precision: UnixPrecision,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

impl TimestampConverter {
    pub(crate) fn new(
        side: Side,
        field: Option<String>,
        target: TimestampTarget,
        format: Option<&str>,
        precision: UnixPrecision,
        replace_null_with_default: bool,
    ) -> Result<Self, String> {
        let format = format.map(DateFormat::new).transpose()?;
        if target == TimestampTarget::String && format.is_none() {
            return Err(
                "TimestampConverter requires format option to be specified when using string timestamps"
                    .into(),
            );
        }
        Ok(Self {
            side,
            field,
            target,
            format,
            precision,
            replace_null_with_default,
            schemas: SchemaCache::default(),
        })
    }

    pub(crate) fn apply(&self, mut record: Record) -> Result<Record, String> {
        let SchemaAndValue { schema, value } = take_operating(&mut record, self.side);
        let converted = match (schema, &self.field) {
            (None, None) => SchemaAndValue::schemaless(self.convert(value, None)?),
            (None, Some(_)) if value.is_null() => SchemaAndValue::NULL,
            (None, Some(field)) => {
                let mut map = require_map(value, PURPOSE)?;
                let v = self.convert(map_get(&map, field).cloned().unwrap_or(Value::Null), None)?;
                map_put(&mut map, field, v);
                SchemaAndValue::schemaless(Value::Map(map))
            }
            (Some(schema), None) => {
                let from = source_type(&schema)?;
                SchemaAndValue::new(
                    self.target_schema(schema.is_optional()),
                    self.convert(value, Some(from))?,
                )
            }
            (Some(schema), Some(field)) => {
                let updated = self.schemas.get_or_build(&schema, |s| self.updated_schema(s, field))?;
                let value = match value {
                    Value::Null => Value::Null,
                    Value::Struct(s) => Value::Struct(self.convert_struct(&s, field, &updated)?),
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
        set_operating(&mut record, self.side, converted);
        Ok(record)
    }

    fn updated_schema(&self, schema: &Schema, name: &str) -> Result<Schema, String> {
        let mut builder = struct_builder_like(schema);
        for field in schema.fields() {
            let field_schema = if field.name() == name {
                self.target_schema(field.schema().is_optional())
            } else {
                field.schema().clone()
            };
            builder = builder.field(field.name(), field_schema);
        }
        if schema.is_optional() {
            builder = builder.optional();
        }
        if let Some(Value::Struct(default)) = schema.default_value() {
            // The default is converted against the schema being built, as Kafka does.
            let partial = builder.clone().build();
            builder = builder.default_value(Value::Struct(self.convert_struct(default, name, &partial)?));
        }
        Ok(builder.build())
    }

    fn convert_struct(&self, s: &Struct, name: &str, updated: &Schema) -> Result<Struct, String> {
        let mut values = Vec::with_capacity(s.schema().fields().len());
        for field in s.schema().fields() {
            let v = struct_get(s, field.name(), self.replace_null_with_default).unwrap_or(Value::Null);
            values.push(if field.name() == name {
                self.convert(v, Some(source_type(field.schema())?))
                    .map_err(|e| format!("field {name}: {e}"))?
            } else {
                v
            });
        }
        let converted = Struct::from_values(updated.clone(), values)?;
        converted.validate()?;
        Ok(converted)
    }

    fn target_schema(&self, optional: bool) -> Schema {
        let builder = match self.target {
            TimestampTarget::String => SchemaBuilder::new(SchemaType::String),
            TimestampTarget::Unix => SchemaBuilder::new(SchemaType::Int64),
            TimestampTarget::Date => SchemaBuilder::date(),
            TimestampTarget::Time => SchemaBuilder::time(),
            TimestampTarget::Timestamp => SchemaBuilder::timestamp(),
        };
        builder.with_optional(optional).build()
    }

    /// Kafka's `convertTimestamp`: to raw milliseconds by the source type
    /// (from the schema, else inferred from the value), then to the target.
    fn convert(&self, value: Value, from: Option<TimestampTarget>) -> Result<Value, String> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let from = match from {
            Some(from) => from,
            None => match &value {
                Value::Date(_) | Value::Time(_) | Value::Timestamp(_) => TimestampTarget::Timestamp,
                Value::Int64(_) => TimestampTarget::Unix,
                Value::String(_) => TimestampTarget::String,
                other => {
                    return Err(format!(
                        "TimestampConverter does not support {} objects as timestamps",
                        other.kind()
                    ));
                }
            },
        };
        let unexpected = |v: &Value| format!("Expected a {from:?} timestamp value, found {}", v.kind());
        let ms = match (from, &value) {
            (TimestampTarget::String, Value::String(s)) => {
                let format = self.format.as_ref().ok_or(
                    "TimestampConverter requires format option to be specified when using string timestamps",
                )?;
                format.parse(s)?
            }
            (TimestampTarget::Unix, Value::Int64(n)) => match self.precision {
                UnixPrecision::Seconds => n.saturating_mul(1000),
                UnixPrecision::Milliseconds => *n,
                UnixPrecision::Microseconds => n / 1000,
                UnixPrecision::Nanoseconds => n / 1_000_000,
            },
            (_, Value::Date(days)) => i64::from(*days) * MILLIS_PER_DAY,
            (_, Value::Time(ms)) => i64::from(*ms),
            (_, Value::Timestamp(ms)) => *ms,
            (_, v) => return Err(unexpected(v)),
        };
        Ok(match self.target {
            TimestampTarget::String => match &self.format {
                Some(format) => Value::String(format.format(ms)),
                None => return Err(
                    "TimestampConverter requires format option to be specified when using string timestamps"
                        .into(),
                ),
            },
            TimestampTarget::Unix => Value::Int64(match self.precision {
                UnixPrecision::Seconds => ms / 1000,
                UnixPrecision::Milliseconds => ms,
                UnixPrecision::Microseconds => ms.saturating_mul(1000),
                UnixPrecision::Nanoseconds => ms.saturating_mul(1_000_000),
            }),
            TimestampTarget::Date => Value::Date(
                i32::try_from(ms.div_euclid(MILLIS_PER_DAY))
                    .map_err(|_| format!("{ms} ms is out of Date's range"))?,
            ),
            // Both below one day, so the casts are exact.
            TimestampTarget::Time => Value::Time(ms.rem_euclid(MILLIS_PER_DAY) as i32),
            TimestampTarget::Timestamp => Value::Timestamp(ms),
        })
    }
}

/// Kafka's `timestampTypeFromSchema`.
fn source_type(schema: &Schema) -> Result<TimestampTarget, String> {
    Ok(match (schema.logical(), schema.schema_type()) {
        (Some(Logical::Timestamp), _) => TimestampTarget::Timestamp,
        (Some(Logical::Date), _) => TimestampTarget::Date,
        (Some(Logical::Time), _) => TimestampTarget::Time,
        (_, SchemaType::String) => TimestampTarget::String,
        (_, SchemaType::Int64) => TimestampTarget::Unix,
        (_, ty) => {
            return Err(format!("Schema of type {ty} does not correspond to a known timestamp type format"));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TS: i64 = 1_139_996_730_123;

    fn converter(field: Option<&str>, target: TimestampTarget, format: Option<&str>) -> TimestampConverter {
        TimestampConverter::new(
            Side::Value,
            field.map(String::from),
            target,
            format,
            UnixPrecision::Milliseconds,
            true,
        )
        .unwrap()
    }

    fn schema() -> Schema {
        SchemaBuilder::struct_()
            .name("rental")
            .field("id", Schema::of(SchemaType::Int32))
            .field("last_update", SchemaBuilder::timestamp().optional().build())
            .build()
    }

    fn record(ts: Value) -> Record {
        let s = Struct::from_values(schema(), vec![Value::Int32(1), ts]).unwrap();
        Record::new("t", SchemaAndValue::new(schema(), Value::Struct(s)))
    }

    #[test]
    fn struct_field_to_string_and_date() {
        let t = converter(Some("last_update"), TimestampTarget::String, Some("yyyy-MM-dd HH:mm:ss"));
        let out = t.apply(record(Value::Timestamp(TS))).unwrap();
        let schema = out.value.schema.clone().unwrap();
        let field = schema.field("last_update").unwrap().schema();
        assert_eq!((field.schema_type(), field.is_optional()), (SchemaType::String, true));
        let v = out.value.value.as_struct().unwrap();
        assert_eq!(v.get("last_update"), Some(&Value::from("2006-02-15 09:45:30")));
        let t = converter(Some("last_update"), TimestampTarget::Date, None);
        let out = t.apply(record(Value::Timestamp(TS))).unwrap();
        assert_eq!(out.value.value.as_struct().unwrap().get("last_update"), Some(&Value::Date(13194)));
        let nulls = t.apply(record(Value::Null)).unwrap();
        assert_eq!(nulls.value.value.as_struct().unwrap().get("last_update"), Some(&Value::Null));
    }

    #[test]
    fn whole_values_and_schemaless_fields() {
        let t = TimestampConverter::new(
            Side::Value,
            None,
            TimestampTarget::Unix,
            None,
            UnixPrecision::Seconds,
            true,
        )
        .unwrap();
        let r =
            Record::new("t", SchemaAndValue::new(SchemaBuilder::timestamp().build(), Value::Timestamp(TS)));
        assert_eq!(
            t.apply(r).unwrap().value,
            SchemaAndValue::new(Schema::of(SchemaType::Int64), Value::Int64(TS / 1000))
        );
        let t = converter(Some("at"), TimestampTarget::Timestamp, Some("yyyy-MM-dd'T'HH:mm:ss.SSSX"));
        let map = Value::Map(vec![("at".into(), "2006-02-15T09:45:30.123Z".into())]);
        let out = t.apply(Record::new("t", SchemaAndValue::schemaless(map))).unwrap();
        assert_eq!(out.value.value, Value::Map(vec![("at".into(), Value::Timestamp(TS))]));
        let time = converter(None, TimestampTarget::Time, None);
        let out = time.apply(Record::new("t", SchemaAndValue::schemaless(Value::Int64(TS)))).unwrap();
        assert_eq!(out.value.value, Value::Time((TS % MILLIS_PER_DAY) as i32));
    }

    #[test]
    fn bad_inputs_fail() {
        let t = converter(Some("id"), TimestampTarget::Timestamp, None);
        assert!(t.apply(record(Value::Null)).unwrap_err().contains("INT32"));
        let t = converter(None, TimestampTarget::Timestamp, Some("yyyy"));
        let r = Record::new("t", SchemaAndValue::schemaless(Value::Boolean(true)));
        assert!(t.apply(r).unwrap_err().contains("does not support boolean"));
        assert!(
            TimestampConverter::new(
                Side::Value,
                None,
                TimestampTarget::String,
                None,
                UnixPrecision::Seconds,
                true
            )
            .is_err()
        );
    }
}
