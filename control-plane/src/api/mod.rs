//! The gRPC services.

pub mod connectors;
pub mod offsets;
pub mod workers;
