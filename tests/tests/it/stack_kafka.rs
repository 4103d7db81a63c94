//! The local stack's Kafka: PLAINTEXT and SCRAM listeners, and transactions.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hydrate_tests::{StackEnv, TestScope};
use rdkafka::ClientContext;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

const TIMEOUT: Duration = Duration::from_secs(30);

fn plaintext(env: &StackEnv) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", env.kafka_bootstrap());
    config
}

fn scram(env: &StackEnv, password: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", env.var("KAFKA_SASL_BOOTSTRAP_SERVERS"))
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanism", env.var("KAFKA_SASL_MECHANISM"))
        .set("sasl.username", env.var("KAFKA_SASL_USERNAME"))
        .set("sasl.password", password);
    config
}

async fn create_topic(env: &StackEnv, topic: &str) {
    let admin: AdminClient<_> = plaintext(env).create().expect("admin client");
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(TIMEOUT)),
        )
        .await
        .expect("create topic");
    for result in results {
        result.expect("topic created");
    }
}

/// Reads partition 0 of `topic` from the start to its end (for a
/// read_committed consumer: to the last stable offset), returning the values.
fn read_all(mut config: ClientConfig, topic: &str, isolation: &str) -> Vec<String> {
    let consumer: BaseConsumer = config
        .set("group.id", format!("{topic}-reader"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", isolation)
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(topic, 0, Offset::Beginning).expect("assignment");
    consumer.assign(&assignment).expect("assign");

    let deadline = Instant::now() + TIMEOUT;
    let mut values = Vec::new();
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(message)) => {
                values.push(String::from_utf8(message.payload().unwrap_or_default().to_vec()).expect("utf-8"))
            }
            Some(Err(KafkaError::PartitionEOF(_))) => return values,
            Some(Err(err)) => panic!("consume {topic}: {err}"),
            None => {}
        }
    }
    panic!("no end of partition for {topic} within {TIMEOUT:?}; read {values:?}");
}

async fn produce_then_consume(config: ClientConfig, topic: &str) {
    let producer: FutureProducer = config.create().expect("producer");
    let value = format!("hello {topic}");
    producer
        .send(FutureRecord::to(topic).key("k").payload(&value), TIMEOUT)
        .await
        .map_err(|(err, _)| err)
        .expect("delivered");
    let topic = topic.to_owned();
    let values = tokio::task::spawn_blocking(move || read_all(config, &topic, "read_committed"))
        .await
        .expect("reader");
    assert_eq!(values, vec![value]);
}

#[tokio::test]
async fn produce_and_consume_over_plaintext() {
    let scope = TestScope::new("kafka_plaintext");
    let topic = scope.topic("plain");
    create_topic(scope.env(), &topic).await;
    produce_then_consume(plaintext(scope.env()), &topic).await;
}

#[tokio::test]
async fn produce_and_consume_over_scram() {
    let scope = TestScope::new("kafka_scram");
    let topic = scope.topic("scram");
    create_topic(scope.env(), &topic).await;
    let env = scope.env();
    produce_then_consume(scram(env, env.var("KAFKA_SASL_PASSWORD")), &topic).await;
}

/// Records what librdkafka reports through its error callback.
#[derive(Clone, Default)]
struct ErrorLog(Arc<Mutex<Vec<String>>>);

impl ClientContext for ErrorLog {
    fn error(&self, error: KafkaError, reason: &str) {
        if let Ok(mut errors) = self.0.lock() {
            errors.push(format!("{error}: {reason}"));
        }
    }
}

impl ConsumerContext for ErrorLog {}

#[tokio::test]
async fn scram_with_wrong_password_is_refused() {
    let env = StackEnv::get();
    let log = ErrorLog::default();
    let consumer: BaseConsumer<ErrorLog> = scram(env, "not-the-password")
        .set("group.id", "wrong-password")
        .create_with_context(log.clone())
        .expect("consumer");
    let seen = log.clone();
    let (result, errors) = tokio::task::spawn_blocking(move || {
        let result = consumer.fetch_metadata(None, Duration::from_secs(10)).map(|_| ());
        // librdkafka hands errors to the callback only while the client is
        // polled: serve its queue until the authentication error shows.
        let has_auth_error =
            || seen.0.lock().map(|e| e.join("\n").to_lowercase().contains("authentication")).unwrap_or(false);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !has_auth_error() && Instant::now() < deadline {
            let _ = consumer.poll(Duration::from_millis(100));
        }
        let errors = seen.0.lock().map(|e| e.join("\n")).unwrap_or_default();
        (result, errors)
    })
    .await
    .expect("metadata thread");
    assert!(result.is_err(), "metadata must not be served with a wrong password");
    assert!(
        errors.to_lowercase().contains("authentication"),
        "expected an authentication failure, got: {errors}; metadata: {result:?}"
    );
}

#[tokio::test]
async fn read_committed_sees_committed_transactions_only() {
    let scope = TestScope::new("kafka_txn");
    let topic = scope.topic("txn");
    create_topic(scope.env(), &topic).await;
    let env = scope.env();
    let transactional_id = format!("{}-producer", scope.id());

    let written = {
        let topic = topic.clone();
        let config = plaintext(env);
        tokio::task::spawn_blocking(move || -> Result<(), KafkaError> {
            let producer: BaseProducer =
                config.clone().set("transactional.id", &transactional_id).create()?;
            producer.init_transactions(TIMEOUT)?;
            let batch = |values: &[&str]| -> Result<(), KafkaError> {
                producer.begin_transaction()?;
                for value in values {
                    producer.send(BaseRecord::to(&topic).key("k").payload(*value)).map_err(|(err, _)| err)?;
                }
                // Flush so aborted records really reach the log: the test must
                // see the broker hide them, not the client drop them.
                producer.flush(TIMEOUT)?;
                Ok(())
            };
            batch(&["c1", "c2", "c3"])?;
            producer.commit_transaction(TIMEOUT)?;
            batch(&["a1", "a2"])?;
            producer.abort_transaction(TIMEOUT)?;
            batch(&["c4"])?;
            producer.commit_transaction(TIMEOUT)?;
            Ok(())
        })
    };
    written.await.expect("producer thread").expect("transactions");

    let committed = {
        let (config, topic) = (plaintext(env), topic.clone());
        tokio::task::spawn_blocking(move || read_all(config, &topic, "read_committed"))
    };
    let uncommitted = {
        let (config, topic) = (plaintext(env), topic.clone());
        tokio::task::spawn_blocking(move || read_all(config, &topic, "read_uncommitted"))
    };
    assert_eq!(committed.await.expect("reader"), ["c1", "c2", "c3", "c4"]);
    assert_eq!(
        uncommitted.await.expect("reader"),
        ["c1", "c2", "c3", "a1", "a2", "c4"],
        "aborted records are in the log, only hidden from read_committed"
    );
}
