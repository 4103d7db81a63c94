//! Partitioners: the directory (encoded partition) a record goes to, as
//! Confluent's S3 sink computes it, with values escaped the Hive way.

use hydrate_common::connect::S3SinkConfig;
use hydrate_common::record::Record;

/// Why a record has no partition.
#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    /// The partition field is missing, null, or of a type that cannot name a directory.
    #[error("{0}")]
    Record(String),
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
pub fn build(config: &S3SinkConfig) -> Box<dyn Partitioner> {
    let _ = config;
    unimplemented!("format helper")
}
