//! Per-test isolation: names no other test or earlier run uses.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;

use crate::StackEnv;

/// A test's own namespace on every shared service.
///
/// The id joins the test's name and a random suffix, so parallel tests and
/// reruns of the same test never share a topic, key prefix, etcd prefix or
/// schema. Dropped at the end of a passing test, it deletes the Kafka topics
/// whose names hold its id (see [`Drop`]); drop it after the workers that
/// write them.
#[derive(Debug)]
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

impl Drop for TestScope {
    /// Deletes the Kafka topics of a passing test: every test makes its own,
    /// some hold hundreds of MB, and a stack kept for many runs would fill
    /// its disk. A failing test's topics stay for a look (`scripts/down
    /// --wipe` clears them).
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let (bootstrap, id) = (self.env.kafka_bootstrap().to_owned(), self.id.clone());
        // Blocking calls, on a thread of their own: scopes are dropped
        // inside the tests' async runtimes.
        let deleted = std::thread::spawn(move || delete_topics_holding(&bootstrap, &id)).join();
        match deleted {
            Ok(Ok(())) => {}
            Ok(Err(err)) => eprintln!("warning: the topics of {} were not deleted: {err}", self.id),
            Err(_) => eprintln!("warning: deleting the topics of {} panicked", self.id),
        }
    }
}

/// Deletes every topic whose name contains `id`.
fn delete_topics_holding(bootstrap: &str, id: &str) -> Result<(), String> {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().map_err(|e| e.to_string())?;
    let metadata =
        admin.inner().fetch_metadata(None, Duration::from_secs(10)).map_err(|e| format!("metadata: {e}"))?;
    let topics: Vec<&str> =
        metadata.topics().iter().map(|t| t.name()).filter(|name| name.contains(id)).collect();
    if topics.is_empty() {
        return Ok(());
    }
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results =
        futures::executor::block_on(admin.delete_topics(&topics, &options)).map_err(|e| e.to_string())?;
    let failed: Vec<String> =
        results.into_iter().filter_map(Result::err).map(|(topic, code)| format!("{topic}: {code}")).collect();
    if failed.is_empty() { Ok(()) } else { Err(failed.join(", ")) }
}
