//! `ReplaceField$Key` / `$Value`: keeps (`include`), drops (`exclude`) and
//! renames fields.

use super::{
    Record, SchemaAndValue, SchemaCache, Side, Struct, Value, add_field, operating, require_map,
    require_struct, set_operating, struct_builder_like, struct_get, take_operating,
};
use crate::record::Schema;

const PURPOSE: &str = "field replacement";

#[derive(Debug)]
pub(crate) struct ReplaceField {
    side: Side,
    include: Vec<String>,
    exclude: Vec<String>,
    /// `(old, new)` pairs.
    renames: Vec<(String, String)>,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

impl ReplaceField {
    pub(crate) fn new(
        side: Side,
        include: Vec<String>,
        exclude: Vec<String>,
        renames: Vec<(String, String)>,
        replace_null_with_default: bool,
    ) -> Self {
        Self { side, include, exclude, renames, replace_null_with_default, schemas: SchemaCache::default() }
    }

    fn keeps(&self, name: &str) -> bool {
        !self.exclude.iter().any(|e| e == name)
            && (self.include.is_empty() || self.include.iter().any(|i| i == name))
    }

    /// The new name; Kafka keeps the last mapping given for a name.
    fn renamed<'a>(&'a self, name: &'a str) -> &'a str {
        self.renames.iter().rev().find(|(old, _)| old == name).map_or(name, |(_, new)| new)
    }

    pub(crate) fn apply(&mut self, mut record: Record) -> Result<Record, String> {
        if operating(&record, self.side).value.is_null() {
            return Ok(record);
        }
        let SchemaAndValue { schema, value } = take_operating(&mut record, self.side);
        let updated = match schema {
            None => {
                let mut updated = Vec::new();
                for (k, v) in require_map(value, PURPOSE)? {
                    // require_map checked that every key is a string.
                    let name = k.as_str().unwrap_or_default();
                    if self.keeps(name) {
                        super::map_put(&mut updated, self.renamed(name), v);
                    }
                }
                SchemaAndValue::schemaless(Value::Map(updated))
            }
            Some(schema) => {
                let s = require_struct(value, PURPOSE)?;
                let updated_schema = self.schemas.get_or_build(&schema, |s| self.updated_schema(s))?;
                let values = schema
                    .fields()
                    .iter()
                    .filter(|f| self.keeps(f.name()))
                    .map(|f| struct_get(&s, f.name(), self.replace_null_with_default).unwrap_or(Value::Null))
                    .collect();
                let updated = Struct::from_values(updated_schema.clone(), values)?;
                updated.validate()?;
                SchemaAndValue::new(updated_schema, Value::Struct(updated))
            }
        };
        set_operating(&mut record, self.side, updated);
        Ok(record)
    }

    fn updated_schema(&self, schema: &Schema) -> Result<Schema, String> {
        let mut builder = struct_builder_like(schema);
        let mut seen = Vec::with_capacity(schema.fields().len());
        for field in schema.fields().iter().filter(|f| self.keeps(f.name())) {
            builder = add_field(builder, &mut seen, self.renamed(field.name()), field.schema().clone())?;
        }
        Ok(builder.build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{SchemaBuilder, SchemaType};

    fn schema() -> Schema {
        SchemaBuilder::struct_()
            .name("address")
            .field("a", Schema::of(SchemaType::Int32))
            .field("district", Schema::of(SchemaType::String))
            .field("c", Schema::optional_of(SchemaType::String))
            .build()
    }

    fn record() -> Record {
        let s = Struct::from_values(schema(), vec![Value::Int32(1), "Georgia".into(), Value::Null]).unwrap();
        Record::new("t", SchemaAndValue::new(schema(), Value::Struct(s)))
    }

    fn replace(include: &[&str], exclude: &[&str], renames: &[(&str, &str)]) -> ReplaceField {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        let renames = renames.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        ReplaceField::new(Side::Value, owned(include), owned(exclude), renames, true)
    }

    fn names(r: &Record) -> Vec<String> {
        r.value.schema.as_ref().unwrap().fields().iter().map(|f| f.name().to_owned()).collect()
    }

    #[test]
    fn renames_keep_order_schema_name_and_values() {
        let out = replace(&[], &[], &[("district", "state_province")]).apply(record()).unwrap();
        assert_eq!(names(&out), ["a", "state_province", "c"]);
        assert_eq!(out.value.schema.as_ref().unwrap().name(), Some("address"));
        let v = out.value.value.as_struct().unwrap();
        assert_eq!(v.get("state_province"), Some(&Value::from("Georgia")));
    }

    #[test]
    fn include_and_exclude() {
        let out = replace(&["a", "c"], &["c"], &[]).apply(record()).unwrap();
        assert_eq!(names(&out), ["a"]);
        assert_eq!(out.value.value.as_struct().unwrap().values(), [Value::Int32(1)]);
        let clash = replace(&[], &[], &[("a", "c")]).apply(record()).unwrap_err();
        assert!(clash.contains("duplication c"), "{clash}");
    }

    #[test]
    fn schemaless_maps_and_tombstones() {
        let value = Value::Map(vec![("a".into(), Value::Int64(1)), ("district".into(), "G".into())]);
        let out = replace(&[], &["a"], &[("district", "state")])
            .apply(Record::new("t", SchemaAndValue::schemaless(value)))
            .unwrap();
        assert_eq!(out.value.value, Value::Map(vec![("state".into(), "G".into())]));
        let tombstone = Record::new("t", SchemaAndValue::NULL);
        assert_eq!(replace(&["a"], &[], &[]).apply(tombstone.clone()).unwrap(), tombstone);
    }
}
