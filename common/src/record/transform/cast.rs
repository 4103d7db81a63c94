//! `Cast$Key` / `$Value`: casts primitive fields, or the whole key or
//! value, to another primitive type, as Kafka's `Cast`.

use base64::Engine as _;

use super::java_text::{big_decimal_string, date_string, double_string, float_string};
use super::{
    Record, SchemaAndValue, SchemaCache, Side, Struct, Value, map_get, map_put, operating, require_map,
    require_struct, set_operating, struct_builder_like, struct_get, take_operating,
};
use crate::connect::{CastSpec, CastType};
use crate::record::{Decimal, Schema, SchemaBuilder, SchemaType};

const PURPOSE: &str = "cast types";
const MILLIS_PER_DAY: i64 = 86_400_000;

#[derive(Debug)]
pub(crate) struct Cast {
    side: Side,
    spec: CastSpec,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

impl Cast {
    pub(crate) fn new(side: Side, spec: CastSpec, replace_null_with_default: bool) -> Self {
        Self { side, spec, replace_null_with_default, schemas: SchemaCache::default() }
    }

    /// The cast for field `name` (the last one listed wins, as Kafka's map).
    fn field_cast(&self, name: &str) -> Option<CastType> {
        match &self.spec {
            CastSpec::Whole(_) => None,
            CastSpec::Fields(fields) => fields.iter().rev().find(|(f, _)| f == name).map(|(_, t)| *t),
        }
    }

    pub(crate) fn apply(&self, mut record: Record) -> Result<Record, String> {
        if operating(&record, self.side).value.is_null() {
            return Ok(record);
        }
        let SchemaAndValue { schema, value } = take_operating(&mut record, self.side);
        let cast = match (schema, &self.spec) {
            (None, CastSpec::Whole(to)) => SchemaAndValue::schemaless(cast_value(None, value, *to)?),
            (None, CastSpec::Fields(fields)) => {
                let mut map = require_map(value, PURPOSE)?;
                for (name, to) in fields {
                    let v = map_get(&map, name).cloned().unwrap_or(Value::Null);
                    let v = cast_value(None, v, *to).map_err(|e| format!("field {name}: {e}"))?;
                    map_put(&mut map, name, v);
                }
                SchemaAndValue::schemaless(Value::Map(map))
            }
            (Some(schema), spec) => {
                let updated = self.schemas.get_or_build(&schema, |s| self.updated_schema(s))?;
                if let CastSpec::Whole(to) = spec {
                    let v = cast_value(Some(&schema), value, *to)?;
                    SchemaAndValue::new(updated, v)
                } else {
                    let s = require_struct(value, PURPOSE)?;
                    let mut values = Vec::with_capacity(schema.fields().len());
                    for field in schema.fields() {
                        let v = struct_get(&s, field.name(), self.replace_null_with_default)
                            .unwrap_or(Value::Null);
                        values.push(match self.field_cast(field.name()) {
                            Some(to) => cast_value(Some(field.schema()), v, to)
                                .map_err(|e| format!("field {}: {e}", field.name()))?,
                            None => v,
                        });
                    }
                    let cast = Struct::from_values(updated.clone(), values)?;
                    cast.validate()?;
                    SchemaAndValue::new(updated, Value::Struct(cast))
                }
            }
        };
        set_operating(&mut record, self.side, cast);
        Ok(record)
    }

    fn updated_schema(&self, schema: &Schema) -> Result<Schema, String> {
        let mut builder = match &self.spec {
            CastSpec::Whole(to) => super::copy_schema_basics(schema, SchemaBuilder::new(schema_type(*to))),
            CastSpec::Fields(_) => {
                let mut builder = struct_builder_like(schema);
                for field in schema.fields() {
                    let field_schema = match self.field_cast(field.name()) {
                        Some(to) => {
                            let mut b = SchemaBuilder::new(schema_type(to))
                                .with_optional(field.schema().is_optional());
                            if let Some(d) = field.schema().default_value() {
                                b = b.default_value(cast_value(Some(field.schema()), d.clone(), to)?);
                            }
                            b.build()
                        }
                        None => field.schema().clone(),
                    };
                    builder = builder.field(field.name(), field_schema);
                }
                builder
            }
        };
        if schema.is_optional() {
            builder = builder.optional();
        }
        if let (Some(d), CastSpec::Whole(to)) = (schema.default_value(), &self.spec) {
            builder = builder.default_value(cast_value(Some(schema), d.clone(), *to)?);
        }
        Ok(builder.build())
    }
}

fn schema_type(to: CastType) -> SchemaType {
    match to {
        CastType::Int8 => SchemaType::Int8,
        CastType::Int16 => SchemaType::Int16,
        CastType::Int32 => SchemaType::Int32,
        CastType::Int64 => SchemaType::Int64,
        CastType::Float32 => SchemaType::Float32,
        CastType::Float64 => SchemaType::Float64,
        CastType::Boolean => SchemaType::Boolean,
        CastType::String => SchemaType::String,
    }
}

/// A number as Java's `Number` sees it.
enum Num {
    Int(i64),
    Float(f64),
}

/// Kafka's `castValueToType`: null stays null; primitives, strings and
/// bytes (decimals) are accepted; logical values cast as their encoding.
fn cast_value(schema: Option<&Schema>, value: Value, to: CastType) -> Result<Value, String> {
    let from = match (schema, &value) {
        (_, Value::Null) => return Ok(Value::Null),
        (Some(s), _) => s.schema_type(),
        (None, v) => v.schema_type().unwrap_or(SchemaType::Struct),
    };
    if !from.is_primitive() {
        return Err(format!(
            "Cast transformation does not support casting from {from}; supported types are \
             INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES"
        ));
    }
    if to == CastType::String {
        return Ok(Value::String(match value {
            Value::Date(days) => date_string(i64::from(days) * MILLIS_PER_DAY),
            Value::Time(ms) => date_string(i64::from(ms)),
            Value::Timestamp(ms) => date_string(ms),
            Value::Decimal(d) => big_decimal_string(&d),
            Value::Bytes(b) => base64::engine::general_purpose::STANDARD.encode(b),
            Value::Float32(f) => float_string(f),
            Value::Float64(f) => double_string(f),
            Value::Boolean(b) => b.to_string(),
            Value::Int8(i) => i.to_string(),
            Value::Int16(i) => i.to_string(),
            Value::Int32(i) => i.to_string(),
            Value::Int64(i) => i.to_string(),
            Value::String(s) => s,
            other => return Err(format!("Unexpected type in Cast transformation: {}", other.kind())),
        }));
    }
    if to == CastType::Boolean {
        return Ok(Value::Boolean(match &value {
            Value::Boolean(b) => *b,
            Value::String(s) => s.eq_ignore_ascii_case("true"),
            _ => match number(&value)? {
                Num::Int(i) => i != 0,
                // Java's longValue() truncates toward zero.
                Num::Float(f) => f as i64 != 0,
            },
        }));
    }
    let n = match &value {
        Value::Boolean(b) => Num::Int(i64::from(*b)),
        Value::String(s) => return parse_as(s, to),
        _ => number(&value)?,
    };
    // Java's narrowing: floats saturate to int/long, then integers wrap.
    Ok(match (to, n) {
        (CastType::Int8, Num::Int(i)) => Value::Int8(i as i8),
        (CastType::Int8, Num::Float(f)) => Value::Int8(f as i32 as i8),
        (CastType::Int16, Num::Int(i)) => Value::Int16(i as i16),
        (CastType::Int16, Num::Float(f)) => Value::Int16(f as i32 as i16),
        (CastType::Int32, Num::Int(i)) => Value::Int32(i as i32),
        (CastType::Int32, Num::Float(f)) => Value::Int32(f as i32),
        (CastType::Int64, Num::Int(i)) => Value::Int64(i),
        (CastType::Int64, Num::Float(f)) => Value::Int64(f as i64),
        (CastType::Float32, Num::Int(i)) => Value::Float32(i as f32),
        (CastType::Float32, Num::Float(f)) => Value::Float32(f as f32),
        (CastType::Float64, Num::Int(i)) => Value::Float64(i as f64),
        (CastType::Float64, Num::Float(f)) => Value::Float64(f),
        // Returned above; kept total so no panic path exists.
        (CastType::Boolean, n) => {
            Value::Boolean(matches!(n, Num::Int(i) if i != 0) || matches!(n, Num::Float(f) if f as i64 != 0))
        }
        (CastType::String, Num::Int(i)) => Value::String(i.to_string()),
        (CastType::String, Num::Float(f)) => Value::String(double_string(f)),
    })
}

fn number(value: &Value) -> Result<Num, String> {
    Ok(match value {
        Value::Int8(i) => Num::Int(i64::from(*i)),
        Value::Int16(i) => Num::Int(i64::from(*i)),
        Value::Int32(i) | Value::Date(i) | Value::Time(i) => Num::Int(i64::from(*i)),
        Value::Int64(i) | Value::Timestamp(i) => Num::Int(*i),
        Value::Float32(f) => Num::Float(f64::from(*f)),
        Value::Float64(f) => Num::Float(*f),
        Value::Decimal(d) => decimal_number(d)?,
        other => return Err(format!("Unexpected type in Cast transformation: {}", other.kind())),
    })
}

/// A decimal as `BigDecimal.longValue()` (integer part) when cast to an
/// integer type and as `doubleValue()` otherwise; both are kept by
/// returning the double when there is a fraction.
fn decimal_number(d: &Decimal) -> Result<Num, String> {
    let plain = d.to_plain_string();
    let (int, frac) = plain.split_once('.').unwrap_or((&plain, ""));
    if frac.bytes().all(|b| b == b'0') {
        // The low 64 bits, as Java's BigInteger.longValue().
        if let Ok(i) = int.parse::<i128>() {
            return Ok(Num::Int(i as i64));
        }
    }
    plain.parse::<f64>().map(Num::Float).map_err(|_| format!("cannot read decimal {plain} as a number"))
}

/// `Byte.parseByte`, `Integer.parseInt`, `Float.parseFloat`, ... of a string.
fn parse_as(s: &str, to: CastType) -> Result<Value, String> {
    let bad = || format!("Cast transformation cannot parse '{s}' as {}", schema_type(to));
    let float = |s: &str| -> Result<f64, String> {
        let t = s.trim();
        let t = t.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(t);
        t.parse().map_err(|_| bad())
    };
    Ok(match to {
        CastType::Int8 => Value::Int8(s.parse().map_err(|_| bad())?),
        CastType::Int16 => Value::Int16(s.parse().map_err(|_| bad())?),
        CastType::Int32 => Value::Int32(s.parse().map_err(|_| bad())?),
        CastType::Int64 => Value::Int64(s.parse().map_err(|_| bad())?),
        CastType::Float32 => Value::Float32(float(s)? as f32),
        CastType::Float64 => Value::Float64(float(s)?),
        CastType::Boolean => Value::Boolean(s.eq_ignore_ascii_case("true")),
        CastType::String => Value::from(s),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        SchemaBuilder::struct_()
            .name("payment")
            .field("id", Schema::of(SchemaType::Int32))
            .field("amount", SchemaBuilder::decimal(2).build())
            .field("paid", SchemaBuilder::timestamp().optional().build())
            .field("flag", SchemaBuilder::new(SchemaType::String).default_value("true".into()).build())
            .build()
    }

    fn record() -> Record {
        let values = vec![
            Value::Int32(300),
            Value::Decimal(Decimal::from_i128(1299, 2)),
            Value::Timestamp(1_139_996_730_000),
            Value::Null,
        ];
        Record::new(
            "t",
            SchemaAndValue::new(schema(), Value::Struct(Struct::from_values(schema(), values).unwrap())),
        )
    }

    fn fields(casts: &[(&str, CastType)]) -> Cast {
        Cast::new(
            Side::Value,
            CastSpec::Fields(casts.iter().map(|(f, t)| (f.to_string(), *t)).collect()),
            true,
        )
    }

    #[test]
    fn fields_cast_with_schemas_and_defaults() {
        let t = fields(&[
            ("id", CastType::Int8),
            ("amount", CastType::Float64),
            ("paid", CastType::String),
            ("flag", CastType::Boolean),
        ]);
        let out = t.apply(record()).unwrap();
        let schema = out.value.schema.clone().unwrap();
        assert_eq!(schema.name(), Some("payment"));
        let paid = schema.field("paid").unwrap().schema();
        assert_eq!((paid.schema_type(), paid.is_optional(), paid.name()), (SchemaType::String, true, None));
        assert_eq!(schema.field("flag").unwrap().schema().default_value(), Some(&Value::Boolean(true)));
        let values = out.value.value.as_struct().unwrap().values().to_vec();
        assert_eq!(
            values,
            [Value::Int8(44), Value::Float64(12.99), "2006-02-15T09:45:30.000Z".into(), Value::Boolean(true)]
        );
    }

    #[test]
    fn whole_values_and_schemaless() {
        let t = Cast::new(Side::Key, CastSpec::Whole(CastType::String), true);
        let mut r = Record::new("t", SchemaAndValue::NULL);
        r.key = SchemaAndValue::new(Schema::of(SchemaType::Float64), Value::Float64(1e-4));
        let out = t.apply(r).unwrap();
        assert_eq!(out.key, SchemaAndValue::new(Schema::of(SchemaType::String), "1.0E-4".into()));
        let value = Value::Map(vec![("a".into(), "12".into()), ("b".into(), Value::Float64(2.9))]);
        let out = fields(&[("a", CastType::Int64), ("b", CastType::Int32), ("c", CastType::Int32)])
            .apply(Record::new("t", SchemaAndValue::schemaless(value)))
            .unwrap();
        assert_eq!(
            out.value.value,
            Value::Map(vec![
                ("a".into(), Value::Int64(12)),
                ("b".into(), Value::Int32(2)),
                ("c".into(), Value::Null)
            ])
        );
    }

    #[test]
    fn unsupported_inputs_fail() {
        let t = Cast::new(Side::Value, CastSpec::Whole(CastType::Int32), true);
        assert!(t.apply(record()).unwrap_err().contains("casting from STRUCT"));
        let bad = Record::new("t", SchemaAndValue::schemaless(Value::Map(vec![("a".into(), "x".into())])));
        assert!(fields(&[("a", CastType::Int32)]).apply(bad).unwrap_err().contains("cannot parse 'x'"));
        assert_eq!(cast_value(None, Value::Float64(1e20), CastType::Int32), Ok(Value::Int32(i32::MAX)));
        assert_eq!(cast_value(None, Value::Int64(257), CastType::Int8), Ok(Value::Int8(1)));
    }
}
