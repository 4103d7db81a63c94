//! Per-test isolation: names no other test or earlier run uses.

use crate::StackEnv;

/// A test's own namespace on every shared service.
///
/// The id joins the test's name and a random suffix, so parallel tests and
/// reruns of the same test never share a topic, key prefix, etcd prefix or
/// schema.
#[derive(Debug, Clone)]
pub struct TestScope {
    id: String,
    env: &'static StackEnv,
}

impl TestScope {
    /// A fresh scope for the test called `name`.
    pub fn new(name: &str) -> TestScope {
        let suffix: String = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        let clean: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
            .collect();
        TestScope { id: format!("{clean}_{suffix}"), env: StackEnv::get() }
    }

    /// The stack's endpoints.
    pub fn env(&self) -> &'static StackEnv {
        self.env
    }

    /// The scope's id (`<test name>_<random>`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A Kafka topic name of this scope.
    pub fn topic(&self, name: &str) -> String {
        format!("test.{}.{name}", self.id)
    }

    /// An S3 key prefix of this scope, ending in `/`.
    pub fn s3_prefix(&self) -> String {
        format!("tests/{}/", self.id)
    }

    /// An etcd key prefix of this scope, ending in `/`.
    pub fn etcd_prefix(&self) -> String {
        format!("/hydrate-test/{}/", self.id)
    }

    /// A PostgreSQL schema name of this scope (not created by this call).
    pub fn pg_schema(&self) -> String {
        format!("t_{}", self.id)
    }
}
