//! What the scheduler needs from Kafka: which topics exist, with how many
//! partitions (to split sinks into topic-partitions).

use std::time::Duration;

use hydrate_kafka::{KafkaClients, KafkaConsumer};
use rdkafka::consumer::Consumer;

use crate::tasks::TopicPartitions;

/// A source of topic metadata; a trait so unit tests need no broker.
#[tonic::async_trait]
pub trait TopicSource: Send + Sync {
    /// Every topic and its partition count.
    async fn topics(&self) -> Result<TopicPartitions, String>;
}

/// Topic metadata from a Kafka cluster.
pub struct KafkaTopics {
    consumer: std::sync::Arc<KafkaConsumer>,
}

impl KafkaTopics {
    /// A metadata client of `clients` (the worker properties' consumer settings).
    pub fn new(clients: &KafkaClients) -> Result<KafkaTopics, String> {
        let consumer: KafkaConsumer =
            clients.consumer_config().create().map_err(|e| format!("kafka client: {e}"))?;
        Ok(KafkaTopics { consumer: std::sync::Arc::new(consumer) })
    }
}

#[tonic::async_trait]
impl TopicSource for KafkaTopics {
    async fn topics(&self) -> Result<TopicPartitions, String> {
        let consumer = self.consumer.clone();
        // librdkafka's metadata call blocks: keep it off the runtime.
        tokio::task::spawn_blocking(move || {
            let metadata = consumer
                .fetch_metadata(None, Duration::from_secs(5))
                .map_err(|e| format!("kafka metadata: {e}"))?;
            Ok(metadata
                .topics()
                .iter()
                .filter(|t| t.error().is_none())
                .map(|t| (t.name().to_owned(), t.partitions().len() as u32))
                .collect())
        })
        .await
        .map_err(|e| format!("kafka metadata task: {e}"))?
    }
}

/// No Kafka configured: no topics (sinks get no tasks).
pub struct NoTopics;

#[tonic::async_trait]
impl TopicSource for NoTopics {
    async fn topics(&self) -> Result<TopicPartitions, String> {
        Err("no Kafka bootstrap servers configured (--kafka-bootstrap-servers)".into())
    }
}
