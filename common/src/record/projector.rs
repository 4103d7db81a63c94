//! Kafka Connect's `SchemaProjector`: a value of one schema re-expressed in
//! a compatible other schema (the S3 sink's `schema.compatibility` modes
//! project records onto the schema of the open file).
//!
//! The rules are Connect's: types must match or be numerically promotable
//! (int8 → int16 → int32 → int64 → float32 → float64), names and
//! parameters must be equal; a target field missing from the source takes
//! null when optional, else its default, else the projection fails; source
//! fields the target lacks are dropped.

use super::schema::{Schema, SchemaType};
use super::value::{Struct, Value};

/// `value`, of schema `source`, projected onto `target`; the error names
/// what does not fit.
pub fn project(source: &Schema, value: &Value, target: &Schema) -> Result<Value, String> {
    check_maybe_compatible(source, target)?;
    if source.is_optional() && !target.is_optional() {
        match (value, target.default_value()) {
            (Value::Null, Some(default)) => Ok(default.clone()),
            (_, Some(_)) => project_required(source, value, target),
            (_, None) => {
                Err("the writer schema is optional, but the target schema is required and has no default"
                    .to_owned())
            }
        }
    } else if value.is_null() {
        Ok(Value::Null)
    } else {
        project_required(source, value, target)
    }
}

fn project_required(source: &Schema, value: &Value, target: &Schema) -> Result<Value, String> {
    match target.schema_type() {
        SchemaType::Struct => project_struct(source, value, target),
        SchemaType::Array => {
            let (Some(from), Some(to), Value::Array(items)) =
                (source.value_schema(), target.value_schema(), value)
            else {
                return Err(format!("expected an array, found {}", value.kind()));
            };
            items.iter().map(|item| project(from, item, to)).collect::<Result<_, _>>().map(Value::Array)
        }
        SchemaType::Map => {
            let (Some(from_key), Some(to_key), Some(from_value), Some(to_value), Value::Map(entries)) = (
                source.key_schema(),
                target.key_schema(),
                source.value_schema(),
                target.value_schema(),
                value,
            ) else {
                return Err(format!("expected a map, found {}", value.kind()));
            };
            entries
                .iter()
                .map(|(k, v)| Ok((project(from_key, k, to_key)?, project(from_value, v, to_value)?)))
                .collect::<Result<_, String>>()
                .map(Value::Map)
        }
        _ => project_primitive(source, value, target),
    }
}

fn project_struct(source: &Schema, value: &Value, target: &Schema) -> Result<Value, String> {
    let Some(from) = value.as_struct() else {
        return Err(format!("expected a struct, found {}", value.kind()));
    };
    let mut projected = Struct::new(target.clone());
    for field in target.fields() {
        let name = field.name();
        match source.field(name) {
            Some(source_field) => {
                let inner = from.get(name).unwrap_or(&Value::Null);
                let value = project(source_field.schema(), inner, field.schema())
                    .map_err(|e| format!("field `{name}`: {e}"))?;
                projected.put_index(field.index(), value);
            }
            None if field.schema().is_optional() => {}
            None => match field.schema().default_value() {
                Some(default) => projected.put_index(field.index(), default.clone()),
                None => return Err(format!("required field `{name}` is missing from the source schema")),
            },
        }
    }
    Ok(Value::Struct(projected))
}

fn project_primitive(source: &Schema, value: &Value, target: &Schema) -> Result<Value, String> {
    if source.schema_type() == target.schema_type() {
        return Ok(value.clone());
    }
    let wide = match value {
        Value::Int8(v) => f64::from(*v),
        Value::Int16(v) => f64::from(*v),
        Value::Int32(v) => f64::from(*v),
        Value::Int64(v) => *v as f64,
        Value::Float32(v) => f64::from(*v),
        other => {
            return Err(format!("cannot promote {} to {}", other.kind(), target.schema_type().json_name()));
        }
    };
    Ok(match (value, target.schema_type()) {
        (Value::Int8(v), SchemaType::Int16) => Value::Int16(i16::from(*v)),
        (Value::Int8(v), SchemaType::Int32) => Value::Int32(i32::from(*v)),
        (Value::Int16(v), SchemaType::Int32) => Value::Int32(i32::from(*v)),
        (Value::Int8(v), SchemaType::Int64) => Value::Int64(i64::from(*v)),
        (Value::Int16(v), SchemaType::Int64) => Value::Int64(i64::from(*v)),
        (Value::Int32(v), SchemaType::Int64) => Value::Int64(i64::from(*v)),
        (_, SchemaType::Float32) => Value::Float32(wide as f32),
        (_, SchemaType::Float64) => Value::Float64(wide),
        (other, to) => return Err(format!("cannot promote {} to {}", other.kind(), to.json_name())),
    })
}

fn promotable(from: SchemaType, to: SchemaType) -> bool {
    use SchemaType::*;
    matches!(
        (from, to),
        (Int8, Int16 | Int32 | Int64 | Float32 | Float64)
            | (Int16, Int32 | Int64 | Float32 | Float64)
            | (Int32, Int64 | Float32 | Float64)
            | (Int64, Float32 | Float64)
            | (Float32, Float64)
    )
}

fn check_maybe_compatible(source: &Schema, target: &Schema) -> Result<(), String> {
    if source.schema_type() != target.schema_type() && !promotable(source.schema_type(), target.schema_type())
    {
        return Err(format!(
            "schema type mismatch: source type {} and target type {}",
            source.schema_type().json_name(),
            target.schema_type().json_name()
        ));
    }
    if source.name() != target.name() {
        return Err(format!(
            "schema name mismatch: source name {:?} and target name {:?}",
            source.name(),
            target.name()
        ));
    }
    if source.parameters() != target.parameters() {
        return Err(format!(
            "schema parameters differ: source {:?} and target {:?}",
            source.parameters(),
            target.parameters()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SchemaBuilder;

    fn v1() -> Schema {
        SchemaBuilder::struct_()
            .name("address")
            .version(1)
            .field("id", SchemaBuilder::new(SchemaType::Int32).build())
            .field("city", SchemaBuilder::new(SchemaType::String).optional().build())
            .build()
    }

    fn v2() -> Schema {
        SchemaBuilder::struct_()
            .name("address")
            .version(2)
            .field("id", SchemaBuilder::new(SchemaType::Int64).build())
            .field("city", SchemaBuilder::new(SchemaType::String).optional().build())
            .field("country", SchemaBuilder::new(SchemaType::String).optional().build())
            .field(
                "active",
                SchemaBuilder::new(SchemaType::Boolean).default_value(Value::Boolean(true)).build(),
            )
            .build()
    }

    fn row(schema: Schema, values: Vec<Value>) -> Value {
        Value::Struct(Struct::from_values(schema, values).unwrap())
    }

    #[test]
    fn an_older_record_takes_the_newer_schema_with_nulls_defaults_and_promotions() {
        let old = row(v1(), vec![Value::Int32(7), Value::String("Aden".into())]);
        let projected = project(&v1(), &old, &v2()).unwrap();
        assert_eq!(
            projected,
            row(v2(), vec![Value::Int64(7), Value::String("Aden".into()), Value::Null, Value::Boolean(true)])
        );
    }

    #[test]
    fn a_newer_record_onto_an_older_schema_drops_the_added_fields() {
        let v1_wide = SchemaBuilder::struct_()
            .name("address")
            .version(1)
            .field("id", SchemaBuilder::new(SchemaType::Int64).build())
            .field("city", SchemaBuilder::new(SchemaType::String).optional().build())
            .build();
        let new = row(
            v2(),
            vec![Value::Int64(7), Value::Null, Value::String("Yemen".into()), Value::Boolean(false)],
        );
        assert_eq!(project(&v2(), &new, &v1_wide).unwrap(), row(v1_wide, vec![Value::Int64(7), Value::Null]));
    }

    #[test]
    fn what_does_not_fit_is_named() {
        let required = SchemaBuilder::struct_()
            .name("address")
            .field("id", SchemaBuilder::new(SchemaType::Int32).build())
            .field("zip", SchemaBuilder::new(SchemaType::String).build())
            .build();
        let old = row(v1(), vec![Value::Int32(7), Value::Null]);
        let err = project(&v1(), &old, &required).unwrap_err();
        assert!(err.contains("`zip`"), "{err}");
        let narrowing = project(
            &v2(),
            &row(v2(), vec![Value::Int64(1), Value::Null, Value::Null, Value::Boolean(true)]),
            &v1(),
        )
        .unwrap_err();
        assert!(narrowing.contains("`id`") && narrowing.contains("int64"), "{narrowing}");
        let renamed = SchemaBuilder::struct_()
            .name("city")
            .field("id", SchemaBuilder::new(SchemaType::Int32).build())
            .build();
        assert!(project(&v1(), &old, &renamed).unwrap_err().contains("name mismatch"));
    }
}
