//! The sink's one error type: what went wrong in a task, and whether
//! running the task again (from its checkpoint) can help.

/// Why a sink task stopped.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The connector or service configuration cannot work; fix it first.
    #[error("configuration: {0}")]
    Config(String),
    /// Kafka refused or failed a call.
    #[error("kafka: {0}")]
    Kafka(String),
    /// An S3 request failed after the client's own retries.
    #[error("s3 {op} {target}: {message}")]
    S3 {
        /// The operation (`put object`, `head bucket`, ...).
        op: &'static str,
        /// The bucket or key.
        target: String,
        /// What the store said.
        message: String,
        /// Whether a later attempt may succeed (5xx, throttling, timeouts).
        retryable: bool,
    },
    /// A record could not be written and `errors.tolerance` is none.
    #[error("record {topic}-{partition}@{offset} at {stage}: {message}")]
    Record {
        /// Its topic.
        topic: String,
        /// Its Kafka partition.
        partition: i32,
        /// Its offset.
        offset: i64,
        /// Where it failed (Kafka Connect's stage names).
        stage: &'static str,
        /// Why.
        message: String,
    },
    /// An object name is taken: an earlier attempt's upload landed after
    /// recovery looked for it. Recovery, run again, finds it.
    #[error("object exists: {0}")]
    Exists(String),
    /// The lake and the checkpoint disagree in a way that resuming would
    /// turn into lost records: the task stops instead of guessing.
    #[error("the lake and the checkpoint disagree: {0}")]
    Inconsistent(String),
    /// Another owner holds the task or wrote after us: stop writing at once.
    #[error("fenced: {0}")]
    Fenced(String),
    /// The local spool failed.
    #[error("spool: {0}")]
    Spool(#[from] std::io::Error),
    /// The task was told to stop.
    #[error("cancelled")]
    Cancelled,
}

impl SinkError {
    /// True when running the task again (from its checkpoint) may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Kafka(_) | Self::Spool(_) | Self::Exists(_) => true,
            Self::S3 { retryable, .. } => *retryable,
            Self::Config(_)
            | Self::Record { .. }
            | Self::Inconsistent(_)
            | Self::Fenced(_)
            | Self::Cancelled => false,
        }
    }
}

/// The sink's result type.
pub type Result<T, E = SinkError> = std::result::Result<T, E>;
