//! Confluent's `DefaultPartitioner` (`partition=<kafka partition>`) and
//! `FieldPartitioner` (`field=value` per field, joined by `directory.delim`).

use std::fmt::Write as _;

use hydrate_common::record::{Record, Value};

use super::escape::escape_into;
use super::{PartitionError, Partitioner, lookup};

/// `partition=<kafka partition>`.
#[derive(Debug, Default)]
pub struct DefaultPartitioner;

impl Partitioner for DefaultPartitioner {
    fn encode(&self, record: &Record, _now_ms: i64) -> Result<String, PartitionError> {
        let partition = record
            .partition
            .ok_or_else(|| PartitionError::Record("the record has no Kafka partition".into()))?;
        Ok(format!("partition={partition}"))
    }

    fn fields(&self) -> &[String] {
        &[]
    }

    fn record_time(&self, record: &Record, _now_ms: i64) -> Option<i64> {
        record.timestamp
    }
}

/// `field=value` for each configured field, values escaped the Hive way.
#[derive(Debug)]
pub struct FieldPartitioner {
    fields: Vec<String>,
    delim: String,
}

impl FieldPartitioner {
    /// Partitions by `fields`, joined by `delim`.
    pub fn new(fields: Vec<String>, delim: String) -> Self {
        Self { fields, delim }
    }
}

/// Appends a partition value as Confluent renders it: integers in decimal,
/// strings as they are, booleans as `true`/`false`; other types (including
/// Connect's logical types) cannot name a partition, as in Confluent.
fn render(name: &str, value: &Value, out: &mut String) -> Result<(), PartitionError> {
    match value {
        Value::String(s) => escape_into(s, out),
        // Writing into a String cannot fail.
        Value::Int8(v) => _ = write!(out, "{v}"),
        Value::Int16(v) => _ = write!(out, "{v}"),
        Value::Int32(v) => _ = write!(out, "{v}"),
        Value::Int64(v) => _ = write!(out, "{v}"),
        Value::Boolean(v) => out.push_str(if *v { "true" } else { "false" }),
        other => {
            return Err(PartitionError::Record(format!(
                "field {name} is {}: FieldPartitioner takes integer, string and boolean fields",
                other.kind()
            )));
        }
    }
    Ok(())
}

impl Partitioner for FieldPartitioner {
    fn encode(&self, record: &Record, _now_ms: i64) -> Result<String, PartitionError> {
        let mut out = String::with_capacity(32);
        for (i, name) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push_str(&self.delim);
            }
            let (value, _) = lookup::field(record, name)?;
            escape_into(name, &mut out);
            out.push('=');
            render(name, value, &mut out)?;
        }
        Ok(out)
    }

    fn fields(&self) -> &[String] {
        &self.fields
    }

    fn record_time(&self, record: &Record, _now_ms: i64) -> Option<i64> {
        record.timestamp
    }
}

#[cfg(test)]
mod tests {
    use hydrate_common::record::{Decimal, Schema, SchemaAndValue, SchemaBuilder, SchemaType, Struct};

    use super::*;

    fn query_row(country: Value, id: i32) -> Record {
        let schema = SchemaBuilder::struct_()
            .field("address_id", Schema::of(SchemaType::Int32))
            .field("country", Schema::optional_of(SchemaType::String))
            .field("active", Schema::of(SchemaType::Boolean))
            .field("price", SchemaBuilder::decimal(2).build())
            .build();
        let values =
            vec![Value::Int32(id), country, Value::Boolean(true), Value::Decimal(Decimal::from_i128(1, 2))];
        let s = Struct::from_values(schema.clone(), values).unwrap();
        let mut r = Record::new("pagila.query", SchemaAndValue::new(schema, Value::Struct(s)));
        r.partition = Some(3);
        r.timestamp = Some(42);
        r
    }

    #[test]
    fn default_is_the_kafka_partition() {
        let r = query_row("Canada".into(), 1);
        assert_eq!(DefaultPartitioner.encode(&r, 0).unwrap(), "partition=3");
        assert_eq!(DefaultPartitioner.record_time(&r, 99), Some(42));
        assert!(DefaultPartitioner.fields().is_empty());
        let no_partition = Record::new("t", SchemaAndValue::NULL);
        assert!(DefaultPartitioner.encode(&no_partition, 0).is_err());
    }

    #[test]
    fn field_values_are_rendered_escaped_and_joined() {
        let p = FieldPartitioner::new(vec!["country".into()], "/".into());
        assert_eq!(p.encode(&query_row("United States".into(), 1), 0).unwrap(), "country=United States");
        assert_eq!(p.encode(&query_row("a/b=c".into(), 1), 0).unwrap(), "country=a%2Fb%3Dc");
        assert_eq!(p.fields(), ["country"]);
        assert_eq!(p.record_time(&query_row("x".into(), 1), 0), Some(42));
        let p =
            FieldPartitioner::new(vec!["country".into(), "address_id".into(), "active".into()], "#".into());
        assert_eq!(
            p.encode(&query_row("Canada".into(), -7), 0).unwrap(),
            "country=Canada#address_id=-7#active=true"
        );
    }

    #[test]
    fn missing_null_and_unsupported_fields_are_errors_naming_the_field() {
        let err = |fields: &[&str], country: Value| {
            let p = FieldPartitioner::new(fields.iter().map(|f| f.to_string()).collect(), "/".into());
            match p.encode(&query_row(country, 1), 0) {
                Err(PartitionError::Record(m)) => m,
                other => panic!("expected an error, got {other:?}"),
            }
        };
        assert_eq!(err(&["country"], Value::Null), "field country is null");
        assert!(err(&["city"], "x".into()).contains("city"));
        assert!(err(&["price"], "x".into()).contains("field price is Decimal"));
    }

    #[test]
    fn schemaless_maps_partition_too() {
        let map = Value::Map(vec![("country".into(), "Canada".into()), ("n".into(), Value::Int64(5))]);
        let r = Record::new("t", SchemaAndValue::schemaless(map));
        let p = FieldPartitioner::new(vec!["country".into(), "n".into()], "/".into());
        assert_eq!(p.encode(&r, 0).unwrap(), "country=Canada/n=5");
    }
}
