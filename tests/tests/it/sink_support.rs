//! What the sink tests share: a control plane in-process, the real
//! `hydrate-sink` binary, per-test topics and S3 prefix, and readers of the
//! lake.

use std::path::PathBuf;
use std::time::Duration;

use hydrate_proto::v1;
use hydrate_tests::control_plane::{Connectors, TestControlPlane, WORKER_TOKEN};
use hydrate_tests::process::{Process, workspace_bin};
use hydrate_tests::{TestScope, wait_for};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

/// The Connect schema the JDBC source writes for `pagila.public.address`.
pub const ADDRESS_SCHEMA: &str = r#"{"type":"struct","fields":[{"type":"int32","optional":false,"field":"address_id"},{"type":"string","optional":false,"field":"address"},{"type":"string","optional":true,"field":"address2"},{"type":"string","optional":false,"field":"district"},{"type":"int32","optional":false,"field":"city_id"},{"type":"string","optional":true,"field":"postal_code"},{"type":"string","optional":false,"field":"phone"},{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"last_update"}],"optional":false,"name":"address"}"#;

/// The payload of a synthetic address row, as the lake must hold it.
pub fn address_payload(id: u32) -> String {
    format!(
        r#"{{"address_id":{id},"address":"{id} Arecibo Way","address2":"","district":"Georgia","city_id":41,"postal_code":"30695","phone":"6171054059","last_update":1139996730000}}"#
    )
}

/// A Kafka Connect JSON record with schema.
pub fn envelope(schema: &str, payload: &str) -> String {
    format!(r#"{{"schema":{schema},"payload":{payload}}}"#)
}

/// Waits until a UTC-aligned `interval_ms` schedule slot has just begun,
/// so a burst of records started now is not cut by a scheduled rotation
/// before the next slot (the test then sees exactly the flush.size cuts).
pub async fn at_slot_start(interval_ms: i64) {
    wait_for("the start of a schedule slot", Duration::from_millis(2 * interval_ms as u64), || async move {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_millis() as i64;
        Ok((now % interval_ms < 300).then_some(()))
    })
    .await
}

/// A record read back from a dead letter queue.
pub struct DeadLetter {
    /// Its key.
    pub key: Option<Vec<u8>>,
    /// Its value.
    pub value: Option<Vec<u8>>,
    /// Its headers (`__connect.errors.*`), values as text.
    pub headers: std::collections::BTreeMap<String, String>,
}

/// A record to produce: partition, key, value, headers.
pub type Produced = (i32, Option<String>, Option<String>, Vec<(String, String)>);

/// One sink test's world.
pub struct SinkWorld {
    /// Names.
    pub scope: TestScope,
    /// The control plane.
    pub cp: TestControlPlane,
    /// Its admin client.
    pub admin: Connectors,
    /// The sink worker, when running.
    pub sink: Option<Process>,
    worker_id: String,
    spool: PathBuf,
    starts: u32,
    /// Environment of the sink worker over the defaults (e.g. Kafka security).
    sink_env: Vec<(&'static str, String)>,
}

impl SinkWorld {
    /// A control plane with `ttl` second leases, and a running sink worker.
    pub async fn start(name: &str, ttl: i64) -> SinkWorld {
        SinkWorld::start_with(name, ttl, Vec::new()).await
    }

    /// As [`SinkWorld::start`], the sink worker with `sink_env` over its defaults.
    pub async fn start_with(name: &str, ttl: i64, sink_env: Vec<(&'static str, String)>) -> SinkWorld {
        let scope = TestScope::new(name);
        let cp = TestControlPlane::start(&scope, ttl).await;
        let admin = cp.admin();
        let spool = std::env::temp_dir().join(format!("hydrate-sink-spool-{}", scope.id()));
        let mut world = SinkWorld {
            worker_id: format!("{}-sink", scope.id()),
            scope,
            cp,
            admin,
            sink: None,
            spool,
            starts: 0,
            sink_env,
        };
        world.start_sink();
        world
    }

    /// Starts the sink worker (again), with the same worker id.
    pub fn start_sink(&mut self) {
        let env = self.scope.env();
        let mut vars = vec![
            ("HYDRATE_ENDPOINT", self.cp.endpoint.clone()),
            ("HYDRATE_WORKER_TOKEN", WORKER_TOKEN.to_owned()),
            ("HYDRATE_WORKER_ID", self.worker_id.clone()),
            ("HYDRATE_SPOOL_DIR", self.spool.display().to_string()),
            ("KAFKA_BOOTSTRAP_SERVERS", env.kafka_bootstrap().to_owned()),
            ("AWS_ENDPOINT_URL", env.var("AWS_ENDPOINT_URL").to_owned()),
            ("AWS_ACCESS_KEY_ID", env.var("AWS_ACCESS_KEY_ID").to_owned()),
            ("AWS_SECRET_ACCESS_KEY", env.var("AWS_SECRET_ACCESS_KEY").to_owned()),
            ("AWS_REGION", env.var("AWS_REGION").to_owned()),
            ("RUST_LOG", "info,hydrate_sink=info".to_owned()),
        ];
        for (key, value) in &self.sink_env {
            vars.retain(|(k, _)| k != key);
            vars.push((key, value.clone()));
        }
        self.starts += 1;
        let name = format!("{}-sink-{}", self.scope.id(), self.starts);
        self.sink = Some(Process::start(&name, workspace_bin("hydrate-sink"), &[], &vars));
    }

    /// Lines of every sink worker log of this test that contain all of `words`.
    pub fn log_lines(&self, words: &[&str]) -> Vec<String> {
        let dir = hydrate_tests::env::repo_root().join(".dev/logs/tests");
        (1..=self.starts)
            .filter_map(|n| {
                std::fs::read_to_string(dir.join(format!("{}-sink-{n}.log", self.scope.id()))).ok()
            })
            .flat_map(|text| text.lines().map(str::to_owned).collect::<Vec<_>>())
            .filter(|line| words.iter().all(|w| line.contains(w)))
            .collect()
    }

    /// SIGKILL the sink worker.
    pub fn kill_sink(&mut self) {
        if let Some(mut sink) = self.sink.take() {
            sink.kill_9();
        }
    }

    /// This test's `topics.dir`.
    pub fn topics_dir(&self) -> String {
        format!("{}topics", self.scope.s3_prefix())
    }

    /// Creates a topic.
    pub async fn create_topic(&self, topic: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", self.scope.env().kafka_bootstrap())
            .create()
            .expect("kafka admin");
        for result in admin
            .create_topics(
                &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
                &AdminOptions::new(),
            )
            .await
            .expect("create topic")
        {
            result.expect("topic created");
        }
    }

    /// Produces `(partition, key, value)` records in order and waits until
    /// all are written.
    pub async fn produce(&self, topic: &str, records: Vec<(i32, Option<String>, Option<String>)>) {
        let records = records.into_iter().map(|(p, k, v)| (p, k, v, Vec::new())).collect();
        self.produce_with_headers(topic, records).await;
    }

    /// Produces `(partition, key, value, headers)` records in order and
    /// waits until all are written.
    pub async fn produce_with_headers(&self, topic: &str, records: Vec<Produced>) {
        let bootstrap = self.scope.env().kafka_bootstrap().to_owned();
        let topic = topic.to_owned();
        tokio::task::spawn_blocking(move || {
            let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
                .set("bootstrap.servers", &bootstrap)
                .set("linger.ms", "20")
                .set("batch.num.messages", "10000")
                .set("enable.idempotence", "true")
                .create()
                .expect("producer");
            for (partition, key, value, headers) in &records {
                let mut record: BaseRecord<'_, str, str> = BaseRecord::to(&topic).partition(*partition);
                if let Some(key) = key {
                    record = record.key(key.as_str());
                }
                if !headers.is_empty() {
                    let mut owned = OwnedHeaders::new_with_capacity(headers.len());
                    for (key, value) in headers {
                        owned = owned.insert(Header { key, value: Some(value.as_str()) });
                    }
                    record = record.headers(owned);
                }
                if let Some(value) = value {
                    record = record.payload(value.as_str());
                }
                loop {
                    match producer.send(record) {
                        Ok(()) => break,
                        Err((_, back)) => {
                            record = back;
                            producer.poll(Duration::from_millis(10));
                        }
                    }
                }
            }
            producer.flush(Duration::from_secs(60)).expect("flush");
        })
        .await
        .expect("produce");
    }

    /// An S3 sink connector config reading `topic` into the test's bucket
    /// and topics directory (JSON, the default partitioner,
    /// `schema.compatibility` NONE), with `settings` over it.
    pub fn sink_config(&self, topic: &str, settings: serde_json::Value) -> serde_json::Value {
        let mut config = serde_json::json!({
            "connector.class": "io.confluent.connect.s3.S3SinkConnector",
            "topics": topic,
            "s3.region": "us-east-1",
            "s3.bucket.name": self.scope.env().s3_bucket(),
            "topics.dir": self.topics_dir(),
            "format.class": "io.confluent.connect.s3.format.json.JsonFormat",
            "partitioner.class": "io.confluent.connect.storage.partitioner.DefaultPartitioner",
            "schema.compatibility": "NONE",
        });
        if let (Some(base), serde_json::Value::Object(over)) = (config.as_object_mut(), settings) {
            base.extend(over);
        }
        config
    }

    /// Creates the connector.
    pub async fn put(&self, name: &str, config: serde_json::Value) {
        let request = v1::PutConnectorConfigRequest {
            name: name.into(),
            config: Some(v1::ConnectorConfig {
                source: Some(v1::connector_config::Source::Json(config.to_string())),
            }),
            ..Default::default()
        };
        self.admin.clone().put_connector_config(request).await.expect("put connector");
    }

    /// Waits until every task of `name` is in `state`; returns their traces.
    pub async fn wait_tasks(&self, name: &str, state: v1::State, timeout: Duration) -> Vec<String> {
        let what = format!("tasks of {name} to be {state:?}");
        wait_for(&what, timeout, || {
            let mut admin = self.admin.clone();
            let name = name.to_owned();
            async move {
                let status = admin
                    .get_connector_status(v1::GetConnectorStatusRequest { name })
                    .await
                    .map_err(|e| e.to_string())?
                    .into_inner()
                    .status
                    .ok_or("no status")?;
                let done = !status.tasks.is_empty() && status.tasks.iter().all(|t| t.state == state as i32);
                if done {
                    Ok(Some(status.tasks.iter().map(|t| t.trace.clone()).collect()))
                } else {
                    Err(format!(
                        "{:?}",
                        status.tasks.iter().map(|t| (t.state, t.trace.clone())).collect::<Vec<_>>()
                    ))
                }
            }
        })
        .await
    }

    /// Keys under `prefix`, sorted.
    pub async fn list(&self, prefix: &str) -> Vec<String> {
        let s3 = self.scope.env().s3_client();
        let mut keys = Vec::new();
        let mut pages =
            s3.list_objects_v2().bucket(self.scope.env().s3_bucket()).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.expect("list objects");
            keys.extend(
                page.contents().iter().filter_map(|o| o.key()).filter(|k| !in_flight(k)).map(str::to_owned),
            );
        }
        keys.sort();
        keys
    }

    /// An object's bytes.
    pub async fn get(&self, key: &str) -> Vec<u8> {
        let s3 = self.scope.env().s3_client();
        let got =
            s3.get_object().bucket(self.scope.env().s3_bucket()).key(key).send().await.expect("get object");
        got.body.collect().await.expect("read object").into_bytes().to_vec()
    }

    /// An object's user metadata.
    pub async fn metadata(&self, key: &str) -> std::collections::HashMap<String, String> {
        let s3 = self.scope.env().s3_client();
        let head =
            s3.head_object().bucket(self.scope.env().s3_bucket()).key(key).send().await.expect("head object");
        head.metadata().cloned().unwrap_or_default()
    }
    /// The first record of dead letter queue `dlq` (partition 0) within 30 s:
    /// key, value, and headers as text.
    pub async fn first_dead_letter(&self, dlq: &str) -> Option<DeadLetter> {
        let (bootstrap, dlq) = (self.scope.env().kafka_bootstrap().to_owned(), dlq.to_owned());
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &bootstrap)
                .set("group.id", format!("{dlq}-reader"))
                .create()
                .expect("consumer");
            let mut list = TopicPartitionList::new();
            list.add_partition_offset(&dlq, 0, Offset::Beginning).expect("partition");
            consumer.assign(&list).expect("assign");
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while std::time::Instant::now() < deadline {
                if let Some(Ok(m)) = consumer.poll(Duration::from_millis(500)) {
                    let headers = m
                        .headers()
                        .map(|hs| {
                            hs.iter()
                                .map(|h| {
                                    let value = String::from_utf8_lossy(h.value.unwrap_or_default());
                                    (h.key.to_owned(), value.into_owned())
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    return Some(DeadLetter {
                        key: m.key().map(<[u8]>::to_vec),
                        value: m.payload().map(<[u8]>::to_vec),
                        headers,
                    });
                }
            }
            None
        })
        .await
        .expect("read the dead letter queue")
    }

    /// The committed offset of the connector's group on each partition.
    pub async fn committed(&self, connector: &str, topic: &str, partitions: i32) -> Vec<i64> {
        let bootstrap = self.scope.env().kafka_bootstrap().to_owned();
        let (group, topic) = (format!("connect-{connector}"), topic.to_owned());
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &bootstrap)
                .set("group.id", &group)
                .create()
                .expect("consumer");
            let mut list = TopicPartitionList::new();
            for p in 0..partitions {
                list.add_partition(&topic, p);
            }
            let committed = consumer.committed_offsets(list, Duration::from_secs(10)).expect("committed");
            (0..partitions)
                .map(|p| match committed.find_partition(&topic, p).map(|e| e.offset()) {
                    Some(Offset::Offset(o)) => o,
                    _ => -1,
                })
                .collect()
        })
        .await
        .expect("committed offsets")
    }
}

impl Drop for SinkWorld {
    fn drop(&mut self) {
        self.kill_sink();
        let _ = std::fs::remove_dir_all(&self.spool);
    }
}

/// S3Proxy's filesystem store writes an object as `<key>-<uuid>` and renames
/// it when complete, and lists that file meanwhile; S3 never lists an
/// object before its PUT completes, so the tests' listings leave it out.
fn in_flight(key: &str) -> bool {
    key.len() > 37
        && key.as_bytes()[key.len() - 37] == b'-'
        && key.get(key.len() - 36..).is_some_and(|tail| uuid::Uuid::parse_str(tail).is_ok())
}
