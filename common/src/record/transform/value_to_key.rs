//! `ValueToKey`: the key becomes a struct (or map) of some value fields.

use super::{
    Record, SchemaAndValue, SchemaCache, Struct, Value, map_get, require_map, require_struct, struct_get,
};
use crate::record::{Schema, SchemaBuilder};

const PURPOSE: &str = "copying fields from value to key";

#[derive(Debug)]
pub(crate) struct ValueToKey {
    fields: Vec<String>,
    replace_null_with_default: bool,
    key_schemas: SchemaCache,
}

impl ValueToKey {
    pub(crate) fn new(fields: Vec<String>, replace_null_with_default: bool) -> Self {
        Self { fields, replace_null_with_default, key_schemas: SchemaCache::default() }
    }

    pub(crate) fn apply(&mut self, mut record: Record) -> Result<Record, String> {
        let SchemaAndValue { schema, value } = std::mem::take(&mut record.value);
        match schema {
            None => {
                let map = require_map(value, PURPOSE)?;
                // Java's HashMap.get: an absent field becomes null.
                let key = self
                    .fields
                    .iter()
                    .map(|f| (Value::from(f.as_str()), map_get(&map, f).cloned().unwrap_or(Value::Null)))
                    .collect();
                record.key = SchemaAndValue::schemaless(Value::Map(key));
                record.value = SchemaAndValue::schemaless(Value::Map(map));
            }
            Some(value_schema) => {
                let s = require_struct(value, PURPOSE)?;
                let key_schema = self.key_schemas.get_or_build(&value_schema, |vs| self.key_schema(vs))?;
                let values = self
                    .fields
                    .iter()
                    .map(|f| struct_get(&s, f, self.replace_null_with_default).unwrap_or(Value::Null))
                    .collect();
                let key = Struct::from_values(key_schema.clone(), values)?;
                key.validate()?;
                record.key = SchemaAndValue::new(key_schema, Value::Struct(key));
                record.value = SchemaAndValue::new(value_schema, Value::Struct(s));
            }
        }
        Ok(record)
    }

    fn key_schema(&self, value_schema: &Schema) -> Result<Schema, String> {
        let mut builder = SchemaBuilder::struct_();
        for name in &self.fields {
            let field = value_schema.field(name).ok_or_else(|| format!("Field does not exist: {name}"))?;
            builder = builder.field(name.clone(), field.schema().clone());
        }
        Ok(builder.build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SchemaType;

    fn value_schema() -> Schema {
        SchemaBuilder::struct_()
            .name("address")
            .field("address_id", Schema::of(SchemaType::Int32))
            .field("district", Schema::optional_of(SchemaType::String))
            .build()
    }

    fn record() -> Record {
        let s = Struct::from_values(value_schema(), vec![Value::Int32(100), "Georgia".into()]).unwrap();
        Record::new("t", SchemaAndValue::new(value_schema(), Value::Struct(s)))
    }

    #[test]
    fn with_schema_builds_a_key_struct_and_caches_its_schema() {
        let mut t = ValueToKey::new(vec!["district".into(), "address_id".into()], true);
        let out = t.apply(record()).unwrap();
        let key_schema = out.key.schema.clone().unwrap();
        let names: Vec<_> = key_schema.fields().iter().map(|f| f.name()).collect();
        assert_eq!(names, ["district", "address_id"]);
        assert_eq!(key_schema.name(), None);
        let key = out.key.value.as_struct().unwrap();
        assert_eq!(key.get("address_id"), Some(&Value::Int32(100)));
        assert_eq!(out.value, record().value, "the value is untouched");
        let again = t.apply(record()).unwrap();
        assert!(again.key.schema.unwrap().ptr_eq(&key_schema), "cached per value schema");
    }

    #[test]
    fn missing_fields_and_wrong_shapes_fail() {
        let mut t = ValueToKey::new(vec!["nope".into()], true);
        assert_eq!(t.apply(record()).unwrap_err(), "Field does not exist: nope");
        let tombstone = Record::new("t", SchemaAndValue::NULL);
        assert!(t.apply(tombstone).unwrap_err().contains("Only Map objects"));
    }

    #[test]
    fn schemaless_builds_a_map_with_nulls_for_absent_fields() {
        let value = Value::Map(vec![("a".into(), Value::Int64(1)), ("b".into(), Value::Int64(2))]);
        let mut t = ValueToKey::new(vec!["b".into(), "c".into()], true);
        let out = t.apply(Record::new("t", SchemaAndValue::schemaless(value.clone()))).unwrap();
        assert_eq!(out.key.schema, None);
        assert_eq!(out.key.value, Value::Map(vec![("b".into(), Value::Int64(2)), ("c".into(), Value::Null)]));
        assert_eq!(out.value.value, value);
    }
}
