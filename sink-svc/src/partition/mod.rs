//! Partitioners: the directory (encoded partition) a record goes to, as
//! Confluent's S3 sink computes it, with values escaped the Hive way.
//!
//! - [`DefaultPartitioner`], [`FieldPartitioner`] (`field.rs`);
//! - [`TimeBasedPartitioner`] (`time.rs`), with Joda-style path formats
//!   (`joda.rs`) in a time zone (`zone.rs`);
//! - [`escape`]: Hive's path escaping.

pub mod escape;
mod field;
mod joda;
mod lookup;
mod time;
mod zone;

use hydrate_common::connect::{self, S3SinkConfig};
use hydrate_common::record::Record;

pub use field::{DefaultPartitioner, FieldPartitioner};
pub use time::TimeBasedPartitioner;

/// Why a record has no partition, or a partitioner cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    /// The partition field is missing, null, or of a type that cannot name a directory.
    #[error("{0}")]
    Record(String),
    /// The partitioner's settings cannot work (an unknown time zone or
    /// path format letter); names the key.
    #[error("{0}")]
    Config(String),
}

/// Chooses a record's encoded partition.
pub trait Partitioner: Send + Sync {
    /// The encoded partition, e.g. `partition=0`, `country=United States`,
    /// `year=2026/month=11/day=26`, joined with `directory.delim`.
    /// `now_ms` is the wall clock for the Wallclock extractor.
    fn encode(&self, record: &Record, now_ms: i64) -> Result<String, PartitionError>;
    /// Top-level value fields the path holds (left out of objects unless
    /// `partition_field_in_file`).
    fn fields(&self) -> &[String];
    /// Record time (ms) used for `rotate.interval.ms`, per the timestamp
    /// extractor (Kafka timestamp for non-time partitioners).
    fn record_time(&self, record: &Record, now_ms: i64) -> Option<i64>;
}

/// The partitioner the sink config asks for.
pub fn build(config: &S3SinkConfig) -> Result<Box<dyn Partitioner>, PartitionError> {
    Ok(match &config.partitioner {
        connect::Partitioner::Default => Box::new(DefaultPartitioner),
        connect::Partitioner::Field { fields } => {
            Box::new(FieldPartitioner::new(fields.clone(), config.directory_delim.clone()))
        }
        connect::Partitioner::Time { path_format, duration, locale, timezone, timestamp } => {
            let duration_ms = i64::try_from(duration.as_millis())
                .map_err(|_| PartitionError::Config("partition.duration.ms: too large".into()))?;
            Box::new(TimeBasedPartitioner::new(
                path_format,
                duration_ms,
                locale,
                timezone,
                timestamp.clone(),
            )?)
        }
    })
}

#[cfg(test)]
mod tests {
    use hydrate_common::record::{Schema, SchemaAndValue, SchemaBuilder, SchemaType, Struct, Value};

    use super::*;

    /// A Parquet sink of `pagila.query` into `pagila-lake`, and `extra`.
    fn sink(extra: &[(&str, &str)]) -> S3SinkConfig {
        let mut keys = vec![
            ("topics", "pagila.query"),
            ("s3.bucket.name", "pagila-lake"),
            ("flush.size", "100"),
            ("format.class", "io.confluent.connect.s3.format.parquet.ParquetFormat"),
        ];
        keys.extend_from_slice(extra);
        crate::test_support::sink_config(&keys)
    }

    fn row() -> Record {
        let schema = SchemaBuilder::struct_()
            .field("address_id", Schema::of(SchemaType::Int32))
            .field("country", Schema::of(SchemaType::String))
            .build();
        let s = Struct::from_values(schema.clone(), vec![Value::Int32(3), "United States".into()]).unwrap();
        let mut r = Record::new("pagila.query", SchemaAndValue::new(schema, Value::Struct(s)));
        (r.partition, r.timestamp) = (Some(0), Some(1_139_996_730_000));
        r
    }

    #[test]
    fn builds_what_the_config_names() {
        let default = build(&sink(&[])).unwrap();
        assert_eq!(default.encode(&row(), 0).unwrap(), "partition=0");
        let field = build(&sink(&[
            ("partitioner.class", "io.confluent.connect.storage.partitioner.FieldPartitioner"),
            ("partition.field.name", "country"),
        ]))
        .unwrap();
        assert_eq!(field.encode(&row(), 0).unwrap(), "country=United States");
        assert_eq!(field.fields(), ["country"]);
        let hourly = build(&sink(&[
            ("partitioner.class", "io.confluent.connect.storage.partitioner.HourlyPartitioner"),
            ("locale", "en-US"),
            ("timezone", "UTC"),
            ("timestamp.extractor", "Record"),
        ]))
        .unwrap();
        assert_eq!(hourly.encode(&row(), 0).unwrap(), "year=2006/month=02/day=15/hour=09");
        let bad = build(&sink(&[
            ("partitioner.class", "io.confluent.connect.storage.partitioner.TimeBasedPartitioner"),
            ("path.format", "'day'=dd/QQ"),
            ("partition.duration.ms", "60000"),
            ("locale", "en-US"),
            ("timezone", "UTC"),
        ]));
        assert!(matches!(bad, Err(PartitionError::Config(m)) if m.contains("QQ")));
    }
}
