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
use rdkafka::message::{BorrowedMessage, Headers, Message};
use tracing::Span;

use crate::converter::Converter;
use crate::dlq::{Dlq, Failure};
use crate::error::{Result, SinkError};
use crate::memory::TaskMemory;
use crate::partition::Partitioner;
use crate::segment::{Appended, FileFactory, PartitionWriter};
use crate::telemetry::{self, PipelineTelemetry, Received};

/// Most records handled in one step between commits (a step lasts at
/// most [`crate::task`]'s step wait, or this many records: a tenth of a
/// second at speed; each step starts its reading thread).
const MAX_BATCH: usize = 20_000;
/// Records handled between two readings of the wall clock (the partitioner's
/// and the rotation's "now"): a few hundred microseconds apart at speed.
const CLOCK_EVERY: u64 = 64;

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

/// `longest`, or less: up to the first of the `due` times (ms) and just past
/// it, so the step ends when a scheduled rotation falls due.
fn until_due(due: impl Iterator<Item = i64>, now_ms: i64, longest: Duration) -> Duration {
    due.map(|at| Duration::from_millis(u64::try_from(at - now_ms + 1).unwrap_or(0)))
        .fold(longest, Duration::min)
}

/// Records handed from the reading stage to the writing stage at a time.
const CHUNK: usize = 256;
/// Chunks between the two stages: a bound on records read ahead.
const CHUNKS_AHEAD: usize = 8;

/// What the reading stage made of one message.
enum Converted {
    /// Write `record` into the directory `encoded`.
    Write { record: Record, encoded: String, time: Option<i64> },
    /// A transform dropped it, or it is a tombstone and nulls are ignored.
    Dropped,
    /// It cannot be written: the dead letter queue, or the task fails.
    Failed(Failure),
    /// A tombstone with `behavior.on.null.values=fail`.
    NullRefused,
}

/// A message and what became of it. The message itself (its librdkafka
/// buffers and parsed headers) is freed on the reading thread, which
/// allocated it, unless the writing stage may need it: for the dead letter
/// queue, and the step's first record (its trace context).
struct Item<M> {
    topic: Arc<str>,
    partition: i32,
    offset: i64,
    message: Option<M>,
    converted: Converted,
}

/// The reading stage: polls, converts, transforms and partitions, on a
/// thread of its own, while the writing stage encodes the chunk before.
struct ReadStage<'p> {
    consumer: &'p KafkaConsumer,
    key_converter: &'p Converter,
    value_converter: &'p Converter,
    chain: &'p mut TransformChain,
    partitioner: &'p dyn Partitioner,
    null_values: &'p NullValueBehavior,
    needs_record_time: bool,
    /// Whether messages go on to the writing stage (a dead letter queue).
    keep_messages: bool,
    metrics: &'p hydrate_common::metrics::SinkTaskMetrics,
}

/// What the reading stage leaves for the step's end.
struct ReadEnd {
    received: Received,
    read: u64,
}

impl<'p> ReadStage<'p> {
    /// Reads for up to `wait` (or [`MAX_BATCH`] records), handing chunks to
    /// `out`; stops early when the writing stage is gone.
    fn run(
        mut self,
        wait: Duration,
        out: std::sync::mpsc::SyncSender<Vec<Item<BorrowedMessage<'p>>>>,
    ) -> Result<ReadEnd> {
        let deadline = Instant::now() + wait;
        let mut end = ReadEnd { received: Received::default(), read: 0 };
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut now = now_ms();
        let mut left = wait;
        let mut topic: Arc<str> = Arc::from("");
        while (end.read as usize) < MAX_BATCH && !left.is_zero() {
            match self.consumer.poll(left.min(Duration::from_millis(100))) {
                None if end.read > 0 => break,
                None => left = deadline.saturating_duration_since(Instant::now()),
                Some(Err(err)) => {
                    self.metrics.error(Stage::Consume);
                    tracing::warn!(error = %err, "kafka consumer error");
                    if matches!(err, rdkafka::error::KafkaError::MessageConsumptionFatal(_)) {
                        return Err(SinkError::Kafka(err.to_string()));
                    }
                    left = deadline.saturating_duration_since(Instant::now());
                }
                Some(Ok(message)) => {
                    end.read += 1;
                    end.received.add(&message);
                    // The clock is read every so many records, not for each.
                    if end.read.is_multiple_of(CLOCK_EVERY) {
                        now = now_ms();
                        left = deadline.saturating_duration_since(Instant::now());
                    }
                    let converted = self.convert(&message, now);
                    if *topic != *message.topic() {
                        topic = Arc::from(message.topic());
                    }
                    let keep = self.keep_messages || end.read == 1;
                    chunk.push(Item {
                        topic: topic.clone(),
                        partition: message.partition(),
                        offset: message.offset(),
                        message: keep.then_some(message),
                        converted,
                    });
                    if chunk.len() == CHUNK {
                        let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                        if out.send(full).is_err() {
                            return Ok(end);
                        }
                    }
                }
            }
        }
        if !chunk.is_empty() {
            let _ = out.send(chunk);
        }
        Ok(end)
    }

    fn convert<M: Message>(&mut self, message: &M, now: i64) -> Converted {
        let record = match self.record_of(message) {
            Ok(Some(record)) => record,
            Ok(None) => return Converted::Dropped,
            Err(failure) => return Converted::Failed(failure),
        };
        let encoded = match (record.value.value.is_null(), self.null_values) {
            (true, NullValueBehavior::Ignore) => return Converted::Dropped,
            (true, NullValueBehavior::Fail) => return Converted::NullRefused,
            (true, NullValueBehavior::Write { partition }) => partition.clone(),
            (false, _) => match self.partitioner.encode(&record, now) {
                Ok(encoded) => encoded,
                Err(err) => {
                    return Converted::Failed(Failure {
                        stage: "TASK_PUT",
                        class_name: "io.confluent.connect.storage.partitioner.Partitioner",
                        exception: "org.apache.kafka.connect.errors.DataException",
                        message: err.to_string(),
                    });
                }
            },
        };
        let time = if self.needs_record_time { self.partitioner.record_time(&record, now) } else { None };
        Converted::Write { record, encoded, time }
    }

    /// Converts and transforms; `Ok(None)` when a transform dropped it.
    fn record_of<M: Message>(&mut self, message: &M) -> Result<Option<Record>, Failure> {
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
}

impl Pipeline {
    /// How long the next step may read: `longest`, or less when a segment's
    /// scheduled rotation falls due sooner (a step reads on to its end, and
    /// files are committed between steps).
    pub fn step_wait(&self, longest: Duration) -> Duration {
        until_due(self.writers.values().filter_map(PartitionWriter::rotation_due), now_ms(), longest)
    }

    /// Polls for up to `wait` and handles what arrives, then lets the
    /// schedule rotate idle segments. Reading (poll, convert, transform,
    /// partition) runs on a thread of its own beside writing (encode into
    /// files), a chunk of records apart.
    pub fn step(&mut self, wait: Duration) -> Result<StepStats> {
        let consumer = self.consumer.clone();
        let read = ReadStage {
            consumer: &consumer,
            key_converter: &self.key_converter,
            value_converter: &self.value_converter,
            chain: &mut self.chain,
            partitioner: self.partitioner.as_ref(),
            null_values: &self.null_values,
            needs_record_time: self.needs_record_time,
            keep_messages: self.dlq.is_some(),
            metrics: &self.telemetry.metrics,
        };
        let mut write = WriteStage {
            writers: &mut self.writers,
            files: &self.files,
            errors: &self.errors,
            dlq: self.dlq.as_ref(),
            memory: &mut self.memory,
            metrics: &self.telemetry.metrics,
            key: (String::new(), -1),
        };
        let mut stats = StepStats::default();
        let mut spans = None;
        let (written, read) = std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel(CHUNKS_AHEAD);
            let reader = std::thread::Builder::new()
                .name("sink-read".into())
                .spawn_scoped(scope, move || read.run(wait, tx));
            let reader = match reader {
                Ok(reader) => reader,
                Err(err) => return (Err(SinkError::Spool(err)), None),
            };
            let written = write.run(rx, &mut stats, &mut spans);
            let read = match reader.join() {
                Ok(read) => read,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            (written, Some(read))
        });
        written?;
        let Some(end) = read.transpose()? else { return Ok(stats) };
        stats.read = end.read;
        end.received.report(&self.telemetry.metrics);
        let _encoding = spans.as_ref().map(|(consume, encode): &(Span, Span)| {
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
}

/// Where a record came from, and its message if it was kept.
#[derive(Clone, Copy)]
struct Position<'a, M> {
    topic: &'a str,
    partition: i32,
    offset: i64,
    message: Option<&'a M>,
}

/// The writing stage: appends what the reading stage made of each message to
/// its partition's files, and keeps the task within its memory budget.
struct WriteStage<'p> {
    writers: &'p mut HashMap<(String, i32), PartitionWriter>,
    files: &'p FileFactory,
    errors: &'p ErrorHandling,
    dlq: Option<&'p Dlq>,
    memory: &'p mut TaskMemory,
    metrics: &'p hydrate_common::metrics::SinkTaskMetrics,
    /// The topic partition of the record handled last: records come in runs
    /// of one partition, so its name is copied once a run, not per record.
    key: (String, i32),
}

impl WriteStage<'_> {
    /// Handles the chunks until the reading stage is done. `sink.consume`
    /// and `sink.encode` start with the first record; records are encoded
    /// in the latter.
    fn run<M: Message>(
        &mut self,
        chunks: std::sync::mpsc::Receiver<Vec<Item<M>>>,
        stats: &mut StepStats,
        spans: &mut Option<(Span, Span)>,
    ) -> Result<()> {
        let mut now = now_ms();
        let mut handled = 0u64;
        let mut entered: Option<tracing::span::EnteredSpan> = None;
        // Dropping `chunks` on an error stops the reading stage.
        for chunk in chunks {
            if entered.is_none()
                && let Some(first) = chunk.first()
            {
                let (_, encode) =
                    spans.get_or_insert_with(|| telemetry::consume_spans(first.message.as_ref()));
                entered = Some(encode.clone().entered());
            }
            for item in chunk {
                handled += 1;
                if handled.is_multiple_of(CLOCK_EVERY) {
                    now = now_ms();
                }
                self.handle(item, now, stats)?;
            }
        }
        Ok(())
    }

    fn handle<M: Message>(&mut self, item: Item<M>, now: i64, stats: &mut StepStats) -> Result<()> {
        let Item { topic, partition, offset, message, converted } = item;
        if self.key.1 != partition || *self.key.0 != *topic {
            self.key = (topic.to_string(), partition);
        }
        let at = Position { topic: &topic, partition, offset, message: message.as_ref() };
        let Some(writer) = self.writers.get_mut(&self.key) else {
            tracing::warn!(
                topic = &*topic,
                partition,
                "record of a partition not assigned to this task; ignored"
            );
            return Ok(());
        };
        if offset < writer.next_offset {
            return Ok(());
        }
        writer.next_offset = offset + 1;
        let (record, encoded, time) = match converted {
            Converted::Write { record, encoded, time } => (record, encoded, time),
            Converted::Dropped => return Ok(()),
            Converted::Failed(failure) => return self.fail(at, failure, stats),
            Converted::NullRefused => {
                return Err(SinkError::Record {
                    topic: topic.to_string(),
                    partition,
                    offset,
                    stage: "TASK_PUT",
                    message: "null value (tombstone) and behavior.on.null.values is fail; \
                              set it to ignore to skip tombstones"
                        .into(),
                });
            }
        };
        match writer.append(self.files, &encoded, &record, time, now)? {
            Appended::Written => stats.written += 1,
            Appended::Skipped => stats.skipped += 1,
            Appended::Rejected(reason) => {
                let failure = Failure {
                    stage: "TASK_PUT",
                    class_name: "io.confluent.connect.s3.S3SinkTask",
                    exception: "org.apache.kafka.connect.errors.DataException",
                    message: reason,
                };
                return self.fail(at, failure, stats);
            }
        }
        self.keep_in_budget()
    }

    /// A bad record: the task fails (`errors.tolerance=none`), or it goes to
    /// the dead letter queue (if any) and the task goes on.
    fn fail<M: Message>(
        &mut self,
        at: Position<'_, M>,
        failure: Failure,
        stats: &mut StepStats,
    ) -> Result<()> {
        if self.errors.tolerance == ErrorTolerance::None {
            return Err(SinkError::Record {
                topic: at.topic.to_owned(),
                partition: at.partition,
                offset: at.offset,
                stage: failure.stage,
                message: failure.message,
            });
        }
        stats.failed += 1;
        self.metrics.error(telemetry::record_stage(failure.stage));
        if self.errors.log_enable {
            tracing::warn!(
                topic = at.topic,
                partition = at.partition,
                offset = at.offset,
                stage = failure.stage,
                error = %failure.message,
                "record skipped (errors.tolerance=all)"
            );
        }
        match (self.dlq, at.message) {
            (Some(dlq), Some(message)) => dlq.send(message, &failure),
            (Some(_), None) => Err(SinkError::Config(
                "a dead letter queue is configured but the record's message was not kept".into(),
            )),
            (None, _) => Ok(()),
        }
    }

    fn keep_in_budget(&mut self) -> Result<()> {
        let total: usize = self.writers.values().map(PartitionWriter::buffered).sum();
        let excess = self.memory.set(total as u64) as usize;
        if excess == 0 {
            return Ok(());
        }
        let target = total.saturating_sub(excess);
        let mut writers: Vec<&mut PartitionWriter> = self.writers.values_mut().collect();
        writers.sort_unstable_by_key(|w| std::cmp::Reverse(w.buffered()));
        let mut left = total;
        for writer in writers {
            if left <= target {
                break;
            }
            let before = writer.buffered();
            let keep = before.saturating_sub(left - target);
            let flushed = writer.flush_largest(keep)?;
            left = left - before + flushed.buffered;
            self.metrics.flushed_for_memory(flushed.files, flushed.set_aside_rows);
        }
        self.memory.flushed(left as u64);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_ends_when_the_first_scheduled_rotation_falls_due() {
        let step = Duration::from_millis(200);
        assert_eq!(until_due(std::iter::empty(), 1_000, step), step);
        assert_eq!(until_due([1_500].into_iter(), 1_000, step), step);
        assert_eq!(until_due([1_150, 1_080].into_iter(), 1_000, step), Duration::from_millis(81));
        assert_eq!(until_due([990].into_iter(), 1_000, step), Duration::ZERO, "overdue: no reading");
    }
}
