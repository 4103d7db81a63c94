//! Hydrate's source service: runs the JDBC source tasks the control plane
//! leases to it. Each task polls PostgreSQL the way Kafka Connect's JDBC
//! source does (bulk, incrementing, timestamp, timestamp+incrementing,
//! custom query), never skips a row whose transaction commits late, and
//! writes records and source offsets to Kafka in one transaction.

mod error;
mod kafka;
mod layout;
mod numeric;
pub mod offset;
mod pg;
mod pg_tls;
mod querier;
pub mod query;
mod supervisor;
mod task;
pub mod types;
mod writer;

use hydrate_common::worker::WorkerArgs;
use hydrate_proto::v1;
use tokio_util::sync::CancellationToken;

pub use error::{Result, SourceError};
/// The task producer's settings and transaction length, which the
/// benchmark's raw producer copies.
pub use kafka::PRODUCER_DEFAULTS;
pub use writer::MIN_TRANSACTION;

/// Command-line and environment configuration of the source service.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "hydrate-source", version, about)]
pub struct Config {
    /// Control plane, identity, Kafka and reporting, as every worker.
    #[command(flatten)]
    pub worker: WorkerArgs,
    /// Most tasks this worker takes; 0 for no limit.
    #[arg(long, env = "HYDRATE_WORKER_CAPACITY", default_value_t = 0)]
    pub capacity: u32,
}

/// Runs the service until `shutdown` fires.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let settings = hydrate_kafka::KafkaClients::new(config.worker.kafka_settings()?).await?;
    // The metrics listener first, so a scrape sees the worker while it
    // registers (not ready until it holds a lease).
    let _ = (hydrate_common::metrics::source(), hydrate_common::metrics::worker());
    let metrics =
        hydrate_common::telemetry::start_metrics("source", config.worker.reporting.metrics_listen, &shutdown)
            .await?;
    let address = metrics.as_ref().map(|m| m.local_addr().to_string()).unwrap_or_default();
    let options = config.worker.options(v1::ConnectorType::Source, config.capacity, address);
    tracing::info!(worker = %options.worker_id, endpoints = ?options.endpoints, kafka = %config.worker.kafka_bootstrap_servers, "source service starting");
    let kafka =
        supervisor::KafkaRuntime { bootstrap: config.worker.kafka_bootstrap_servers.clone(), settings };
    let readiness = metrics.as_ref().map(|m| m.readiness());
    supervisor::run_worker(options, kafka, readiness, shutdown).await;
    if let Some(metrics) = metrics {
        metrics.stopped().await;
    }
    Ok(())
}

pub use hydrate_common::shutdown::shutdown_signal;
