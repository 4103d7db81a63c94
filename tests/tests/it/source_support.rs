//! What the source-service tests share: a control plane, the real
//! `hydrate-source` binary, a private PostgreSQL schema, and a
//! read_committed reader of Kafka topics.

use std::time::{Duration, Instant};

use hydrate_proto::v1;
use hydrate_tests::control_plane::{Connectors, TestControlPlane, WORKER_TOKEN};
use hydrate_tests::process::{Process, workspace_bin};
use hydrate_tests::{TestScope, wait_for};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tokio_postgres::{Client, NoTls};

/// A source test's world.
pub struct SourceTest {
    pub cp: TestControlPlane,
    pub pg: Client,
    /// The test's own schema (created, dropped at the end of a passing run).
    pub schema: String,
    worker: Option<Process>,
    workers_started: u32,
    /// Last: fields drop in order, and the scope deletes the topics the
    /// worker writes.
    pub scope: TestScope,
}

impl SourceTest {
    /// A control plane (leases of 5 s), a PostgreSQL session and a schema.
    pub async fn new(name: &str) -> SourceTest {
        let scope = TestScope::new(name);
        let cp = TestControlPlane::start(&scope, 5).await;
        let pg = connect(scope.env().pg_url()).await;
        let schema = scope.pg_schema();
        pg.batch_execute(&format!("CREATE SCHEMA {schema}")).await.expect("create schema");
        SourceTest { cp, pg, schema, worker: None, workers_started: 0, scope }
    }

    /// Another PostgreSQL session.
    pub async fn session(&self) -> Client {
        connect(self.scope.env().pg_url()).await
    }

    /// Starts (or restarts) the `hydrate-source` binary.
    pub fn start_worker(&mut self) {
        let bootstrap = self.scope.env().kafka_bootstrap().to_owned();
        self.start_worker_with(&[("KAFKA_BOOTSTRAP_SERVERS", bootstrap)]);
    }

    /// Starts (or restarts) the `hydrate-source` binary with `env`
    /// (`KAFKA_BOOTSTRAP_SERVERS` at least).
    pub fn start_worker_with(&mut self, env: &[(&str, String)]) {
        self.workers_started += 1;
        let name = format!("{}-source-{}", self.scope.id(), self.workers_started);
        let mut vars = vec![
            ("HYDRATE_ENDPOINT", self.cp.endpoint.clone()),
            ("HYDRATE_WORKER_TOKEN", WORKER_TOKEN.to_owned()),
            ("HYDRATE_WORKER_ID", name.replace('_', "-")),
            ("RUST_LOG", "info,hydrate_source=debug".to_owned()),
        ];
        vars.extend(env.iter().cloned());
        self.worker = Some(Process::start(&name, workspace_bin("hydrate-source"), &[], &vars));
    }

    /// SIGKILL to the worker.
    pub fn kill_worker(&mut self) {
        if let Some(mut worker) = self.worker.take() {
            worker.kill_9();
        }
    }

    /// The stack's database as a JDBC URL whose search path is the test's schema.
    pub fn jdbc_url(&self) -> String {
        let url = hydrate_common::connect::parse_pg_url(self.scope.env().pg_url()).expect("PG_URL");
        let host = &url.hosts[0];
        format!(
            "jdbc:postgresql://{}:{}/{}?currentSchema={}",
            host.host,
            host.port,
            url.database.as_deref().unwrap_or("pagila"),
            self.schema
        )
    }

    /// A connector config with the stack's credentials, the test's
    /// schema, its own offsets topic, and `extra` keys.
    pub fn config(&self, extra: &[(&str, &str)]) -> serde_json::Value {
        let mut config = serde_json::json!({
            "connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector",
            "connection.url": self.jdbc_url(),
            "connection.user": "hydrate",
            "connection.password": password(self.scope.env().pg_url()),
            "offsets.storage.topic": self.scope.topic("offsets"),
        });
        for (k, v) in extra {
            config[*k] = serde_json::Value::String((*v).to_owned());
        }
        config
    }

    /// A topic prefix of the test's own.
    pub fn prefix(&self, name: &str) -> String {
        format!("test.{}.{name}.", self.scope.id())
    }

    pub fn admin(&self) -> Connectors {
        self.cp.admin()
    }

    /// Creates or replaces connector `name`.
    pub async fn put(&self, name: &str, config: &serde_json::Value) {
        let request = v1::PutConnectorConfigRequest {
            name: name.into(),
            config: Some(v1::ConnectorConfig {
                source: Some(v1::connector_config::Source::Json(config.to_string())),
            }),
            ..Default::default()
        };
        self.admin().put_connector_config(request).await.expect("put connector");
    }

    /// Task 0's status once `check` accepts it.
    pub async fn wait_task(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        check: impl Fn(&v1::TaskStatus) -> bool,
    ) -> v1::TaskStatus {
        let admin = self.admin();
        wait_for(what, timeout, || {
            let mut admin = admin.clone();
            let name = name.to_owned();
            let check = &check;
            async move {
                let status = admin
                    .get_connector_status(v1::GetConnectorStatusRequest { name })
                    .await
                    .map_err(|e| e.to_string())?
                    .into_inner()
                    .status
                    .ok_or("no status")?;
                let task = status.tasks.into_iter().find(|t| t.id == 0).ok_or("no task 0")?;
                if check(&task) { Ok(Some(task)) } else { Err(format!("{task:?}")) }
            }
        })
        .await
    }

    /// Waits until task 0 reports FAILED and returns its trace.
    pub async fn wait_failed(&self, name: &str) -> String {
        self.wait_task(name, "the task to fail", Duration::from_secs(60), |t| {
            t.state == v1::State::Failed as i32
        })
        .await
        .trace
    }

    /// The connector's source offsets through the control plane's API, as
    /// (partition, offset) JSON.
    pub async fn offsets(&self, name: &str) -> Vec<(serde_json::Value, serde_json::Value)> {
        let offsets = self
            .admin()
            .get_connector_offsets(v1::GetConnectorOffsetsRequest { name: name.into() })
            .await
            .expect("offsets")
            .into_inner()
            .offsets;
        offsets.iter().map(|o| (json_of(o.partition.as_ref()), json_of(o.offset.as_ref()))).collect()
    }

    /// Drops the schema (only reached when the test passed).
    pub async fn finish(self) {
        let _ = self.pg.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema)).await;
    }
}

fn json_of(s: Option<&prost_types::Struct>) -> serde_json::Value {
    use prost_types::value::Kind;
    let Some(s) = s else { return serde_json::Value::Null };
    let fields = s
        .fields
        .iter()
        .map(|(k, v)| {
            let value = match &v.kind {
                Some(Kind::NumberValue(n)) => serde_json::json!(*n as i64),
                Some(Kind::StringValue(t)) => serde_json::json!(t),
                Some(Kind::BoolValue(b)) => serde_json::json!(b),
                _ => serde_json::Value::Null,
            };
            (k.clone(), value)
        })
        .collect();
    serde_json::Value::Object(fields)
}

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect to PG_URL");
    tokio::spawn(connection);
    client
}

fn password(url: &str) -> String {
    hydrate_common::connect::parse_pg_url(url)
        .ok()
        .and_then(|u| u.password.map(|p| p.expose().to_owned()))
        .unwrap_or_default()
}

/// One Kafka record.
#[derive(Debug, Clone)]
pub struct Msg {
    pub key: Option<String>,
    pub value: Option<String>,
}

/// Reads partition 0 of a topic with read_committed, from the beginning.
pub struct TopicReader {
    consumer: BaseConsumer,
    topic: String,
    /// At the end of the partition (librdkafka says so once per end reached).
    at_end: bool,
    pub messages: Vec<Msg>,
    keep_values: bool,
}

impl TopicReader {
    pub fn new(bootstrap: &str, topic: &str, keep_values: bool) -> TopicReader {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", format!("{topic}-test-reader"))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .set("isolation.level", "read_committed")
            .set("fetch.max.bytes", "52428800")
            .create()
            .expect("consumer");
        let mut assignment = TopicPartitionList::new();
        assignment.add_partition_offset(topic, 0, Offset::Beginning).expect("assignment");
        consumer.assign(&assignment).expect("assign");
        TopicReader { consumer, topic: topic.to_owned(), at_end: false, messages: Vec::new(), keep_values }
    }

    /// Reads until at least `count` records were read and the end of the
    /// partition is reached after them; panics after `timeout`.
    pub async fn read_at_least(self, count: usize, timeout: Duration) -> TopicReader {
        self.read(count, timeout, true).await
    }

    /// Reads until at least `count` records were read (for topics that
    /// never stop growing, such as a bulk source's).
    pub async fn read_some(self, count: usize, timeout: Duration) -> TopicReader {
        self.read(count, timeout, false).await
    }

    /// Keeps reading for `period`, to catch records that should not come.
    pub async fn drain(mut self, period: Duration) -> TopicReader {
        tokio::task::spawn_blocking(move || {
            let until = Instant::now() + period;
            while Instant::now() < until {
                if let Some(Ok(m)) = self.consumer.poll(Duration::from_millis(100)) {
                    let text = |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).into_owned());
                    let value = if self.keep_values { text(m.payload()) } else { None };
                    self.messages.push(Msg { key: text(m.key()), value });
                }
            }
            self
        })
        .await
        .expect("reader thread")
    }

    async fn read(mut self, count: usize, timeout: Duration, to_end: bool) -> TopicReader {
        tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + timeout;
            while !((self.at_end || !to_end) && self.messages.len() >= count) {
                assert!(
                    Instant::now() < deadline,
                    "read {} records of at least {count} from {} within {timeout:?}",
                    self.messages.len(),
                    self.topic
                );
                match self.consumer.poll(Duration::from_millis(200)) {
                    Some(Ok(m)) => {
                        self.at_end = false;
                        let text = |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).into_owned());
                        self.messages.push(Msg {
                            key: text(m.key()),
                            value: if self.keep_values { text(m.payload()) } else { None },
                        });
                    }
                    Some(Err(KafkaError::PartitionEOF(_))) => self.at_end = true,
                    // The topic may not exist yet.
                    Some(Err(_)) | None => {}
                }
            }
            self
        })
        .await
        .expect("reader thread")
    }

    /// The values read, parsed.
    pub fn values(&self) -> Vec<serde_json::Value> {
        self.messages
            .iter()
            .map(|m| serde_json::from_str(m.value.as_deref().unwrap_or("null")).expect("value is JSON"))
            .collect()
    }
}

/// Reads `topic` until it holds at least `count` records.
pub async fn read_topic(test: &SourceTest, topic: &str, count: usize) -> TopicReader {
    TopicReader::new(test.scope.env().kafka_bootstrap(), topic, true)
        .read_at_least(count, Duration::from_secs(90))
        .await
}

/// Waits until the control plane's offsets API shows `offset` for the
/// connector's only partition.
pub async fn wait_offset(test: &SourceTest, name: &str, offset: serde_json::Value) {
    wait_for("the committed offset", Duration::from_secs(60), || {
        let offset = offset.clone();
        async move {
            let offsets = test.offsets(name).await;
            if offsets.iter().any(|(_, o)| *o == offset) { Ok(Some(())) } else { Err(format!("{offsets:?}")) }
        }
    })
    .await
}
