//! Kafka Connect connector configurations: parsing what users paste,
//! validating it key by key, and building typed specs, without IO (except
//! [`secrets::resolve_references`], which a worker calls where its task runs).
//!
//! The flow: [`parse_connector_json`] (or key/value pairs from the API) ->
//! [`validate`] on the control plane (references such as `${env:X}` stay
//! unresolved there) -> on the worker, [`secrets::resolve_references`] then
//! [`build_spec`] for the typed [`ConnectorSpec`].

mod chain;
mod def;
mod jdbc_source;
mod json;
mod pg_url;
pub mod plugins;
mod s3_sink;
pub mod secrets;
mod spec;
mod suggest;
mod transforms;
mod validate;
mod values;

use std::collections::BTreeMap;

pub use def::{Check, ConfigKeyDef, ConfigType, DefaultValue, Importance, PluginDef, PluginKind, Value};
pub use jdbc_source::{
    IsolationLevel, JdbcSourceConfig, LoadMode, NumericMapping, PgConnection, RowSource,
    TimestampGranularity, TimestampInitial,
};
pub use json::{ConnectorInput, JsonError, parse_connector_json};
pub use pg_url::{PgHost, PgUrl, SslMode, parse_pg_url};
pub use plugins::plugins;
pub use s3_sink::{
    DecimalFormat, Encryption, Format, GzipLevel, NullValueBehavior, ParquetCodec, Partitioner, S3SinkConfig,
    SchemaCompatibility, StaticCredentials, TimestampSource, TopicSelection,
};
pub use secrets::{Secret, redact};
pub use spec::{
    ConnectorConfig, ConnectorKind, ConnectorSpec, ConverterSettings, DeadLetterQueue, ErrorHandling,
    ErrorTolerance, RetryTimeout,
};
pub use transforms::{
    CastSpec, CastType, FieldSpec, Predicate, PredicateSpec, Side, TimestampTarget, Transform, TransformSpec,
    UnixPrecision,
};
pub use validate::{ConfigValueReport, Validation, validate};

/// Why a configuration could not be used. None of these is helped by a
/// retry except a file reference that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The JSON is malformed or is not a connector configuration.
    #[error(transparent)]
    Json(#[from] JsonError),
    /// The configuration has problems; the validation lists them all.
    #[error("invalid connector configuration ({count} problems):\n{0}", count = .0.error_count())]
    Invalid(Box<Validation>),
    /// [`build_spec`] needs resolved values; these keys hold references.
    #[error("resolve config references first; unresolved in: {}", .0.join(", "))]
    UnresolvedReferences(Vec<String>),
    /// A reference could not be resolved.
    #[error(transparent)]
    Resolve(#[from] secrets::ResolveError),
}

impl ConnectError {
    /// True when trying again later may succeed (a file not readable yet).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Resolve(secrets::ResolveError::File { .. }))
    }
}

/// Validates the configuration and builds its typed spec. References must
/// have been resolved ([`secrets::resolve_references`]): typed settings
/// hold real values.
pub fn build_spec(config: &BTreeMap<String, String>) -> Result<ConnectorSpec, ConnectError> {
    let unresolved: Vec<String> = config
        .iter()
        .filter(|(_, v)| !secrets::find_references(v).is_empty())
        .map(|(k, _)| k.clone())
        .collect();
    if !unresolved.is_empty() {
        return Err(ConnectError::UnresolvedReferences(unresolved));
    }
    match validate::analyze(config) {
        (_, Some(spec)) => Ok(spec),
        (validation, None) => Err(ConnectError::Invalid(Box::new(validation))),
    }
}

/// Checks a connector name: 1 to 249 letters, digits, `.`, `_` or `-`
/// (names become parts of topic names, etcd keys and object paths).
pub fn validate_connector_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 249 {
        return Err("a connector name must be 1 to 249 characters long".into());
    }
    match name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        Some(c) => Err(format!("a connector name allows only letters, digits, '.', '_' and '-', not {c:?}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
