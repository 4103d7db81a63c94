//! The task's Kafka consumer: exactly the leased partitions by `assign()`
//! (no group membership), read_committed, committing offsets under the
//! connector's group `connect-<connector>` only for lag and the offsets API.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hydrate_kafka::{KafkaClientConfig, KafkaClients, KafkaConsumer};
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::error::{Result, SinkError};

const TIMEOUT: Duration = Duration::from_secs(15);

fn kafka(context: &str, err: impl std::fmt::Display) -> SinkError {
    SinkError::Kafka(format!("{context}: {err}"))
}

/// librdkafka settings the sink changes from librdkafka's defaults, unless
/// the worker properties set them:
/// - `fetch.queue.backoff.ms`: once the prefetch queue is full, librdkafka
///   waits this long before fetching again (default 1000 ms). A task that
///   encodes slower than the broker serves fills the queue, drains it while
///   nothing is fetched, and then waits on the network: measured here, a
///   task ran at half speed with 1 s. 10 ms keeps the queue fed.
/// - `queued.max.messages.kbytes`: the prefetch queue (default 64 MiB). With
///   the short backoff, 16 MiB keeps the same pace in a quarter of the memory.
pub const CONSUMER_DEFAULTS: [(&str, &str); 2] =
    [("fetch.queue.backoff.ms", "10"), ("queued.max.messages.kbytes", "16384")];

/// The client config of the consumer (common and `consumer.*` properties).
pub fn consumer_config(clients: &KafkaClients, group: &str, client_id: &str) -> KafkaClientConfig {
    let mut config = clients.consumer_config();
    config
        .set_defaults(&CONSUMER_DEFAULTS)
        .set("group.id", group)
        .set("client.id", client_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false");
    config
}

/// The client config of producers (common and `producer.*` properties).
pub fn producer_config(clients: &KafkaClients) -> KafkaClientConfig {
    clients.producer_config()
}

/// Creates the consumer (no IO yet, but an MSK IAM token may need
/// credentials: they are cached from the service's start).
pub fn create(config: &KafkaClientConfig) -> Result<Arc<KafkaConsumer>> {
    config.create().map(Arc::new).map_err(|e| kafka("consumer", e))
}

/// Where partitions without a checkpoint start: the group's committed
/// offset, else the earliest offset still in the log. Blocking.
pub fn fallback_starts(
    consumer: &KafkaConsumer,
    partitions: &[(String, i32)],
) -> Result<BTreeMap<(String, i32), i64>> {
    let mut list = TopicPartitionList::new();
    for (topic, partition) in partitions {
        list.add_partition(topic, *partition);
    }
    let committed = consumer.committed_offsets(list, TIMEOUT).map_err(|e| kafka("committed offsets", e))?;
    let mut starts = BTreeMap::new();
    for (topic, partition) in partitions {
        let (low, _) = consumer
            .fetch_watermarks(topic, *partition, TIMEOUT)
            .map_err(|e| kafka(&format!("offsets of {topic}-{partition}"), e))?;
        let offset = match committed.find_partition(topic, *partition).map(|p| p.offset()) {
            Some(Offset::Offset(o)) if o >= low => o,
            _ => low,
        };
        starts.insert((topic.clone(), *partition), offset);
    }
    Ok(starts)
}

/// Assigns exactly these partitions at these offsets.
pub fn assign(consumer: &KafkaConsumer, starts: &BTreeMap<(String, i32), i64>) -> Result<()> {
    let mut list = TopicPartitionList::new();
    for ((topic, partition), offset) in starts {
        list.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .map_err(|e| kafka("assign", e))?;
    }
    consumer.assign(&list).map_err(|e| kafka("assign", e))
}

/// Commits `offsets` (the checkpoints' resume offsets) to the group, for
/// lag and the offsets API; the checkpoints are the truth.
pub fn commit(consumer: &KafkaConsumer, offsets: &BTreeMap<(String, i32), i64>) -> Result<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    let mut list = TopicPartitionList::new();
    for ((topic, partition), offset) in offsets {
        list.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .map_err(|e| kafka("commit", e))?;
    }
    consumer.commit(&list, CommitMode::Async).map_err(|e| kafka("commit offsets", e))
}

/// `topic-N` resource names as (topic, partition), split at the last dash.
pub fn parse_resources(resources: &[String]) -> Result<Vec<(String, i32)>> {
    resources
        .iter()
        .map(|r| {
            let (topic, partition) = r
                .rsplit_once('-')
                .ok_or_else(|| SinkError::Config(format!("resource `{r}` is not topic-partition")))?;
            let partition = partition
                .parse::<i32>()
                .map_err(|_| SinkError::Config(format!("resource `{r}` is not topic-partition")))?;
            Ok((topic.to_owned(), partition))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefetch_defaults_give_way_to_worker_properties() {
        let settings = |pairs: &[(&str, &str)]| {
            let worker = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            hydrate_common::kafka_props::KafkaSettings::from_worker_properties(
                &worker,
                Some("localhost:9092"),
            )
            .unwrap()
        };
        let plain = KafkaClients::with_signer(settings(&[]), None).unwrap();
        let config = consumer_config(&plain, "g", "c");
        assert_eq!(config.get("fetch.queue.backoff.ms"), Some("10"));
        assert_eq!(config.get("queued.max.messages.kbytes"), Some("16384"));
        let tuned =
            KafkaClients::with_signer(settings(&[("consumer.fetch.queue.backoff.ms", "250")]), None).unwrap();
        assert_eq!(consumer_config(&tuned, "g", "c").get("fetch.queue.backoff.ms"), Some("250"));
        // Every default is a property librdkafka knows.
        let _: KafkaConsumer = config.create().unwrap();
    }

    #[test]
    fn resources_split_at_the_last_dash() {
        let parsed = parse_resources(&["pagila.public.alt-address-12".into(), "t-0".into()]).unwrap();
        assert_eq!(parsed, vec![("pagila.public.alt-address".into(), 12), ("t".into(), 0)]);
        assert!(parse_resources(&["nodash".into()]).is_err());
    }
}
