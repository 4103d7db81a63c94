//! Code shared by Hydrate's control plane and data-plane services.

pub mod args;
pub mod connect;
pub mod kafka_props;
pub mod metrics;
pub mod offsets;
pub mod record;
pub mod shutdown;
pub mod telemetry;
pub mod tls;
pub mod worker;
