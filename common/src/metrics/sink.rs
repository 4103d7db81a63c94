//! The sink service's metrics: records consumed from Kafka, objects written
//! to S3, and how fresh the lake is.

use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

use super::{FRESHNESS_BUCKETS, Holders, Stage, UPLOAD_BUCKETS, register, remove_task};

/// Every sink metric family.
#[derive(Debug)]
pub struct SinkMetrics {
    received_records: IntCounterVec,
    received_bytes: IntCounterVec,
    sent_records: IntCounterVec,
    sent_bytes: IntCounterVec,
    files_written: IntCounterVec,
    upload_duration: HistogramVec,
    open_files: IntGaugeVec,
    buffered_bytes: IntGaugeVec,
    memory_flushes: IntCounterVec,
    spilled_rows: IntCounterVec,
    consumer_lag: IntGaugeVec,
    freshness: HistogramVec,
    errors: IntCounterVec,
    holders: Holders,
}

const TASK: &[&str] = &["connector", "task"];
const TASK_TOPIC: &[&str] = &["connector", "task", "topic"];
const TASK_PARTITION: &[&str] = &["connector", "task", "topic", "partition"];
const TASK_STAGE: &[&str] = &["connector", "task", "stage"];

impl SinkMetrics {
    pub(super) fn register(r: &Registry) -> Self {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            register(r, IntCounterVec::new(Opts::new(name, help), labels))
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            register(r, IntGaugeVec::new(Opts::new(name, help), labels))
        };
        let histogram = |name: &str, help: &str, buckets: &[f64]| {
            register(r, HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets.to_vec()), TASK))
        };
        Self {
            received_records: counter(
                "hydrate_sink_received_records_total",
                "Records consumed from Kafka.",
                TASK_TOPIC,
            ),
            received_bytes: counter(
                "hydrate_sink_received_bytes_total",
                "Bytes (key + value) of the records consumed from Kafka.",
                TASK_TOPIC,
            ),
            sent_records: counter(
                "hydrate_sink_sent_records_total",
                "Records in objects uploaded to S3.",
                TASK,
            ),
            sent_bytes: counter("hydrate_sink_sent_bytes_total", "Bytes of objects uploaded to S3.", TASK),
            files_written: counter("hydrate_sink_files_written_total", "Objects uploaded to S3.", TASK),
            upload_duration: histogram(
                "hydrate_sink_upload_duration_seconds",
                "Time one object's upload took (start to complete multipart).",
                UPLOAD_BUCKETS,
            ),
            open_files: gauge("hydrate_sink_open_files", "Objects being written, not yet uploaded.", TASK),
            buffered_bytes: gauge(
                "hydrate_sink_buffered_bytes",
                "Bytes buffered in memory or spool for objects not yet uploaded.",
                TASK,
            ),
            memory_flushes: counter(
                "hydrate_sink_memory_flushes_total",
                "Open files flushed to keep the task within its memory budget (HYDRATE_SINK_MEMORY_BYTES).",
                TASK,
            ),
            spilled_rows: counter(
                "hydrate_sink_spilled_rows_total",
                "Parquet rows those flushes set aside on the local spool, to go into a full row group later.",
                TASK,
            ),
            consumer_lag: gauge(
                "hydrate_sink_consumer_lag_records",
                "Records in the partition after the task's position (high watermark - position).",
                TASK_PARTITION,
            ),
            freshness: histogram(
                "hydrate_sink_freshness_seconds",
                "End to end: from a row's commit (or last_update) to its object being visible in S3.",
                FRESHNESS_BUCKETS,
            ),
            holders: Holders::default(),
            errors: counter("hydrate_sink_errors_total", "Errors by pipeline stage.", TASK_STAGE),
        }
    }

    /// The handles of one task; cheap to clone, keep one per running task
    /// and call [`SinkTaskMetrics::remove`] once when it stops.
    pub fn task(&'static self, connector: &str, task: u32) -> SinkTaskMetrics {
        let task = task.to_string();
        self.holders.hold(connector, &task);
        let labels = [connector, task.as_str()];
        // Error series exist from the start at 0, so rates and alerts see
        // them before the first error.
        for stage in Stage::SINK {
            self.errors.with_label_values(&[connector, task.as_str(), stage.as_str()]);
        }
        SinkTaskMetrics {
            family: self,
            sent_records: self.sent_records.with_label_values(&labels),
            sent_bytes: self.sent_bytes.with_label_values(&labels),
            files_written: self.files_written.with_label_values(&labels),
            upload_duration: self.upload_duration.with_label_values(&labels),
            open_files: self.open_files.with_label_values(&labels),
            buffered_bytes: self.buffered_bytes.with_label_values(&labels),
            memory_flushes: self.memory_flushes.with_label_values(&labels),
            spilled_rows: self.spilled_rows.with_label_values(&labels),
            freshness: self.freshness.with_label_values(&labels),
            connector: connector.to_owned(),
            task,
        }
    }
}

/// One sink task's metrics.
#[derive(Clone, Debug)]
pub struct SinkTaskMetrics {
    family: &'static SinkMetrics,
    connector: String,
    task: String,
    sent_records: prometheus::IntCounter,
    sent_bytes: prometheus::IntCounter,
    files_written: prometheus::IntCounter,
    upload_duration: prometheus::Histogram,
    open_files: prometheus::IntGauge,
    buffered_bytes: prometheus::IntGauge,
    memory_flushes: prometheus::IntCounter,
    spilled_rows: prometheus::IntCounter,
    freshness: prometheus::Histogram,
}

impl SinkTaskMetrics {
    /// A batch of `records` records (`bytes` bytes) consumed from `topic`.
    pub fn received(&self, topic: &str, records: u64, bytes: u64) {
        let labels = [self.connector.as_str(), self.task.as_str(), topic];
        self.family.received_records.with_label_values(&labels).inc_by(records);
        self.family.received_bytes.with_label_values(&labels).inc_by(bytes);
    }

    /// One object of `records` records and `bytes` bytes became visible in
    /// S3, its upload having taken `elapsed`.
    pub fn uploaded(&self, records: u64, bytes: u64, elapsed: Duration) {
        self.files_written.inc();
        self.sent_records.inc_by(records);
        self.sent_bytes.inc_by(bytes);
        self.upload_duration.observe(elapsed.as_secs_f64());
    }

    /// The age of a record (from its row's commit or `last_update`) at the
    /// moment its object became visible. Call once per object with its
    /// oldest record, or per record; negative ages (clock skew) count as 0.
    pub fn freshness(&self, age: Duration) {
        self.freshness.observe(age.as_secs_f64());
    }

    /// [`Self::freshness`] from two Unix timestamps in milliseconds.
    pub fn freshness_between_millis(&self, committed_ms: i64, visible_ms: i64) {
        let age = u64::try_from(visible_ms.saturating_sub(committed_ms)).unwrap_or(0);
        self.freshness(Duration::from_millis(age));
    }

    /// Objects being written now.
    pub fn set_open_files(&self, n: usize) {
        self.open_files.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Bytes held for objects not yet uploaded.
    pub fn set_buffered_bytes(&self, n: u64) {
        self.buffered_bytes.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// `files` open files flushed for the memory budget, `spilled_rows` of
    /// their rows set aside on the spool.
    pub fn flushed_for_memory(&self, files: u64, spilled_rows: u64) {
        self.memory_flushes.inc_by(files);
        self.spilled_rows.inc_by(spilled_rows);
    }

    /// Records between the task's position and the high watermark of one
    /// of its partitions.
    pub fn set_consumer_lag(&self, topic: &str, partition: i32, lag: i64) {
        let partition = partition.to_string();
        let labels = [self.connector.as_str(), self.task.as_str(), topic, partition.as_str()];
        self.family.consumer_lag.with_label_values(&labels).set(lag.max(0));
    }

    /// An error at `stage`.
    pub fn error(&self, stage: Stage) {
        self.family
            .errors
            .with_label_values(&[self.connector.as_str(), self.task.as_str(), stage.as_str()])
            .inc();
    }

    /// Drops the task's series (when the task stops or moves away); once
    /// per [`SinkMetrics::task`], and only the last holder of the
    /// (connector, task) really removes them.
    pub fn remove(&self) {
        let f = self.family;
        let (c, t) = (self.connector.as_str(), self.task.as_str());
        if !f.holders.release(c, t) {
            return;
        }
        for vec in [
            &f.received_records,
            &f.received_bytes,
            &f.sent_records,
            &f.sent_bytes,
            &f.files_written,
            &f.memory_flushes,
            &f.spilled_rows,
            &f.errors,
        ] {
            remove_task(vec, c, t);
        }
        for vec in [&f.open_files, &f.buffered_bytes, &f.consumer_lag] {
            remove_task(vec, c, t);
        }
        for vec in [&f.upload_duration, &f.freshness] {
            remove_task(vec, c, t);
        }
    }
}
