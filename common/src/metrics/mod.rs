//! Hydrate's metric contract: every metric any service exports is defined
//! here, once, and documented in `docs/metrics.md` (a test keeps the two
//! equal). Services hold cheap per-task handles and never build names or
//! label sets themselves, so label cardinality stays bounded: `connector`,
//! `task`, `stage`, `state`, `kind`, and `topic`/`partition` only where a
//! task's topics are few.
//!
//! ```no_run
//! use hydrate_common::metrics::{self, Stage};
//! let task = metrics::source().task("pg-orders", 0);
//! task.polled(500, 120_000, std::time::Duration::from_millis(40));
//! task.error(Stage::Produce);
//! task.remove(); // when the task stops: its series go away
//! ```

mod control_plane;
mod grpc;
mod sink;
mod source;
mod worker;

use std::sync::OnceLock;

use prometheus::{Encoder, Registry, TextEncoder};

pub use control_plane::{Census, ControlPlaneMetrics, STATES, TYPES};
pub use grpc::GrpcServerMetrics;
pub use sink::{SinkMetrics, SinkTaskMetrics};
pub use source::{SourceMetrics, SourceTaskMetrics};
pub use worker::WorkerMetrics;

/// Where in a pipeline an error happened: the `stage` label's only values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Reading rows from PostgreSQL.
    Poll,
    /// Turning rows or Kafka records into Hydrate records (converters).
    Convert,
    /// Single message transforms and predicates.
    Transform,
    /// Producing to Kafka (including the transaction).
    Produce,
    /// Consuming from Kafka.
    Consume,
    /// Encoding objects (Parquet, JSON).
    Encode,
    /// Uploading objects to S3.
    Upload,
    /// Committing offsets (source offsets or consumer offsets).
    Commit,
    /// Holding the task's lease (registration, renewal, fencing).
    Lease,
    /// Talking to etcd (control plane).
    Store,
    /// Scheduling and assigning tasks (control plane).
    Schedule,
}

impl Stage {
    /// The stages of a source task, whose error series start at 0.
    pub const SOURCE: &'static [Stage] =
        &[Stage::Poll, Stage::Convert, Stage::Transform, Stage::Produce, Stage::Commit, Stage::Lease];
    /// The stages of a sink task, whose error series start at 0.
    pub const SINK: &'static [Stage] = &[
        Stage::Consume,
        Stage::Convert,
        Stage::Transform,
        Stage::Encode,
        Stage::Upload,
        Stage::Commit,
        Stage::Lease,
    ];
    /// The control plane's stages.
    pub const CONTROL_PLANE: &'static [Stage] = &[Stage::Store, Stage::Schedule];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Poll => "poll",
            Stage::Convert => "convert",
            Stage::Transform => "transform",
            Stage::Produce => "produce",
            Stage::Consume => "consume",
            Stage::Encode => "encode",
            Stage::Upload => "upload",
            Stage::Commit => "commit",
            Stage::Lease => "lease",
            Stage::Store => "store",
            Stage::Schedule => "schedule",
        }
    }
}

/// The process-wide registry `/metrics` serves.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::new)
}

/// The source service's metrics.
pub fn source() -> &'static SourceMetrics {
    static METRICS: OnceLock<SourceMetrics> = OnceLock::new();
    METRICS.get_or_init(|| SourceMetrics::register(registry()))
}

/// The sink service's metrics.
pub fn sink() -> &'static SinkMetrics {
    static METRICS: OnceLock<SinkMetrics> = OnceLock::new();
    METRICS.get_or_init(|| SinkMetrics::register(registry()))
}

/// The data-plane worker's lease metrics (`common::worker`), for both kinds.
pub fn worker() -> &'static WorkerMetrics {
    static METRICS: OnceLock<WorkerMetrics> = OnceLock::new();
    METRICS.get_or_init(|| WorkerMetrics::register(registry()))
}

/// The control plane's metrics.
pub fn control_plane() -> &'static ControlPlaneMetrics {
    static METRICS: OnceLock<ControlPlaneMetrics> = OnceLock::new();
    METRICS.get_or_init(|| ControlPlaneMetrics::register(registry()))
}

/// Metrics of gRPC servers (the control plane's API).
pub fn grpc_server() -> &'static GrpcServerMetrics {
    static METRICS: OnceLock<GrpcServerMetrics> = OnceLock::new();
    METRICS.get_or_init(|| GrpcServerMetrics::register(registry()))
}

/// `hydrate_build_info{service,version} 1`: which binary and version a
/// target runs; also makes every service's `/metrics` non-empty at start.
pub fn set_build_info(service: &str) {
    static INFO: OnceLock<prometheus::IntGaugeVec> = OnceLock::new();
    let info = INFO.get_or_init(|| {
        register(
            registry(),
            prometheus::IntGaugeVec::new(
                prometheus::Opts::new(
                    "hydrate_build_info",
                    "Always 1: the service and version a target runs.",
                ),
                &["service", "version"],
            ),
        )
    });
    info.with_label_values(&[service, env!("CARGO_PKG_VERSION")]).set(1);
}

/// The registry in Prometheus' text exposition format (version 0.0.4).
pub fn encode_text() -> String {
    let mut buf = Vec::new();
    // Encoding into a Vec cannot fail on IO; a metric family the encoder
    // rejects would be a bug in this module, and is logged, not hidden.
    if let Err(err) = TextEncoder::new().encode(&registry().gather(), &mut buf) {
        tracing::error!(error = %err, "encoding metrics failed");
    }
    String::from_utf8(buf).unwrap_or_default()
}

/// The content type of [`encode_text`].
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Registers a collector, returning it. The names are constants of this
/// module, so a failure (a duplicate or invalid name) is a programming error
/// that every test run hits first: it panics at start, never later.
pub(crate) fn register<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    c: Result<C, prometheus::Error>,
) -> C {
    #[allow(clippy::expect_used)] // constant names: caught by the unit tests
    let c = c.expect("metric definition is valid");
    #[allow(clippy::expect_used)]
    registry.register(Box::new(c.clone())).expect("metric registered once");
    c
}

/// How many task handles hold the series of each (connector, task). A task
/// reconfigured or moved within a worker starts again before the old run
/// has finished: the old run's `remove` must not take the new one's series.
#[derive(Debug, Default)]
pub(crate) struct Holders(std::sync::Mutex<std::collections::HashMap<(String, String), usize>>);

impl Holders {
    /// One more holder.
    pub(crate) fn hold(&self, connector: &str, task: &str) {
        let mut holders = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *holders.entry((connector.to_owned(), task.to_owned())).or_default() += 1;
    }

    /// One holder less; true when it was the last.
    pub(crate) fn release(&self, connector: &str, task: &str) -> bool {
        let mut holders = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = (connector.to_owned(), task.to_owned());
        match holders.get_mut(&key) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            _ => {
                holders.remove(&key);
                true
            }
        }
    }
}

/// Removes every series of `vec` whose `connector` and `task` labels are
/// these, whatever its other labels (topic, partition, stage).
pub(crate) fn remove_task<T: prometheus::core::MetricVecBuilder>(
    vec: &prometheus::core::MetricVec<T>,
    connector: &str,
    task: &str,
) {
    use prometheus::core::Collector;
    for family in vec.collect() {
        for metric in family.get_metric() {
            let labels: std::collections::HashMap<&str, &str> =
                metric.get_label().iter().map(|l| (l.name(), l.value())).collect();
            if labels.get("connector") == Some(&connector) && labels.get("task") == Some(&task) {
                let _ = vec.remove(&labels);
            }
        }
    }
}

/// Histogram buckets (seconds) for short operations: a poll, a produce, an
/// RPC, from 1 ms to 30 s.
pub(crate) const LATENCY_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Histogram buckets (seconds) for uploads, which carry whole objects.
pub(crate) const UPLOAD_BUCKETS: &[f64] =
    &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// Histogram buckets (seconds) for end-to-end freshness, from a second to
/// two hours: rotation intervals are typically 10 s to 10 min.
pub(crate) const FRESHNESS_BUCKETS: &[f64] =
    &[1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0];

/// Histogram buckets for rows per poll.
pub(crate) const ROWS_BUCKETS: &[f64] =
    &[0.0, 1.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0, 10000.0, 50000.0, 100000.0];

#[cfg(test)]
mod tests;
