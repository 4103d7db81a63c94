//! What can go wrong in a source task, and whether trying again can help.

use hydrate_common::connect::ConnectError;
use hydrate_common::metrics::Stage;
use hydrate_common::record::DataError;
use hydrate_common::record::transform::TransformError;

/// A source task's error. Messages name what is wrong and never hold a
/// secret (connection URLs and passwords are never formatted into them).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The connector configuration cannot be used.
    #[error("configuration: {0}")]
    Config(String),
    /// PostgreSQL could not be reached or the connection broke.
    #[error("postgresql connection: {0}")]
    Connection(String),
    /// A statement failed for a reason a retry does not fix (missing table,
    /// bad query, permission).
    #[error("{0}")]
    Query(String),
    /// A column PostgreSQL returns has no Connect mapping.
    #[error("{0}")]
    Unmappable(String),
    /// A row could not become a record, or a transform failed on it.
    #[error("record: {0}")]
    Data(String),
    /// Kafka refused or failed; `retryable` says whether a retry may help.
    #[error("kafka: {message}")]
    Kafka {
        /// What failed.
        message: String,
        /// A transient failure (broker down, timeout) rather than a refusal.
        retryable: bool,
    },
    /// Another owner took the task (its producer fenced ours) or the lease
    /// was lost: stop without writing.
    #[error("fenced: {0}")]
    Fenced(String),
    /// The task was told to stop.
    #[error("cancelled")]
    Cancelled,
}

/// The source service's result.
pub type Result<T, E = SourceError> = std::result::Result<T, E>;

impl SourceError {
    /// True when a later attempt may succeed without anyone changing
    /// anything (a connection that broke, a broker that was away).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connection(_) => true,
            Self::Kafka { retryable, .. } => *retryable,
            _ => false,
        }
    }

    /// The pipeline stage an error counts against in
    /// `hydrate_source_errors_total`; none for a stop, or a configuration
    /// the task cannot run with (the task's FAILED state reports it).
    pub fn stage(&self) -> Option<Stage> {
        match self {
            Self::Connection(_) | Self::Query(_) => Some(Stage::Poll),
            Self::Unmappable(_) | Self::Data(_) => Some(Stage::Convert),
            Self::Kafka { .. } => Some(Stage::Produce),
            Self::Fenced(_) => Some(Stage::Lease),
            Self::Config(_) | Self::Cancelled => None,
        }
    }

    /// A Kafka failure, classified.
    pub fn kafka(context: &str, err: rdkafka::error::KafkaError) -> Self {
        use rdkafka::error::{KafkaError, RDKafkaErrorCode};
        let fenced = matches!(
            err.rdkafka_error_code(),
            Some(
                RDKafkaErrorCode::Fenced
                    | RDKafkaErrorCode::ProducerFenced
                    | RDKafkaErrorCode::InvalidProducerEpoch
            )
        );
        if fenced {
            return Self::Fenced(format!("{context}: {err}"));
        }
        let retryable = match &err {
            KafkaError::Transaction(e) => e.is_retriable() || (!e.is_fatal() && !e.txn_requires_abort()),
            other => !matches!(
                other.rdkafka_error_code(),
                Some(
                    RDKafkaErrorCode::TopicAuthorizationFailed
                        | RDKafkaErrorCode::TransactionalIdAuthorizationFailed
                        | RDKafkaErrorCode::ClusterAuthorizationFailed
                        | RDKafkaErrorCode::InvalidConfig
                        | RDKafkaErrorCode::InvalidTopic
                        | RDKafkaErrorCode::MessageSizeTooLarge
                )
            ),
        };
        Self::Kafka { message: format!("{context}: {err}"), retryable }
    }

    /// A PostgreSQL failure, classified: a closed or broken connection is
    /// retryable, an error the server reports is not (it names the problem).
    pub fn postgres(context: &str, err: &tokio_postgres::Error) -> Self {
        if let Some(db) = err.as_db_error() {
            let code = db.code().code();
            // Class 08 (connection exception), 57P01..57P03 (admin shutdown,
            // crash shutdown, cannot connect now), 53300 (too many connections).
            let transient = code.starts_with("08") || code.starts_with("57P") || code == "53300";
            let message = format!("{context}: {} ({code})", db.message());
            return if transient { Self::Connection(message) } else { Self::Query(message) };
        }
        // tokio-postgres keeps the cause (e.g. "server does not support
        // TLS") in the source chain, not in its own message.
        let mut message = format!("{context}: {err}");
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            message.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        if err.is_closed() || err.code().is_none() {
            return Self::Connection(message);
        }
        Self::Query(message)
    }
}

impl From<ConnectError> for SourceError {
    fn from(err: ConnectError) -> Self {
        Self::Config(err.to_string())
    }
}

impl From<DataError> for SourceError {
    fn from(err: DataError) -> Self {
        Self::Data(err.to_string())
    }
}

impl From<TransformError> for SourceError {
    fn from(err: TransformError) -> Self {
        Self::Data(err.to_string())
    }
}
