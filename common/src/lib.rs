//! Code shared by Hydrate's control plane and data-plane services.

pub mod telemetry;
pub mod tls;
