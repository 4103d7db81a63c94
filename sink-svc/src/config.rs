//! The sink service's own settings, by flag or environment (the connector
//! settings come with each task from the control plane).

use std::net::SocketAddr;
use std::path::PathBuf;

use hydrate_common::kafka_props::{self, KafkaPropsError, KafkaSettings};
use hydrate_common::telemetry::LogFormat;

/// Command-line and environment configuration of a sink worker.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "hydrate-sink", version, about = "Hydrate's sink service: Kafka into S3, exactly once")]
pub struct Config {
    /// Control-plane endpoints (`http://host:port`), comma-separated.
    #[arg(long = "control-plane", env = "HYDRATE_ENDPOINT", value_delimiter = ',', required = true)]
    pub control_plane: Vec<String>,
    /// The worker's bearer token.
    #[arg(long, env = "HYDRATE_WORKER_TOKEN", hide_env_values = true, default_value = "")]
    pub worker_token: String,
    /// A stable worker id (e.g. the pod name); default: host name and pid.
    #[arg(long, env = "HYDRATE_WORKER_ID")]
    pub worker_id: Option<String>,
    /// Kafka bootstrap servers.
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    pub kafka_bootstrap_servers: String,
    /// Extra Kafka client properties, Kafka Connect worker syntax (repeatable).
    #[arg(long = "kafka-property", value_name = "KEY=VALUE")]
    pub kafka_properties: Vec<String>,
    /// A Kafka Connect worker-properties file (security.protocol, sasl.*, ...).
    #[arg(long, env = "HYDRATE_KAFKA_PROPERTIES_FILE")]
    pub kafka_properties_file: Option<PathBuf>,
    /// Local scratch directory for objects being written (default: a temp dir).
    #[arg(long, env = "HYDRATE_SPOOL_DIR")]
    pub spool_dir: Option<PathBuf>,
    /// Memory the encoders may buffer in total, in bytes (suffixes KiB, MiB, GiB).
    /// The process needs about 110-150 MiB more (Kafka's prefetch, records
    /// in flight, uploads, the allocator's slack).
    #[arg(long, env = "HYDRATE_SINK_MEMORY_BYTES", default_value = "96MiB", value_parser = parse_bytes)]
    pub memory_limit: u64,
    /// Object uploads running at once, over all tasks.
    #[arg(long, env = "HYDRATE_SINK_UPLOAD_CONCURRENCY", default_value_t = 4)]
    pub upload_concurrency: usize,
    /// Most tasks this worker takes; 0 for no limit.
    #[arg(long, env = "HYDRATE_SINK_CAPACITY", default_value_t = 0)]
    pub capacity: u32,
    /// Serve /metrics, /healthz and /readyz on this address (off when unset).
    #[arg(long, env = "HYDRATE_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Log line format: text or json.
    #[arg(long, env = "HYDRATE_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
}

impl Config {
    /// The worker id to register with.
    pub fn worker_id(&self) -> String {
        match &self.worker_id {
            Some(id) if !id.is_empty() => id.clone(),
            _ => format!("{}-{}", host_name(), std::process::id()),
        }
    }

    /// The spool directory, created if missing.
    pub fn spool_dir(&self, worker_id: &str) -> std::io::Result<PathBuf> {
        let dir = match &self.spool_dir {
            Some(dir) => dir.clone(),
            None => std::env::temp_dir().join(format!("hydrate-sink-{worker_id}")),
        };
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// The Kafka settings: the file first, then each flag;
    /// `--kafka-bootstrap-servers` wins over the file's `bootstrap.servers`.
    pub fn kafka_settings(&self) -> Result<KafkaSettings, KafkaPropsError> {
        let worker = kafka_props::load_worker_properties(
            self.kafka_properties_file.as_deref(),
            &self.kafka_properties,
        )?;
        KafkaSettings::from_worker_properties(&worker, Some(&self.kafka_bootstrap_servers))
    }
}

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_owned()))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sink".to_owned())
}

/// `134217728`, `128MiB`, `64M`, `1GiB`, `512KiB`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| format!("`{text}` is not a byte size"))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("unknown byte unit `{other}` (use KiB, MiB or GiB)")),
    };
    n.checked_mul(factor).ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_take_binary_units() {
        assert_eq!(parse_bytes("128MiB"), Ok(128 << 20));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert_eq!(parse_bytes("1G"), Ok(1 << 30));
        assert!(parse_bytes("12 parsecs").is_err());
        assert!(parse_bytes("MiB").is_err());
    }

    #[test]
    fn kafka_flags_become_settings_and_a_bad_one_does_not_echo_its_value() {
        use clap::Parser;
        let config = |property: &str| {
            Config::try_parse_from([
                "hydrate-sink",
                "--control-plane=http://127.0.0.1:1",
                "--kafka-bootstrap-servers=k:9092",
                "--kafka-property=security.protocol=SASL_SSL",
                &format!("--kafka-property={property}"),
            ])
            .unwrap()
        };
        let settings = config("consumer.fetch.min.bytes=1").kafka_settings().unwrap();
        assert_eq!(settings.consumer["bootstrap.servers"], "k:9092");
        assert_eq!(settings.consumer["fetch.min.bytes"], "1");
        assert_eq!(settings.producer["security.protocol"], "SASL_SSL");
        let err = config("sasl.password:hunter2").kafka_settings().unwrap_err().to_string();
        assert!(err.contains("sasl.password") && !err.contains("hunter2"), "{err}");
    }
}
