//! The source service's metrics: rows read from PostgreSQL, records
//! produced to Kafka.

use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

use super::{Holders, LATENCY_BUCKETS, ROWS_BUCKETS, Stage, register, remove_task};

/// Every source metric family.
#[derive(Debug)]
pub struct SourceMetrics {
    received_records: IntCounterVec,
    received_bytes: IntCounterVec,
    sent_records: IntCounterVec,
    sent_bytes: IntCounterVec,
    poll_duration: HistogramVec,
    poll_rows: HistogramVec,
    produce_duration: HistogramVec,
    errors: IntCounterVec,
    holders: Holders,
}

const TASK: &[&str] = &["connector", "task"];
const TASK_TOPIC: &[&str] = &["connector", "task", "topic"];
const TASK_STAGE: &[&str] = &["connector", "task", "stage"];

impl SourceMetrics {
    pub(super) fn register(r: &Registry) -> Self {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            register(r, IntCounterVec::new(Opts::new(name, help), labels))
        };
        let histogram = |name: &str, help: &str, buckets: &[f64]| {
            register(r, HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets.to_vec()), TASK))
        };
        Self {
            received_records: counter(
                "hydrate_source_received_records_total",
                "Rows read from the database.",
                TASK,
            ),
            received_bytes: counter(
                "hydrate_source_received_bytes_total",
                "Bytes of the rows read from the database (as converted records).",
                TASK,
            ),
            sent_records: counter(
                "hydrate_source_sent_records_total",
                "Records produced to Kafka and committed.",
                TASK_TOPIC,
            ),
            sent_bytes: counter(
                "hydrate_source_sent_bytes_total",
                "Bytes (key + value + headers) of the records produced to Kafka.",
                TASK_TOPIC,
            ),
            poll_duration: histogram(
                "hydrate_source_poll_duration_seconds",
                "Time one poll of the database took.",
                LATENCY_BUCKETS,
            ),
            poll_rows: histogram("hydrate_source_poll_rows", "Rows one poll returned.", ROWS_BUCKETS),
            produce_duration: histogram(
                "hydrate_source_produce_duration_seconds",
                "Time from producing a batch to its acknowledgement (transaction commit).",
                LATENCY_BUCKETS,
            ),
            holders: Holders::default(),
            errors: counter("hydrate_source_errors_total", "Errors by pipeline stage.", TASK_STAGE),
        }
    }

    /// The handles of one task; cheap to clone, keep one per running task
    /// and call [`SourceTaskMetrics::remove`] once when it stops.
    pub fn task(&'static self, connector: &str, task: u32) -> SourceTaskMetrics {
        let task = task.to_string();
        self.holders.hold(connector, &task);
        let labels = [connector, task.as_str()];
        // Error series exist from the start at 0, so rates and alerts see
        // them before the first error.
        for stage in Stage::SOURCE {
            self.errors.with_label_values(&[connector, task.as_str(), stage.as_str()]);
        }
        SourceTaskMetrics {
            family: self,
            received_records: self.received_records.with_label_values(&labels),
            received_bytes: self.received_bytes.with_label_values(&labels),
            poll_duration: self.poll_duration.with_label_values(&labels),
            poll_rows: self.poll_rows.with_label_values(&labels),
            produce_duration: self.produce_duration.with_label_values(&labels),
            connector: connector.to_owned(),
            task,
        }
    }
}

/// One source task's metrics.
#[derive(Clone, Debug)]
pub struct SourceTaskMetrics {
    family: &'static SourceMetrics,
    connector: String,
    task: String,
    received_records: prometheus::IntCounter,
    received_bytes: prometheus::IntCounter,
    poll_duration: prometheus::Histogram,
    poll_rows: prometheus::Histogram,
    produce_duration: prometheus::Histogram,
}

impl SourceTaskMetrics {
    /// One poll returned `rows` rows of `bytes` bytes in `elapsed`.
    pub fn polled(&self, rows: u64, bytes: u64, elapsed: Duration) {
        self.received_records.inc_by(rows);
        self.received_bytes.inc_by(bytes);
        self.poll_rows.observe(rows as f64);
        self.poll_duration.observe(elapsed.as_secs_f64());
    }

    /// A batch of `records` records (`bytes` bytes) to `topic` was
    /// acknowledged `elapsed` after it was produced.
    pub fn produced(&self, topic: &str, records: u64, bytes: u64, elapsed: Duration) {
        let labels = [self.connector.as_str(), self.task.as_str(), topic];
        self.family.sent_records.with_label_values(&labels).inc_by(records);
        self.family.sent_bytes.with_label_values(&labels).inc_by(bytes);
        self.produce_duration.observe(elapsed.as_secs_f64());
    }

    /// An error at `stage`.
    pub fn error(&self, stage: Stage) {
        self.family
            .errors
            .with_label_values(&[self.connector.as_str(), self.task.as_str(), stage.as_str()])
            .inc();
    }

    /// Drops the task's series (when the task stops or moves away), so
    /// departed tasks do not linger in dashboards; once per
    /// [`SourceMetrics::task`], and only the last holder of the
    /// (connector, task) really removes them.
    pub fn remove(&self) {
        let f = self.family;
        let (c, t) = (self.connector.as_str(), self.task.as_str());
        if !f.holders.release(c, t) {
            return;
        }
        for vec in [&f.received_records, &f.received_bytes, &f.sent_records, &f.sent_bytes, &f.errors] {
            remove_task(vec, c, t);
        }
        for vec in [&f.poll_duration, &f.poll_rows, &f.produce_duration] {
            remove_task(vec, c, t);
        }
    }
}
