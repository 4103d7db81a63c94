//! Integration tests against the local stack's real services.

mod control_plane;
mod stack_etcd;
mod stack_kafka;
mod stack_postgres;
mod stack_s3;
