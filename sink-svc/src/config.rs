//! The sink service's own settings, by flag or environment (the connector
//! settings come with each task from the control plane).

use std::path::PathBuf;

use hydrate_common::worker::WorkerArgs;

/// Command-line and environment configuration of a sink worker.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "hydrate-sink", version, about = "Hydrate's sink service: Kafka into S3, exactly once")]
pub struct Config {
    /// Control plane, identity, Kafka and reporting, as every worker.
    #[command(flatten)]
    pub worker: WorkerArgs,
    /// Local scratch directory for objects being written and Parquet rows set
    /// aside under memory pressure (default: a temp dir).
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
}

impl Config {
    /// The spool directory, created if missing.
    pub fn spool_dir(&self, worker_id: &str) -> std::io::Result<PathBuf> {
        let dir = match &self.spool_dir {
            Some(dir) => dir.clone(),
            None => std::env::temp_dir().join(format!("hydrate-sink-{worker_id}")),
        };
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }
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
        let settings = config("consumer.fetch.min.bytes=1").worker.kafka_settings().unwrap();
        assert_eq!(settings.consumer["bootstrap.servers"], "k:9092");
        assert_eq!(settings.consumer["fetch.min.bytes"], "1");
        assert_eq!(settings.producer["security.protocol"], "SASL_SSL");
        let err = config("sasl.password:hunter2").worker.kafka_settings().unwrap_err().to_string();
        assert!(err.contains("sasl.password") && !err.contains("hunter2"), "{err}");
    }
}
