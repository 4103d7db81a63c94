//! Integration tests against the local stack's real services.

mod clients;
mod control_plane;
mod control_plane_edges;
mod control_plane_ha;
mod offsets;
mod sink_format;
mod sink_lake;
mod sink_lease;
mod sink_parquet;
mod sink_recovery;
mod sink_support;
mod source_bound;
mod source_discovery;
mod source_exactly_once;
mod source_failures;
mod source_kafka_security;
mod source_modes;
mod source_seed;
mod source_support;
mod source_torture;
mod source_types;
mod stack_etcd;
mod stack_kafka;
mod stack_postgres;
mod stack_s3;
mod telemetry;
