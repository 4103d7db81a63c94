//! Finding a named field in a record's value, as Confluent's
//! `DataUtils.getNestedFieldValue` does: a struct field or a map entry,
//! `a.b` reaching into nested structs and maps.

use hydrate_common::record::{Record, Schema, Value};

use super::PartitionError;

/// The value of field `name` in `record`'s value, with its schema when the
/// value has one. Null (after the field's default) is an error naming the field.
pub(super) fn field<'a>(
    record: &'a Record,
    name: &str,
) -> Result<(&'a Value, Option<&'a Schema>), PartitionError> {
    let top = &record.value.value;
    if !matches!(top, Value::Struct(_) | Value::Map(_)) {
        return Err(PartitionError::Record(format!(
            "field {name} cannot be read: the record value is {}, not a struct or map",
            top.kind()
        )));
    }
    // A field literally named `a.b` wins over the path a -> b.
    let found = step(top, name).or_else(|| {
        let mut current = (top, None);
        for part in name.split('.') {
            current = step(current.0, part)?;
        }
        Some(current)
    });
    match found {
        None => Err(PartitionError::Record(format!("field {name} is not in the record value"))),
        Some((Value::Null, _)) => Err(PartitionError::Record(format!("field {name} is null"))),
        Some(found) => Ok(found),
    }
}

/// One level down: a struct field (null reads as the field's default, as
/// Connect's `Struct.get`) or a map entry with a string key.
fn step<'a>(value: &'a Value, name: &str) -> Option<(&'a Value, Option<&'a Schema>)> {
    match value {
        Value::Struct(s) => {
            let field = s.schema().field(name)?;
            Some((s.get_or_default(name)?, Some(field.schema())))
        }
        Value::Map(entries) => entries.iter().find(|(k, _)| k.as_str() == Some(name)).map(|(_, v)| (v, None)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use hydrate_common::record::{SchemaAndValue, SchemaBuilder, SchemaType, Struct};

    use super::*;

    #[test]
    fn struct_fields_map_entries_and_nested_paths() {
        let inner = SchemaBuilder::struct_().field("b", Schema::of(SchemaType::Int64)).build();
        let outer = SchemaBuilder::struct_()
            .field("a", inner.clone())
            .field("n", Schema::optional_of(SchemaType::String))
            .field(
                "d",
                SchemaBuilder::new(SchemaType::String).optional().default_value("dflt".into()).build(),
            )
            .build();
        let a = Struct::from_values(inner, vec![Value::Int64(7)]).unwrap();
        let s = Struct::from_values(outer.clone(), vec![Value::Struct(a), Value::Null, Value::Null]).unwrap();
        let rec = Record::new("t", SchemaAndValue::new(outer, Value::Struct(s)));
        assert_eq!(field(&rec, "a.b").unwrap().0, &Value::Int64(7));
        assert_eq!(field(&rec, "d").unwrap().0, &Value::from("dflt"));
        assert!(matches!(field(&rec, "n"), Err(PartitionError::Record(m)) if m == "field n is null"));
        assert!(matches!(field(&rec, "zz"), Err(PartitionError::Record(m)) if m.contains("zz")));
        assert!(field(&rec, "a.c").is_err());

        let map = Value::Map(vec![
            ("x.y".into(), Value::Int32(1)),
            ("m".into(), Value::Map(vec![("k".into(), "v".into())])),
        ]);
        let rec = Record::new("t", SchemaAndValue::schemaless(map));
        assert_eq!(field(&rec, "x.y").unwrap(), (&Value::Int32(1), None));
        assert_eq!(field(&rec, "m.k").unwrap().0, &Value::from("v"));
        let rec = Record::new("t", SchemaAndValue::schemaless("text".into()));
        assert!(matches!(field(&rec, "x"), Err(PartitionError::Record(m)) if m.contains("string")));
    }
}
