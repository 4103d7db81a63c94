//! The control plane's errors, and the one table that maps them to gRPC.

use tonic::{Code, Status};

/// An error at the control plane's service boundary.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request field is missing, empty, too long or malformed.
    #[error("{field}: {reason}")]
    InvalidArgument { field: String, reason: String },
    /// A connector configuration failed validation; the text lists every problem.
    #[error("invalid connector configuration:\n{0}")]
    InvalidConfig(String),
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The named thing exists and the caller asked to create it.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// A compare-and-swap lost: someone else changed the value first.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request is valid but the state does not allow it (e.g. a stale epoch).
    #[error("{0}")]
    FailedPrecondition(String),
    /// etcd (or another dependency) cannot be reached now.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// No or unknown credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// Known caller, not allowed.
    #[error("{0}")]
    PermissionDenied(String),
    /// A bug or corrupt state.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The control plane's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An `InvalidArgument` for `field`.
    pub fn invalid(field: &str, reason: impl Into<String>) -> Error {
        Error::InvalidArgument { field: field.to_owned(), reason: reason.into() }
    }

    /// The gRPC code, and whether retrying the same call may succeed.
    pub fn code(&self) -> (Code, bool) {
        match self {
            Error::InvalidArgument { .. } | Error::InvalidConfig(_) => (Code::InvalidArgument, false),
            Error::NotFound(_) => (Code::NotFound, false),
            Error::AlreadyExists(_) => (Code::AlreadyExists, false),
            Error::Conflict(_) => (Code::Aborted, true),
            Error::FailedPrecondition(_) => (Code::FailedPrecondition, false),
            Error::Unavailable(_) => (Code::Unavailable, true),
            Error::Unauthenticated(_) => (Code::Unauthenticated, false),
            Error::PermissionDenied(_) => (Code::PermissionDenied, false),
            Error::Internal(_) => (Code::Internal, false),
        }
    }

    /// Whether a retry of the same call may succeed.
    pub fn retryable(&self) -> bool {
        self.code().1
    }
}

/// The longest status message sent. Messages travel in an HTTP/2 header; one
/// that echoes a huge bad value would make clients drop the connection
/// (h2 refuses header blocks that large) instead of reading the error.
const MAX_MESSAGE_BYTES: usize = 8 * 1024;

impl From<Error> for Status {
    fn from(err: Error) -> Status {
        let mut message = err.to_string();
        if message.len() > MAX_MESSAGE_BYTES {
            let mut cut = MAX_MESSAGE_BYTES;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str("... (truncated)");
        }
        Status::new(err.code().0, message)
    }
}

impl From<etcd_client::Error> for Error {
    fn from(err: etcd_client::Error) -> Error {
        use etcd_client::Error as E;
        match err {
            E::GRpcStatus(status) if status.code() == Code::Unavailable => {
                Error::Unavailable(format!("etcd: {}", status.message()))
            }
            E::TransportError(e) => Error::Unavailable(format!("etcd: {e}")),
            E::IoError(e) => Error::Unavailable(format!("etcd: {e}")),
            other => Error::Unavailable(format!("etcd: {other}")),
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Error {
        Error::Internal(format!("corrupt stored value: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_to_grpc_codes() {
        let status: Status = Error::invalid("name", "must not be empty").into();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "name: must not be empty");
        assert_eq!(Status::from(Error::NotFound("connector x".into())).code(), Code::NotFound);
        assert!(Error::Unavailable("etcd".into()).retryable());
        assert!(!Error::FailedPrecondition("stale".into()).retryable());
    }

    #[test]
    fn long_messages_are_truncated_on_a_char_boundary() {
        let status: Status = Error::invalid("config", "é".repeat(10_000)).into();
        assert!(status.message().starts_with("config: é"));
        assert!(status.message().ends_with("... (truncated)"));
        assert!(status.message().len() <= MAX_MESSAGE_BYTES + 20);
    }
}
