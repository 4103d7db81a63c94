//! Flags more than one service takes, each defined once and flattened into
//! the services' `Config` (the flag and environment names are the same in
//! every service).

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::kafka_props::{self, KafkaPropsError, KafkaSettings};
use crate::telemetry::LogFormat;

/// Kafka client settings beside the bootstrap servers (each service words
/// its own bootstrap flag: the workers need one, the control plane not).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct KafkaPropertyArgs {
    /// Kafka client properties as Kafka Connect worker properties
    /// (`security.protocol=SASL_SSL`, `sasl.jaas.config=...`); repeatable.
    #[arg(long = "kafka-property", value_name = "KEY=VALUE")]
    pub kafka_properties: Vec<String>,
    /// A Kafka Connect worker-properties file with the Kafka client settings.
    #[arg(long, env = "HYDRATE_KAFKA_PROPERTIES_FILE")]
    pub kafka_properties_file: Option<PathBuf>,
}

impl KafkaPropertyArgs {
    /// The Kafka settings: the properties file first, then each
    /// `--kafka-property`; `bootstrap` (the service's bootstrap flag) wins
    /// over the file's `bootstrap.servers`.
    pub fn settings(&self, bootstrap: Option<&str>) -> Result<KafkaSettings, KafkaPropsError> {
        let worker = kafka_props::load_worker_properties(
            self.kafka_properties_file.as_deref(),
            &self.kafka_properties,
        )?;
        KafkaSettings::from_worker_properties(&worker, bootstrap)
    }
}

/// How a service reports: its metrics listener and its log lines.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ReportingArgs {
    /// Serve /metrics, /healthz and /readyz on this address (off when unset).
    #[arg(long, env = "HYDRATE_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Log line format: text or json.
    #[arg(long, env = "HYDRATE_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// A service with only the shared flags, as the control plane has them.
    #[derive(Debug, Parser)]
    struct Service {
        #[command(flatten)]
        kafka: KafkaPropertyArgs,
        #[command(flatten)]
        reporting: ReportingArgs,
    }

    #[test]
    fn the_shared_flags_parse_into_their_groups_and_the_bootstrap_flag_wins_over_the_file() {
        let dir = std::env::temp_dir().join(format!("hydrate-args-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("worker.properties");
        std::fs::write(&file, "bootstrap.servers=file:9092\nsecurity.protocol=SSL\n").unwrap();
        let service = Service::try_parse_from([
            "service".to_owned(),
            format!("--kafka-properties-file={}", file.display()),
            "--kafka-property=consumer.fetch.min.bytes=1024".to_owned(),
            "--metrics-listen=127.0.0.1:9400".to_owned(),
            "--log-format=json".to_owned(),
        ])
        .unwrap();
        assert_eq!(service.reporting.metrics_listen, Some("127.0.0.1:9400".parse().unwrap()));
        assert_eq!(service.reporting.log_format, LogFormat::Json);

        let settings = service.kafka.settings(Some("flag:9092")).unwrap();
        assert_eq!(settings.admin.get("bootstrap.servers").map(String::as_str), Some("flag:9092"));
        assert_eq!(settings.producer.get("security.protocol").map(String::as_str), Some("SSL"));
        assert_eq!(settings.consumer.get("fetch.min.bytes").map(String::as_str), Some("1024"));
        assert!(!settings.producer.contains_key("fetch.min.bytes"), "consumer.* stays with consumers");
        // Without a bootstrap flag (the control plane's is optional) the file's servers stand.
        let settings = service.kafka.settings(None).unwrap();
        assert_eq!(settings.admin.get("bootstrap.servers").map(String::as_str), Some("file:9092"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
