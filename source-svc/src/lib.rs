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

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use hydrate_common::kafka_props::{self, KafkaSettings};
use hydrate_common::telemetry::LogFormat;
use hydrate_common::worker::WorkerOptions;
use hydrate_proto::v1;
use tokio_util::sync::CancellationToken;

pub use error::{Result, SourceError};

/// Command-line and environment configuration of the source service.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "hydrate-source", version, about)]
pub struct Config {
    /// Control-plane gRPC endpoints, comma-separated.
    #[arg(long = "control-plane", env = "HYDRATE_ENDPOINT", value_delimiter = ',', required = true)]
    pub control_plane: Vec<String>,
    /// The worker's bearer token.
    #[arg(long, env = "HYDRATE_WORKER_TOKEN", hide_env_values = true, default_value = "")]
    pub worker_token: String,
    /// A stable worker id (default: host name and process id).
    #[arg(long, env = "HYDRATE_WORKER_ID")]
    pub worker_id: Option<String>,
    /// Most tasks this worker takes; 0 for no limit.
    #[arg(long, env = "HYDRATE_WORKER_CAPACITY", default_value_t = 0)]
    pub capacity: u32,
    /// Kafka bootstrap servers.
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    pub kafka_bootstrap_servers: String,
    /// Kafka client properties as Kafka Connect worker properties
    /// (`security.protocol=SASL_SSL`, `sasl.jaas.config=...`); repeatable.
    #[arg(long = "kafka-property", value_name = "KEY=VALUE")]
    pub kafka_properties: Vec<String>,
    /// A Kafka Connect worker-properties file with the Kafka client settings.
    #[arg(long, env = "HYDRATE_KAFKA_PROPERTIES_FILE")]
    pub kafka_properties_file: Option<PathBuf>,
    /// Serve /metrics, /healthz and /readyz on this address (off when unset).
    #[arg(long, env = "HYDRATE_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Log line format: text or json.
    #[arg(long, env = "HYDRATE_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
}

impl Config {
    /// The Kafka settings: the file first, then `--kafka-property` pairs;
    /// `--kafka-bootstrap-servers` wins over the file's `bootstrap.servers`.
    pub fn kafka_settings(&self) -> Result<KafkaSettings, kafka_props::KafkaPropsError> {
        let worker = kafka_props::load_worker_properties(
            self.kafka_properties_file.as_deref(),
            &self.kafka_properties,
        )?;
        KafkaSettings::from_worker_properties(&worker, Some(&self.kafka_bootstrap_servers))
    }
}

fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "source".to_owned());
    let clean: String =
        host.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' }).collect();
    format!("{clean}-{}", std::process::id())
}

/// Runs the service until `shutdown` fires.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let settings = hydrate_kafka::KafkaClients::new(config.kafka_settings()?).await?;
    // The metrics listener first, so a scrape sees the worker while it
    // registers (not ready until it holds a lease).
    hydrate_common::metrics::set_build_info("source");
    let _ = (hydrate_common::metrics::source(), hydrate_common::metrics::worker());
    let metrics = match config.metrics_listen {
        Some(addr) => Some(
            hydrate_common::telemetry::serve_metrics(addr, shutdown.clone())
                .await
                .with_context(|| format!("--metrics-listen {addr}"))?,
        ),
        None => None,
    };
    let options = WorkerOptions {
        endpoints: config.control_plane.clone(),
        token: config.worker_token.clone(),
        worker_id: config.worker_id.clone().unwrap_or_else(default_worker_id),
        kind: v1::ConnectorType::Source,
        capacity: config.capacity,
        address: metrics.as_ref().map(|m| m.local_addr().to_string()).unwrap_or_default(),
    };
    tracing::info!(worker = %options.worker_id, endpoints = ?options.endpoints, kafka = %config.kafka_bootstrap_servers, "source service starting");
    let kafka = supervisor::KafkaRuntime { bootstrap: config.kafka_bootstrap_servers.clone(), settings };
    let readiness = metrics.as_ref().map(|m| m.readiness());
    supervisor::run_worker(options, kafka, readiness, shutdown).await;
    if let Some(metrics) = metrics {
        metrics.stopped().await;
    }
    Ok(())
}

pub use hydrate_common::shutdown::shutdown_signal;
