//! The sink's traces and metrics around the pipeline: which source polls
//! an object's records came from (its upload span's parent and links), how
//! fresh they are when the object becomes visible, consumer lag, and errors
//! by stage.
//!
//! Freshness is observed once per source batch in each object: the records
//! of one source poll share a trace context, and the batch's oldest row time
//! (the `hydrate-row-time` header the source sets, else the Kafka record
//! timestamp) is measured against the moment the upload completed.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use hydrate_common::metrics::{SinkTaskMetrics, Stage};
use hydrate_common::record::Record;
use hydrate_common::telemetry::propagation::{self, ROW_TIME_HEADER, TRACEPARENT};
use hydrate_kafka::KafkaConsumer;
use rdkafka::consumer::Consumer;
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use tracing::Span;

use crate::error::{Result, SinkError};
use crate::segment::{ClosedFile, PartitionWriter};
use crate::upload::{ObjectMeta, Uploader};

/// Most links an upload span gets to source polls besides its parent.
pub const MAX_LINKS: usize = 32;

/// The source batches of the records of one object.
#[derive(Debug, Clone, Default)]
pub struct FileTrace {
    /// In order of first record; at most `MAX_LINKS + 1`, the last one
    /// gathering the batches beyond.
    batches: Vec<Batch>,
}

#[derive(Debug, Clone, PartialEq)]
struct Batch {
    /// The records' `traceparent`, if they had one.
    traceparent: Option<Vec<u8>>,
    /// The oldest row time among them (ms since the epoch).
    oldest_ms: Option<i64>,
}

impl FileTrace {
    /// Notes a record written into the object.
    pub fn add(&mut self, record: &Record) {
        let traceparent = record.last_header(TRACEPARENT).and_then(|h| h.value.as_deref());
        let row_ms = record
            .last_header(ROW_TIME_HEADER)
            .and_then(|h| std::str::from_utf8(h.value.as_deref()?).ok()?.parse::<i64>().ok())
            .or(record.timestamp);
        // A batch's records come one after another: the last one first.
        let found = match self.batches.last() {
            Some(last) if last.traceparent.as_deref() == traceparent => Some(self.batches.len() - 1),
            _ => self.batches.iter().position(|b| b.traceparent.as_deref() == traceparent),
        };
        let index = match found {
            Some(i) => i,
            None if self.batches.len() <= MAX_LINKS => {
                self.batches.push(Batch { traceparent: traceparent.map(<[u8]>::to_vec), oldest_ms: None });
                self.batches.len() - 1
            }
            None => self.batches.len() - 1,
        };
        let batch = &mut self.batches[index];
        batch.oldest_ms = match (batch.oldest_ms, row_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// The trace contexts of its batches, first record's first.
    fn contexts(&self) -> impl Iterator<Item = propagation::RemoteContext> + '_ {
        self.batches
            .iter()
            .filter_map(|b| b.traceparent.as_deref())
            .map(|tp| propagation::extract_kafka([(TRACEPARENT, Some(tp))]))
            .filter(propagation::RemoteContext::is_valid)
    }
}

/// The `sink.upload` span of an object: a child of the source poll of its
/// first record, linked to the polls of the others (at most [`MAX_LINKS`]).
pub fn upload_span(file: &ClosedFile) -> Span {
    let span = tracing::info_span!(
        parent: None,
        "sink.upload",
        key = %file.key,
        records = file.records,
        otel.status_code = tracing::field::Empty,
    );
    let mut contexts = file.trace.contexts();
    if let Some(first) = contexts.next() {
        first.set_parent_of(&span);
    }
    for other in contexts.take(MAX_LINKS) {
        other.link_from(&span);
    }
    span
}

impl Uploader {
    /// Has the uploads count into `metrics`.
    pub fn with_metrics(mut self, metrics: SinkTaskMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Uploads a closed file in its `sink.upload` span; once it is visible,
    /// observes the freshness of each source batch it holds.
    pub async fn upload_file(&self, file: &ClosedFile, meta: ObjectMeta, group: &str) -> Result<()> {
        use tracing::Instrument;
        let span = upload_span(file);
        let result = self.upload(&file.key, &file.path, meta, group).instrument(span.clone()).await;
        match &result {
            Ok(()) => {
                if let Some(metrics) = &self.metrics {
                    let visible_ms = chrono::Utc::now().timestamp_millis();
                    for oldest in file.trace.batches.iter().filter_map(|b| b.oldest_ms) {
                        metrics.freshness_between_millis(oldest, visible_ms);
                    }
                }
            }
            Err(_) => {
                span.record("otel.status_code", "ERROR");
            }
        }
        result
    }

    /// An object of `records` records and `bytes` bytes became visible,
    /// its upload having begun at `started`.
    pub(crate) fn observe_upload(&self, records: u64, bytes: u64, started: Instant) {
        if let Some(metrics) = &self.metrics {
            metrics.uploaded(records, bytes, started.elapsed());
        }
    }
}

/// The `sink.consume` span of a poll's batch, the child of the source poll
/// of its first record, and `sink.encode` inside it.
pub fn consume_spans<M: Message>(first: Option<&M>) -> (Span, Span) {
    let consume = tracing::info_span!(parent: None, "sink.consume", records = tracing::field::Empty);
    if let Some(headers) = first.and_then(Message::headers) {
        propagation::set_parent_from_kafka(&consume, headers.iter().map(|h| (h.key, h.value)));
    }
    let encode = tracing::info_span!(parent: &consume, "sink.encode");
    (consume, encode)
}

/// Records and bytes received in one step, by topic.
#[derive(Debug, Default)]
pub struct Received(BTreeMap<String, (u64, u64)>);

impl Received {
    /// Counts one message.
    pub fn add<M: Message>(&mut self, message: &M) {
        let bytes = message.key().map_or(0, <[u8]>::len) + message.payload().map_or(0, <[u8]>::len);
        if !self.0.contains_key(message.topic()) {
            self.0.insert(message.topic().to_owned(), (0, 0));
        }
        if let Some(entry) = self.0.get_mut(message.topic()) {
            entry.0 += 1;
            entry.1 += bytes as u64;
        }
    }

    /// Adds them to the task's counters.
    pub fn report(self, metrics: &SinkTaskMetrics) {
        for (topic, (records, bytes)) in self.0 {
            metrics.received(&topic, records, bytes);
        }
    }
}

/// How often a task asks the brokers for its partitions' end offsets.
const LAG_EVERY: Duration = Duration::from_secs(5);

/// A pipeline's metrics, and when it measures lag next.
pub struct PipelineTelemetry {
    /// The task's metrics.
    pub metrics: SinkTaskMetrics,
    next_lag: Instant,
}

impl PipelineTelemetry {
    /// Lag is measured from the first step on.
    pub fn new(metrics: SinkTaskMetrics) -> Self {
        PipelineTelemetry { metrics, next_lag: Instant::now() }
    }

    /// Sets the task's gauges: open files, buffered bytes and, every
    /// [`LAG_EVERY`], each partition's lag: its end offset (the last stable
    /// one, for read_committed; one request per broker) minus the
    /// consumer's position. Blocks for up to a second.
    pub fn set_gauges(
        &mut self,
        consumer: &KafkaConsumer,
        writers: &HashMap<(String, i32), PartitionWriter>,
    ) {
        let (open, buffered) =
            writers.values().fold((0, 0), |(o, b), w| (o + w.open_files(), b + w.pending_bytes()));
        self.metrics.set_open_files(open);
        self.metrics.set_buffered_bytes(buffered);
        if Instant::now() < self.next_lag || writers.is_empty() {
            return;
        }
        self.next_lag = Instant::now() + LAG_EVERY;
        let mut ask = TopicPartitionList::new();
        for (topic, partition) in writers.keys() {
            // Offset::End asks ListOffsets for the latest offset.
            if ask.add_partition_offset(topic, *partition, Offset::End).is_err() {
                return;
            }
        }
        let ends = match consumer.offsets_for_times(ask, Duration::from_secs(1)) {
            Ok(ends) => ends,
            Err(err) => {
                tracing::debug!(error = %err, "end offsets for the lag gauge");
                return;
            }
        };
        let positions = consumer.position().ok();
        let offset_of = |list: Option<&TopicPartitionList>, topic: &str, partition: i32| match list?
            .find_partition(topic, partition)?
            .offset()
        {
            Offset::Offset(at) => Some(at),
            _ => None,
        };
        for ((topic, partition), writer) in writers {
            let Some(end) = offset_of(Some(&ends), topic, *partition) else { continue };
            let position =
                offset_of(positions.as_ref(), topic, *partition).unwrap_or(-1).max(writer.next_offset);
            self.metrics.set_consumer_lag(topic, *partition, end - position);
        }
    }
}

/// The stage a task's failure counts against in `hydrate_sink_errors_total`;
/// none for a stop or a configuration the task cannot run with (its FAILED
/// state reports it).
pub fn error_stage(err: &SinkError) -> Option<Stage> {
    match err {
        SinkError::Kafka(_) => Some(Stage::Consume),
        SinkError::S3 { op, .. } if op.contains("checkpoint") => Some(Stage::Commit),
        SinkError::Inconsistent(_) => Some(Stage::Commit),
        SinkError::S3 { .. } | SinkError::Exists(_) => Some(Stage::Upload),
        SinkError::Spool(_) => Some(Stage::Encode),
        SinkError::Record { stage, .. } => Some(record_stage(stage)),
        SinkError::Fenced(_) => Some(Stage::Lease),
        SinkError::Config(_) | SinkError::Cancelled => None,
    }
}

/// The stage of a bad record, from Kafka Connect's stage name.
pub fn record_stage(connect_stage: &str) -> Stage {
    match connect_stage {
        "KEY_CONVERTER" | "VALUE_CONVERTER" | "HEADER_CONVERTER" => Stage::Convert,
        "TRANSFORMATION" => Stage::Transform,
        _ => Stage::Encode,
    }
}

#[cfg(test)]
mod tests {
    use hydrate_common::record::Header;

    use super::*;

    fn record(traceparent: Option<&str>, row_ms: Option<i64>, timestamp: i64) -> Record {
        let mut headers = Vec::new();
        if let Some(tp) = traceparent {
            headers.push(Header { key: TRACEPARENT.into(), value: Some(tp.as_bytes().to_vec()) });
        }
        if let Some(ms) = row_ms {
            headers.push(Header { key: ROW_TIME_HEADER.into(), value: Some(ms.to_string().into_bytes()) });
        }
        Record { headers, timestamp: Some(timestamp), ..Record::default() }
    }

    fn traceparent(n: usize) -> String {
        format!("00-{:032x}-{:016x}-01", n + 1, n + 1)
    }

    #[test]
    fn records_group_by_source_batch_with_their_oldest_row_time() {
        let mut trace = FileTrace::default();
        let (a, b) = (traceparent(1), traceparent(2));
        trace.add(&record(Some(&a), Some(5_000), 9_000));
        trace.add(&record(Some(&a), Some(4_000), 9_000));
        trace.add(&record(Some(&b), None, 7_000));
        trace.add(&record(Some(&a), Some(6_000), 9_000));
        trace.add(&record(None, None, 3_000));
        let oldest: Vec<Option<i64>> = trace.batches.iter().map(|b| b.oldest_ms).collect();
        assert_eq!(oldest, [Some(4_000), Some(7_000), Some(3_000)], "the Kafka timestamp when no row time");
        let ids: Vec<String> = trace.contexts().filter_map(|c| c.trace_id()).collect();
        assert_eq!(ids, [format!("{:032x}", 2), format!("{:032x}", 3)]);
    }

    #[test]
    fn batches_beyond_the_link_limit_merge_into_the_last() {
        let mut trace = FileTrace::default();
        for n in 0..100 {
            trace.add(&record(Some(&traceparent(n)), Some(1_000 + n as i64), 0));
        }
        trace.add(&record(Some(&traceparent(99)), Some(10), 0));
        assert_eq!(trace.batches.len(), MAX_LINKS + 1);
        assert_eq!(trace.batches.last().and_then(|b| b.oldest_ms), Some(10));
        assert_eq!(trace.contexts().count(), MAX_LINKS + 1);
    }

    #[test]
    fn failures_count_against_their_stage() {
        let s3 = |op| SinkError::S3 { op, target: "k".into(), message: "m".into(), retryable: true };
        assert_eq!(error_stage(&s3("put checkpoint")), Some(Stage::Commit));
        assert_eq!(error_stage(&s3("upload part")), Some(Stage::Upload));
        assert_eq!(error_stage(&SinkError::Kafka("x".into())), Some(Stage::Consume));
        assert_eq!(error_stage(&SinkError::Cancelled), None);
        assert_eq!(record_stage("VALUE_CONVERTER"), Stage::Convert);
        assert_eq!(record_stage("TRANSFORMATION"), Stage::Transform);
        assert_eq!(record_stage("TASK_PUT"), Stage::Encode);
    }
}
