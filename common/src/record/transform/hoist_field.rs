//! `HoistField$Key` / `$Value`: wraps the key or value in a one-field
//! struct (or map).

use super::{Record, SchemaAndValue, SchemaCache, Side, Struct, Value, set_operating, take_operating};
use crate::record::SchemaBuilder;

#[derive(Debug)]
pub(crate) struct HoistField {
    side: Side,
    field: String,
    schemas: SchemaCache,
}

impl HoistField {
    pub(crate) fn new(side: Side, field: String) -> Self {
        Self { side, field, schemas: SchemaCache::default() }
    }

    pub(crate) fn apply(&self, mut record: Record) -> Result<Record, String> {
        let SchemaAndValue { schema, value } = take_operating(&mut record, self.side);
        let hoisted = match schema {
            None => SchemaAndValue::schemaless(Value::Map(vec![(Value::from(self.field.as_str()), value)])),
            Some(schema) => {
                let updated_schema = self.schemas.get_or_build(&schema, |s| {
                    Ok(SchemaBuilder::struct_().field(self.field.clone(), s.clone()).build())
                })?;
                // `put` checks the value, so a null under a required schema fails as in Kafka.
                let mut s = Struct::new(updated_schema.clone());
                s.put(&self.field, value)?;
                SchemaAndValue::new(updated_schema, Value::Struct(s))
            }
        };
        set_operating(&mut record, self.side, hoisted);
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Schema, SchemaType};

    #[test]
    fn wraps_with_and_without_schema() {
        let t = HoistField::new(Side::Key, "id".into());
        let mut r = Record::new("t", SchemaAndValue::NULL);
        r.key = SchemaAndValue::new(Schema::of(SchemaType::Int32), Value::Int32(100));
        let out = t.apply(r.clone()).unwrap();
        let schema = out.key.schema.unwrap();
        assert_eq!(schema.field("id").unwrap().schema(), &Schema::of(SchemaType::Int32));
        assert_eq!(out.key.value.as_struct().unwrap().get("id"), Some(&Value::Int32(100)));
        r.key = SchemaAndValue::schemaless(Value::Int64(100));
        let out = t.apply(r.clone()).unwrap();
        assert_eq!(out.key.value, Value::Map(vec![("id".into(), Value::Int64(100))]));
        r.key = SchemaAndValue::new(Schema::of(SchemaType::Int32), Value::Null);
        assert!(t.apply(r).unwrap_err().contains("required"));
    }
}
