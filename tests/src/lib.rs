//! Test harness for Hydrate's integration tests.
//!
//! Tests run against the real services of the local stack (`scripts/up`),
//! whose endpoints `scripts/up` writes to `.dev/env`. Every test isolates
//! itself with [`TestScope`]: its own Kafka topic names, S3 key prefix, etcd
//! prefix and PostgreSQL schema, so tests run in parallel and reruns never
//! collide. Waiting is done by polling with a deadline ([`wait_for`]), never
//! by fixed sleeps.

pub mod control_plane;
pub mod env;
pub mod etcd;
pub mod faulty_s3;
pub mod observability;
pub mod process;
pub mod s3;
pub mod scope;
pub mod wait;

pub use env::StackEnv;
pub use scope::TestScope;
pub use wait::wait_for;
