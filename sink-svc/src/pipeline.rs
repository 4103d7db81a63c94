//! The CPU side of a task, run off the async runtime: poll a batch from
//! Kafka, convert, transform, partition and encode each record into its
//! segment file, and keep the encoders within the memory budget.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hydrate_common::connect::{ErrorHandling, ErrorTolerance, NullValueBehavior};
use hydrate_common::metrics::Stage;
use hydrate_common::record::transform::TransformChain;
use hydrate_common::record::{Header, Record};
use hydrate_kafka::KafkaConsumer;
use rdkafka::message::{Headers, Message};
use tracing::Span;

use crate::converter::Converter;
use crate::dlq::{Dlq, Failure};
use crate::error::{Result, SinkError};
use crate::memory::TaskMemory;
use crate::partition::Partitioner;
use crate::segment::{Appended, FileFactory, PartitionWriter};
use crate::telemetry::{self, PipelineTelemetry, Received};

/// Most records handled in one step between commits.
const MAX_BATCH: usize = 5_000;

/// Counters of one step.
#[derive(Debug, Default, Clone, Copy)]
pub struct StepStats {
    /// Records read.
    pub read: u64,
    /// Records written into files.
    pub written: u64,
    /// Records already in the lake, skipped after recovery.
    pub skipped: u64,
    /// Records sent to the dead letter queue or dropped by tolerance.
    pub failed: u64,
}

/// Everything a task's records pass through.
pub struct Pipeline {
    /// The consumer, assigned to the task's partitions.
    pub consumer: Arc<KafkaConsumer>,
    /// One writer per assigned partition.
    pub writers: HashMap<(String, i32), PartitionWriter>,
    /// Files and their names.
    pub files: FileFactory,
    /// Key converter, when keys are needed.
    pub key_converter: Converter,
    /// Value converter.
    pub value_converter: Converter,
    /// Transforms.
    pub chain: TransformChain,
    /// The partitioner.
    pub partitioner: Box<dyn Partitioner>,
    /// Null values.
    pub null_values: NullValueBehavior,
    /// `errors.*`.
    pub errors: ErrorHandling,
    /// The dead letter queue, if configured.
    pub dlq: Option<Dlq>,
    /// This task's part of the memory budget.
    pub memory: TaskMemory,
    /// Whether the partitioner's record time is needed (`rotate.interval.ms`).
    pub needs_record_time: bool,
    /// The task's metrics.
    pub telemetry: PipelineTelemetry,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Pipeline {
    /// Polls for up to `wait` and handles what arrives, then lets the
    /// schedule rotate idle segments.
    pub fn step(&mut self, wait: Duration) -> Result<StepStats> {
        let deadline = Instant::now() + wait;
        let mut stats = StepStats::default();
        let consumer = self.consumer.clone();
        // `sink.consume` and `sink.encode`, once a record came.
        let mut spans: Option<(Span, Span)> = None;
        let mut received = Received::default();
        while (stats.read as usize) < MAX_BATCH {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match consumer.poll(left.min(Duration::from_millis(100))) {
                None if stats.read > 0 => break,
                None => {}
                Some(Err(err)) => {
                    self.telemetry.metrics.error(Stage::Consume);
                    tracing::warn!(error = %err, "kafka consumer error");
                    if matches!(err, rdkafka::error::KafkaError::MessageConsumptionFatal(_)) {
                        return Err(SinkError::Kafka(err.to_string()));
                    }
                }
                Some(Ok(message)) => {
                    stats.read += 1;
                    received.add(&message);
                    let (_, encode) = spans.get_or_insert_with(|| telemetry::consume_spans(&message));
                    let encode = encode.clone();
                    encode.in_scope(|| self.handle(&message, &mut stats))?;
                }
            }
        }
        received.report(&self.telemetry.metrics);
        let _encoding = spans.as_ref().map(|(consume, encode)| {
            consume.record("records", stats.read);
            encode.enter()
        });
        let now = now_ms();
        for writer in self.writers.values_mut() {
            writer.tick(now)?;
        }
        self.telemetry.set_gauges(&self.consumer, &self.writers);
        Ok(stats)
    }

    fn handle<M: Message>(&mut self, message: &M, stats: &mut StepStats) -> Result<()> {
        let key = (message.topic().to_owned(), message.partition());
        let offset = message.offset();
        let Some(writer) = self.writers.get_mut(&key) else {
            tracing::warn!(topic = %key.0, partition = key.1, "record of a partition not assigned to this task; ignored");
            return Ok(());
        };
        if offset < writer.next_offset {
            return Ok(());
        }
        writer.next_offset = offset + 1;
        let record = match self.convert(message) {
            Ok(Some(record)) => record,
            Ok(None) => return Ok(()),
            Err(failure) => return self.fail(message, failure, stats),
        };
        let now = now_ms();
        let encoded = match (&record.value.value.is_null(), &self.null_values) {
            (true, NullValueBehavior::Ignore) => return Ok(()),
            (true, NullValueBehavior::Fail) => {
                return Err(SinkError::Record {
                    topic: key.0,
                    partition: key.1,
                    offset,
                    stage: "TASK_PUT",
                    message: "null value (tombstone) and behavior.on.null.values is fail; \
                              set it to ignore to skip tombstones"
                        .into(),
                });
            }
            (true, NullValueBehavior::Write { partition }) => partition.clone(),
            (false, _) => match self.partitioner.encode(&record, now) {
                Ok(encoded) => encoded,
                Err(err) => {
                    let failure = Failure {
                        stage: "TASK_PUT",
                        class_name: "io.confluent.connect.storage.partitioner.Partitioner",
                        exception: "org.apache.kafka.connect.errors.DataException",
                        message: err.to_string(),
                    };
                    return self.fail(message, failure, stats);
                }
            },
        };
        let time = if self.needs_record_time { self.partitioner.record_time(&record, now) } else { None };
        let Some(writer) = self.writers.get_mut(&key) else { return Ok(()) };
        match writer.append(&self.files, &encoded, &record, time, now)? {
            Appended::Written => stats.written += 1,
            Appended::Skipped => stats.skipped += 1,
            Appended::Rejected(reason) => {
                let failure = Failure {
                    stage: "TASK_PUT",
                    class_name: "io.confluent.connect.s3.S3SinkTask",
                    exception: "org.apache.kafka.connect.errors.DataException",
                    message: reason,
                };
                return self.fail(message, failure, stats);
            }
        }
        self.keep_in_budget()
    }

    /// Converts and transforms; `Ok(None)` when a transform dropped it.
    fn convert<M: Message>(&mut self, message: &M) -> Result<Option<Record>, Failure> {
        let converter_failure = |stage, class_name, message: String| Failure {
            stage,
            class_name,
            exception: "org.apache.kafka.connect.errors.DataException",
            message,
        };
        let key = self.key_converter.to_connect(message.key()).map_err(|m| {
            converter_failure("KEY_CONVERTER", "org.apache.kafka.connect.json.JsonConverter", m)
        })?;
        let value = self.value_converter.to_connect(message.payload()).map_err(|m| {
            converter_failure("VALUE_CONVERTER", "org.apache.kafka.connect.json.JsonConverter", m)
        })?;
        let headers = message
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| Header { key: h.key.to_owned(), value: h.value.map(<[u8]>::to_vec) })
                    .collect()
            })
            .unwrap_or_default();
        let record = Record {
            topic: message.topic().to_owned(),
            partition: Some(message.partition()),
            key,
            value,
            timestamp: message.timestamp().to_millis(),
            offset: Some(message.offset()),
            headers,
        };
        self.chain.apply(record).map_err(|e| Failure {
            stage: "TRANSFORMATION",
            class_name: "org.apache.kafka.connect.transforms.Transformation",
            exception: "org.apache.kafka.connect.errors.DataException",
            message: e.to_string(),
        })
    }

    /// A bad record: the task fails (`errors.tolerance=none`), or it goes to
    /// the dead letter queue (if any) and the task goes on.
    fn fail<M: Message>(&mut self, message: &M, failure: Failure, stats: &mut StepStats) -> Result<()> {
        if self.errors.tolerance == ErrorTolerance::None {
            return Err(SinkError::Record {
                topic: message.topic().to_owned(),
                partition: message.partition(),
                offset: message.offset(),
                stage: failure.stage,
                message: failure.message,
            });
        }
        stats.failed += 1;
        self.telemetry.metrics.error(telemetry::record_stage(failure.stage));
        if self.errors.log_enable {
            tracing::warn!(
                topic = message.topic(),
                partition = message.partition(),
                offset = message.offset(),
                stage = failure.stage,
                error = %failure.message,
                "record skipped (errors.tolerance=all)"
            );
        }
        match &self.dlq {
            Some(dlq) => dlq.send(message, &failure),
            None => Ok(()),
        }
    }

    fn keep_in_budget(&mut self) -> Result<()> {
        let total: usize = self.writers.values().map(PartitionWriter::buffered).sum();
        let excess = self.memory.set(total as u64) as usize;
        if excess == 0 {
            return Ok(());
        }
        let mut target = total.saturating_sub(excess);
        let mut writers: Vec<&mut PartitionWriter> = self.writers.values_mut().collect();
        writers.sort_unstable_by_key(|w| std::cmp::Reverse(w.buffered()));
        let mut left = total;
        for writer in writers {
            if left <= target {
                break;
            }
            let before = writer.buffered();
            let keep = before.saturating_sub(left - target);
            let after = writer.flush_largest(keep)?;
            left = left - before + after;
        }
        target = left;
        self.memory.set(target as u64);
        Ok(())
    }
}
