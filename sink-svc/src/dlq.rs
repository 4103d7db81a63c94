//! The dead letter queue: records a task could not write, sent as they were
//! read (key, value, headers) with Kafka Connect's error context headers.
//! The topic is created when the task starts, as Kafka Connect's
//! `DeadLetterQueueReporter` does (one partition, the configured
//! replication factor), so it exists where brokers do not create topics.

use std::time::Duration;

use hydrate_common::connect::DeadLetterQueue;
use hydrate_kafka::{KafkaAdmin, KafkaClientConfig, KafkaProducer};
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;

use crate::error::{Result, SinkError};

/// Where and why a record failed, as Kafka Connect's `ErrorReporter` says it.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Kafka Connect's stage name (`VALUE_CONVERTER`, `TRANSFORMATION`, `TASK_PUT`, ...).
    pub stage: &'static str,
    /// The class that failed, as Kafka Connect names it.
    pub class_name: &'static str,
    /// The exception class Kafka Connect would report.
    pub exception: &'static str,
    /// What is wrong.
    pub message: String,
}

/// A producer into the connector's dead letter queue topic.
pub struct Dlq {
    producer: KafkaProducer,
    topic: String,
    context_headers: bool,
    connector: String,
    task: u32,
}

/// Creates the dead letter queue topic of `settings` unless it exists.
pub async fn ensure_topic(config: &KafkaClientConfig, settings: &DeadLetterQueue) -> Result<()> {
    let admin: KafkaAdmin =
        config.create().map_err(|e| SinkError::Kafka(format!("dead letter queue admin client: {e}")))?;
    let topic =
        NewTopic::new(&settings.topic, 1, TopicReplication::Fixed(i32::from(settings.replication_factor)));
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics([&topic], &options)
        .await
        .map_err(|e| SinkError::Kafka(format!("creating dead letter queue topic {}: {e}", settings.topic)))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(SinkError::Config(format!(
                    "cannot create the dead letter queue topic {name} \
                     (errors.deadletterqueue.topic.replication.factor={}): {code}",
                    settings.replication_factor
                )));
            }
        }
    }
    Ok(())
}

impl Dlq {
    /// A producer for `settings` with the worker's client `config`.
    pub fn new(
        config: &KafkaClientConfig,
        settings: &DeadLetterQueue,
        connector: &str,
        task: u32,
    ) -> Result<Dlq> {
        let producer: KafkaProducer = config
            .clone()
            .set("enable.idempotence", "true")
            .set("client.id", format!("hydrate-sink-dlq-{connector}-{task}"))
            .create()
            .map_err(|e| SinkError::Kafka(format!("dead letter queue producer: {e}")))?;
        Ok(Dlq {
            producer,
            topic: settings.topic.clone(),
            context_headers: settings.context_headers,
            connector: connector.to_owned(),
            task,
        })
    }

    /// Sends `message` with the failure's context headers (when enabled).
    pub fn send<M: Message>(&self, message: &M, failure: &Failure) -> Result<()> {
        let mut headers = OwnedHeaders::new();
        if let Some(original) = message.headers() {
            use rdkafka::message::Headers;
            for h in original.iter() {
                headers = headers.insert(Header { key: h.key, value: h.value });
            }
        }
        if self.context_headers {
            let partition = message.partition().to_string();
            let offset = message.offset().to_string();
            let task = self.task.to_string();
            let pairs: [(&str, &str); 9] = [
                ("__connect.errors.topic", message.topic()),
                ("__connect.errors.partition", &partition),
                ("__connect.errors.offset", &offset),
                ("__connect.errors.connector.name", &self.connector),
                ("__connect.errors.task.id", &task),
                ("__connect.errors.stage", failure.stage),
                ("__connect.errors.class.name", failure.class_name),
                ("__connect.errors.exception.class.name", failure.exception),
                ("__connect.errors.exception.message", &failure.message),
            ];
            for (key, value) in pairs {
                headers = headers.insert(Header { key, value: Some(value.as_bytes()) });
            }
        }
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&self.topic).headers(headers);
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(payload) = message.payload() {
            record = record.payload(payload);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((
                    rdkafka::error::KafkaError::MessageProduction(
                        rdkafka::types::RDKafkaErrorCode::QueueFull,
                    ),
                    back,
                )) => {
                    record = back;
                    self.producer.poll(Duration::from_millis(50));
                }
                Err((err, _)) => {
                    return Err(SinkError::Kafka(format!("dead letter queue {}: {err}", self.topic)));
                }
            }
        }
    }

    /// Waits until everything sent is in Kafka (before a commit moves past it).
    pub fn flush(&self) -> Result<()> {
        self.producer
            .flush(Duration::from_secs(30))
            .map_err(|e| SinkError::Kafka(format!("dead letter queue {}: {e}", self.topic)))
    }
}
