//! The gRPC services.

pub mod connectors;
pub mod workers;
