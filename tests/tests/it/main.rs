//! Integration tests against the local stack's real services.

mod clients;
mod control_plane;
mod control_plane_edges;
mod control_plane_ha;
mod offsets;
mod stack_etcd;
mod stack_kafka;
mod stack_postgres;
mod stack_s3;
mod telemetry;
