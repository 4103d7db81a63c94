//! Hydrate's sink service: runs the sink tasks the control plane leases to
//! it, consuming their Kafka partitions into objects in S3, exactly once
//! (see [`checkpoint`] for how).

pub mod checkpoint;
pub mod commit;
pub mod config;
pub mod consumer;
pub mod converter;
pub mod dlq;
pub mod error;
pub mod format;
pub mod memory;
pub mod naming;
pub mod partition;
pub mod pipeline;
pub mod s3;
pub mod schedule;
pub mod segment;
pub mod service;
pub mod sidecar;
pub mod spool;
pub mod task;
pub mod telemetry;
pub mod upload;

use std::sync::Arc;

use hydrate_common::worker::WorkerOptions;
use hydrate_proto::v1;
use tokio_util::sync::CancellationToken;

pub use config::Config;

/// Runs the sink service until `shutdown` fires.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let worker_id = config.worker.worker_id();
    let kafka = hydrate_kafka::KafkaClients::new(config.worker.kafka_settings()?).await?;
    let spool_root = config.spool_dir(&worker_id)?;
    // The metrics listener first, so a scrape sees the worker while it
    // registers (not ready until it holds a lease).
    let _ = (hydrate_common::metrics::sink(), hydrate_common::metrics::worker());
    let metrics =
        hydrate_common::telemetry::start_metrics("sink", config.worker.reporting.metrics_listen, &shutdown)
            .await?;
    tracing::info!(
        worker = %worker_id,
        control_plane = ?config.worker.control_plane,
        spool = %spool_root.display(),
        memory_limit = config.memory_limit,
        kafka = ?kafka,
        "sink service starting"
    );
    let address = metrics.as_ref().map(|m| m.local_addr().to_string()).unwrap_or_default();
    let options = WorkerOptions {
        worker_id,
        ..config.worker.options(v1::ConnectorType::Sink, config.capacity, address)
    };
    let shared = service::Shared {
        kafka,
        spool_root,
        budget: memory::MemoryBudget::new(config.memory_limit),
        upload_permits: Arc::new(tokio::sync::Semaphore::new(config.upload_concurrency.max(1))),
        open_writer: Arc::new(format::open_writer),
    };
    service::run(options, shared, metrics.as_ref().map(|m| m.readiness()), shutdown).await;
    if let Some(metrics) = metrics {
        metrics.stopped().await;
    }
    Ok(())
}

pub use hydrate_common::shutdown::shutdown_signal;

#[cfg(test)]
pub(crate) mod test_support {
    use std::collections::BTreeMap;

    use hydrate_common::connect::{ConnectorConfig, S3SinkConfig};

    /// A JSON sink of topic `t` into bucket `b` with flush.size 3, and `extra`
    /// keys over it, through the task's own config path.
    pub(crate) fn sink_config(extra: &[(&str, &str)]) -> S3SinkConfig {
        let mut config: BTreeMap<String, String> = [
            ("connector.class", "io.confluent.connect.s3.S3SinkConnector"),
            ("topics", "t"),
            ("s3.bucket.name", "b"),
            ("flush.size", "3"),
            ("format.class", "io.confluent.connect.s3.format.json.JsonFormat"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        config.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        match crate::task::sink_config(&config).unwrap().connector {
            ConnectorConfig::S3Sink(sink) => sink,
            other => panic!("not a sink: {other:?}"),
        }
    }
}
