//! Hydrate's sink service: runs the sink tasks the control plane leases to
//! it, consuming their Kafka partitions into objects in S3.

pub mod format;
pub mod partition;
