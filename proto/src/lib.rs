//! Hydrate's gRPC contract: the connector service (Kafka Connect's REST API as
//! gRPC) and the worker service (task leases for the data plane).

/// Package `hydrate.v1`.
pub mod v1 {
    #![allow(clippy::doc_lazy_continuation, clippy::large_enum_variant)]
    tonic::include_proto!("hydrate.v1");
}

/// The encoded `FileDescriptorSet` of every Hydrate proto, for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("hydrate_descriptor");
