//! Connector offsets in Kafka (see `hydrate_common::offsets` for the
//! formats): read for any connector, altered or reset only while it is
//! STOPPED, so no task writes them meanwhile.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hydrate_common::offsets::{decode_source_key, encode_source_key, sink_group_id};
use hydrate_kafka::{KafkaAdmin, KafkaClients, KafkaConsumer, KafkaProducer};
use rdkafka::admin::AdminOptions;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;

use crate::error::{Error, Result};

const TIMEOUT: Duration = Duration::from_secs(15);

/// One partition's offset; `None` deletes it.
pub type Entry = (Value, Option<Value>);

/// Reads and writes connector offsets in Kafka.
#[derive(Clone)]
pub struct OffsetStore {
    clients: KafkaClients,
}

fn kafka(err: KafkaError) -> Error {
    Error::Unavailable(format!("kafka: {err}"))
}

/// Runs blocking librdkafka work off the async runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::Internal(format!("offsets task: {e}")))?
}

impl OffsetStore {
    /// Offsets in the cluster of `clients`.
    pub fn new(clients: KafkaClients) -> OffsetStore {
        OffsetStore { clients }
    }

    /// The latest offset of every source partition of `connector` in `topic`.
    pub async fn source_offsets(&self, topic: &str, connector: &str) -> Result<Vec<(Value, Value)>> {
        let (config, topic, connector) =
            (self.clients.consumer_config(), topic.to_owned(), connector.to_owned());
        blocking(move || {
            let consumer: KafkaConsumer = config
                .clone()
                .set("group.id", "hydrate-control-plane-offsets")
                .set("enable.auto.commit", "false")
                .set("isolation.level", "read_committed")
                .create()
                .map_err(kafka)?;
            let metadata = consumer.fetch_metadata(Some(&topic), TIMEOUT).map_err(kafka)?;
            let Some(meta) = metadata.topics().iter().find(|t| t.name() == topic && t.error().is_none())
            else {
                return Ok(Vec::new()); // no offsets topic yet: no offsets
            };
            let mut assignment = TopicPartitionList::new();
            let mut ends = BTreeMap::new();
            for partition in meta.partitions() {
                let (low, high) =
                    consumer.fetch_watermarks(&topic, partition.id(), TIMEOUT).map_err(kafka)?;
                if high > low {
                    assignment
                        .add_partition_offset(&topic, partition.id(), Offset::Beginning)
                        .map_err(kafka)?;
                    ends.insert(partition.id(), high);
                }
            }
            let mut latest: BTreeMap<String, (Value, Option<Value>)> = BTreeMap::new();
            if ends.is_empty() {
                return Ok(Vec::new());
            }
            consumer.assign(&assignment).map_err(kafka)?;
            let deadline = Instant::now() + TIMEOUT;
            let mut done: BTreeMap<i32, bool> = ends.keys().map(|p| (*p, false)).collect();
            while done.values().any(|d| !d) {
                if Instant::now() > deadline {
                    return Err(Error::Unavailable(format!("kafka: reading {topic} timed out")));
                }
                let Some(message) = consumer.poll(Duration::from_millis(200)) else {
                    // Transaction markers end a partition without a message.
                    for (partition, end) in &ends {
                        if let Ok(pos) = consumer.position()
                            && let Some(Offset::Offset(at)) =
                                pos.find_partition(&topic, *partition).map(|p| p.offset())
                            && at >= *end
                        {
                            done.insert(*partition, true);
                        }
                    }
                    continue;
                };
                let message = message.map_err(kafka)?;
                if message.offset() + 1 >= ends[&message.partition()] {
                    done.insert(message.partition(), true);
                }
                let Some((owner, partition)) = message.key().and_then(decode_source_key) else { continue };
                if owner != connector {
                    continue;
                }
                let offset = match message.payload() {
                    None => None,
                    Some(bytes) => Some(
                        serde_json::from_slice::<Value>(bytes)
                            .map_err(|e| Error::Internal(format!("offset in {topic} is not JSON: {e}")))?,
                    ),
                };
                latest.insert(partition.to_string(), (partition, offset));
            }
            Ok(latest.into_values().filter_map(|(p, o)| o.map(|o| (p, o))).collect())
        })
        .await
    }

    /// Writes (or, with no offset, deletes) source partitions' offsets.
    pub async fn write_source_offsets(
        &self,
        topic: &str,
        connector: &str,
        entries: Vec<Entry>,
    ) -> Result<()> {
        let (config, topic, connector) =
            (self.clients.producer_config(), topic.to_owned(), connector.to_owned());
        blocking(move || {
            let producer: KafkaProducer =
                config.clone().set("enable.idempotence", "true").create().map_err(kafka)?;
            for (partition, offset) in &entries {
                let key = encode_source_key(&connector, partition);
                let payload = offset.as_ref().map(|o| o.to_string().into_bytes());
                let mut record = BaseRecord::<Vec<u8>, Vec<u8>>::to(&topic).key(&key);
                if let Some(payload) = &payload {
                    record = record.payload(payload);
                }
                producer.send(record).map_err(|(e, _)| kafka(e))?;
            }
            producer.flush(TIMEOUT).map_err(kafka)
        })
        .await
    }

    /// The committed offsets of a sink connector's consumer group, for the
    /// given topic-partitions.
    pub async fn sink_offsets(
        &self,
        connector: &str,
        partitions: Vec<(String, i32)>,
    ) -> Result<Vec<(String, i32, i64)>> {
        let (config, group) = (self.clients.consumer_config(), sink_group_id(connector));
        blocking(move || {
            let consumer: KafkaConsumer = config.clone().set("group.id", &group).create().map_err(kafka)?;
            let mut list = TopicPartitionList::new();
            for (topic, partition) in &partitions {
                list.add_partition(topic, *partition);
            }
            // The group's coordinator may be moving or loading (a broker
            // answers NotCoordinator / CoordinatorLoadInProgress meanwhile):
            // librdkafka re-finds it, so ask again for a few seconds.
            let mut attempt = 0;
            let committed = loop {
                match consumer.committed_offsets(list.clone(), TIMEOUT) {
                    Err(KafkaError::MetadataFetch(
                        RDKafkaErrorCode::NotCoordinator | RDKafkaErrorCode::CoordinatorLoadInProgress,
                    )) if attempt < 10 => {
                        attempt += 1;
                        std::thread::sleep(Duration::from_millis(500));
                    }
                    result => break result.map_err(kafka)?,
                }
            };
            Ok(committed
                .elements()
                .iter()
                .filter_map(|e| match e.offset() {
                    Offset::Offset(at) => Some((e.topic().to_owned(), e.partition(), at)),
                    _ => None,
                })
                .collect())
        })
        .await
    }

    /// Commits sink offsets for the connector's group.
    pub async fn write_sink_offsets(&self, connector: &str, offsets: Vec<(String, i32, i64)>) -> Result<()> {
        let (config, group) = (self.clients.consumer_config(), sink_group_id(connector));
        blocking(move || {
            let consumer: KafkaConsumer = config.clone().set("group.id", &group).create().map_err(kafka)?;
            let mut list = TopicPartitionList::new();
            for (topic, partition, offset) in &offsets {
                list.add_partition_offset(topic, *partition, Offset::Offset(*offset)).map_err(kafka)?;
            }
            consumer.commit(&list, CommitMode::Sync).map_err(kafka)
        })
        .await
    }

    /// Deletes the sink connector's consumer group and so all its offsets.
    pub async fn reset_sink(&self, connector: &str) -> Result<()> {
        let config = self.clients.admin_config();
        let admin: KafkaAdmin = blocking(move || config.create().map_err(kafka)).await?;
        let group = sink_group_id(connector);
        let results = admin
            .delete_groups(&[group.as_str()], &AdminOptions::new().operation_timeout(Some(TIMEOUT)))
            .await
            .map_err(kafka)?;
        for result in results {
            match result {
                Ok(_) => {}
                // Never committed anything: nothing to reset.
                Err((_, rdkafka::types::RDKafkaErrorCode::GroupIdNotFound)) => {}
                Err((group, code)) => {
                    return Err(Error::Unavailable(format!("kafka: delete group {group}: {code}")));
                }
            }
        }
        Ok(())
    }
}
