//! The checked connector spec: everything a task needs, typed.

use std::time::Duration;

use super::def::PluginDef;
use super::jdbc_source::{self, JdbcSourceConfig};
use super::plugins::{common, jdbc_source as jdbc_keys};
use super::s3_sink::{self, DecimalFormat, S3SinkConfig};
use super::transforms::TransformSpec;
use super::values::{Problems, Values, millis};

/// A connector, validated and typed.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorSpec {
    /// The `name` key, when the config has one.
    pub name: Option<String>,
    /// The connector class (full name, even if an alias was given).
    pub class_name: &'static str,
    /// Source or sink.
    pub kind: ConnectorKind,
    /// `tasks.max`.
    pub tasks_max: u32,
    /// The connector's own settings.
    pub connector: ConnectorConfig,
    /// The transform chain, in order.
    pub transforms: Vec<TransformSpec>,
    /// How record keys are (de)serialized.
    pub key_converter: ConverterSettings,
    /// How record values are (de)serialized.
    pub value_converter: ConverterSettings,
    /// Error tolerance, retries, logging and dead letter queue.
    pub errors: ErrorHandling,
    /// Keys given that Hydrate accepts but ignores.
    pub ignored_keys: Vec<String>,
}

/// Source or sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorKind {
    /// Reads PostgreSQL, writes Kafka.
    Source,
    /// Reads Kafka, writes S3.
    Sink,
}

/// The connector's own settings.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectorConfig {
    /// `io.confluent.connect.jdbc.JdbcSourceConnector`.
    JdbcSource(JdbcSourceConfig),
    /// `io.confluent.connect.s3.S3SinkConnector`.
    S3Sink(S3SinkConfig),
}

/// A key or value converter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConverterSettings {
    /// `org.apache.kafka.connect.json.JsonConverter`.
    Json {
        /// `{"schema":..,"payload":..}` envelopes (true) or bare payloads.
        schemas_enable: bool,
        /// How decimals are written.
        decimal_format: DecimalFormat,
        /// Write a field's default instead of null.
        replace_null_with_default: bool,
    },
    /// `org.apache.kafka.connect.storage.StringConverter` (UTF-8).
    String,
}

/// `errors.tolerance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorTolerance {
    /// Any error fails the task.
    None,
    /// Bad records are skipped (and sent to the dead letter queue, if any).
    All,
}

/// `errors.retry.timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryTimeout {
    /// No retries (0).
    Disabled,
    /// Retry forever (-1).
    Forever,
    /// Retry for this long.
    For(Duration),
}

/// Error handling settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorHandling {
    /// What a bad record does.
    pub tolerance: ErrorTolerance,
    /// How long failed operations are retried.
    pub retry_timeout: RetryTimeout,
    /// Longest wait between retries.
    pub retry_delay_max: Duration,
    /// Log errors.
    pub log_enable: bool,
    /// Include record coordinates in error logs.
    pub log_include_messages: bool,
    /// Sinks only.
    pub dead_letter_queue: Option<DeadLetterQueue>,
}

/// Where a sink sends records it could not process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterQueue {
    /// The topic.
    pub topic: String,
    /// Replication factor when Hydrate creates it (-1: broker default).
    pub replication_factor: i16,
    /// Add error context headers.
    pub context_headers: bool,
}

/// Builds the spec; `None` when anything is missing or wrong (reported).
pub(crate) fn build(
    plugin: &'static PluginDef,
    v: &Values,
    converters: [&Values; 2],
    transforms: Option<Vec<TransformSpec>>,
    ignored_keys: Vec<String>,
    p: &mut Problems,
) -> Option<ConnectorSpec> {
    let (kind, connector) = if plugin.class_name == jdbc_keys::CLASS {
        (ConnectorKind::Source, jdbc_source::build(v, p).map(ConnectorConfig::JdbcSource))
    } else {
        (ConnectorKind::Sink, s3_sink::build(v, p).map(ConnectorConfig::S3Sink))
    };
    let errors = error_handling(kind, v);
    Some(ConnectorSpec {
        name: v.string("name"),
        class_name: plugin.class_name,
        kind,
        tasks_max: v.number("tasks.max").and_then(|n| u32::try_from(n).ok())?,
        connector: connector?,
        transforms: transforms?,
        key_converter: converter(v, "key.converter", converters[0])?,
        value_converter: converter(v, "value.converter", converters[1])?,
        errors: errors?,
        ignored_keys,
    })
}

fn converter(v: &Values, key: &str, sub: &Values) -> Option<ConverterSettings> {
    match v.string(key).as_deref() {
        Some(common::STRING_CONVERTER) => Some(ConverterSettings::String),
        // JSON with schemas is the worker default the seed demo ran with.
        None if v.opaque(key) => None,
        _ => Some(ConverterSettings::Json {
            schemas_enable: sub.flag("schemas.enable")?,
            decimal_format: if sub.string("decimal.format")?.eq_ignore_ascii_case("NUMERIC") {
                DecimalFormat::Numeric
            } else {
                DecimalFormat::Base64
            },
            replace_null_with_default: sub.flag("replace.null.with.default")?,
        }),
    }
}

fn error_handling(kind: ConnectorKind, v: &Values) -> Option<ErrorHandling> {
    let tolerance = if v.string("errors.tolerance")?.eq_ignore_ascii_case("all") {
        ErrorTolerance::All
    } else {
        ErrorTolerance::None
    };
    let dead_letter_queue = match kind {
        ConnectorKind::Sink => match v.non_empty("errors.deadletterqueue.topic.name") {
            Some(topic) => Some(DeadLetterQueue {
                topic,
                replication_factor: i16::try_from(
                    v.number("errors.deadletterqueue.topic.replication.factor")?,
                )
                .ok()?,
                context_headers: v.flag("errors.deadletterqueue.context.headers.enable")?,
            }),
            None => None,
        },
        ConnectorKind::Source => None,
    };
    Some(ErrorHandling {
        tolerance,
        retry_timeout: match v.number("errors.retry.timeout")? {
            0 => RetryTimeout::Disabled,
            -1 => RetryTimeout::Forever,
            ms => RetryTimeout::For(millis(ms)),
        },
        retry_delay_max: millis(v.number("errors.retry.delay.max.ms")?),
        log_enable: v.flag("errors.log.enable")?,
        log_include_messages: v.flag("errors.log.include.messages")?,
        dead_letter_queue,
    })
}
