//! Partitioners: the directory (encoded partition) a record goes to, as
//! Confluent's S3 sink computes it, with values escaped the Hive way.
//!
//! - [`DefaultPartitioner`], [`FieldPartitioner`] (`field.rs`);
//! - [`TimeBasedPartitioner`] (`time.rs`), with Joda-style path formats
//!   (`joda.rs`) in a time zone (`zone.rs`);
//! - [`escape`]: Hive's path escaping.

pub mod escape;
mod field;
mod lookup;

use hydrate_common::connect::{self, S3SinkConfig};
use hydrate_common::record::Record;

pub use field::{DefaultPartitioner, FieldPartitioner};

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
        connect::Partitioner::Time { .. } => {
            return Err(PartitionError::Config("TimeBasedPartitioner is not built yet".into()));
        }
    })
}
