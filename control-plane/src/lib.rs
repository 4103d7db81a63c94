//! Hydrate's control plane: stores connector specs in etcd, validates them,
//! splits connectors into tasks and leases them to workers over gRPC.

mod api;
mod auth;
mod census;
mod election;
mod error;
mod health;
mod json_struct;
mod kafka;
mod keys;
mod model;
mod offsets;
mod placement;
mod scheduler;
mod server;
mod status;
mod store;
mod tasks;

use std::net::SocketAddr;
use std::path::PathBuf;

use hydrate_common::args::{KafkaPropertyArgs, ReportingArgs};

pub use server::run;

/// Command-line and environment configuration of a control-plane replica.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "hydrate-control-plane", version, about)]
pub struct Config {
    /// Address the gRPC (and gRPC-web) listener binds to.
    #[arg(long, env = "HYDRATE_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// etcd endpoints, comma-separated.
    #[arg(long, env = "ETCD_ENDPOINTS", value_delimiter = ',', default_value = "http://127.0.0.1:2379")]
    pub etcd_endpoints: Vec<String>,
    /// The etcd prefix everything is stored under.
    #[arg(long, env = "HYDRATE_ETCD_PREFIX", default_value = "/hydrate/")]
    pub etcd_prefix: String,
    /// Bearer tokens with the admin role, comma-separated.
    #[arg(long, env = "HYDRATE_ADMIN_TOKENS", default_value = "", hide_env_values = true)]
    pub admin_tokens: String,
    /// Bearer tokens with the viewer (read-only) role, comma-separated.
    #[arg(long, env = "HYDRATE_VIEWER_TOKENS", default_value = "", hide_env_values = true)]
    pub viewer_tokens: String,
    /// Bearer tokens for data-plane workers, comma-separated.
    #[arg(long, env = "HYDRATE_WORKER_TOKENS", default_value = "", hide_env_values = true)]
    pub worker_tokens: String,
    /// Serve without authentication (local experiments only).
    #[arg(long, env = "HYDRATE_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
    /// PEM certificate chain: serve TLS when given (with --tls-key).
    #[arg(long, env = "HYDRATE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "HYDRATE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Time to live of worker leases and of the leader's lease, in seconds.
    #[arg(long, env = "HYDRATE_LEASE_TTL_SECONDS", default_value_t = 10)]
    pub lease_ttl_seconds: i64,
    /// This replica's name in the leader election (default: host and pid).
    #[arg(long, env = "HYDRATE_REPLICA_ID")]
    pub replica_id: Option<String>,
    /// Kafka bootstrap servers, to split sinks by topic-partition.
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    pub kafka_bootstrap_servers: Option<String>,
    /// Kafka client properties.
    #[command(flatten)]
    pub kafka: KafkaPropertyArgs,
    /// Metrics listener and log format.
    #[command(flatten)]
    pub reporting: ReportingArgs,
}

pub use hydrate_common::shutdown::shutdown_signal;
