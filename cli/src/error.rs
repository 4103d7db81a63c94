//! Everything that makes `hydratectl` exit non-zero, with messages a user can
//! act on. `main` prints them as `error: <message>`.

use std::path::PathBuf;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The server answered with an error status.
    #[error("{}", rpc_message(.0))]
    Rpc(tonic::Status),
    /// The same, for one connector of several (apply of a directory).
    #[error("{context}: {}", rpc_message(.status))]
    RpcFor {
        /// The connector or file the call was about.
        context: String,
        /// The server's answer.
        status: tonic::Status,
    },
    /// Nothing listens at the endpoint.
    #[error(
        "cannot connect to {endpoint}: connection refused; is the control plane running? \
         Start the local stack with `scripts/up`, or pass --endpoint / set HYDRATE_ENDPOINT"
    )]
    ConnectionRefused {
        /// The endpoint that refused.
        endpoint: String,
    },
    /// Any other failure to reach the endpoint (DNS, TLS, timeout).
    #[error("cannot connect to {endpoint}: {reason}")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// The transport error with its causes.
        reason: String,
    },
    /// The call did not finish within `--timeout`.
    #[error("no answer from {endpoint} within {seconds:.1}s (raise --timeout?)")]
    Timeout {
        /// The endpoint.
        endpoint: String,
        /// The deadline.
        seconds: f64,
    },
    /// A flag value that cannot be used (endpoint, token, CA file).
    #[error("{0}")]
    Usage(String),
    /// A local file could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A local file is not what the command needs.
    #[error("{}: {message}", .path.display())]
    Input {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column when known.
        message: String,
    },
    /// Validation found problems; they have been printed.
    #[error("the configuration has {0} error(s)")]
    Invalid(u32),
    /// Several independent operations failed (apply of a directory).
    #[error("{} of {total} connectors failed:\n{}", .failures.len(), indent_all(.failures))]
    Partial {
        /// How many were attempted.
        total: usize,
        /// One error per failed connector.
        failures: Vec<CliError>,
    },
    /// Writing the output failed (e.g. a closed pipe).
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

/// A shorthand for results of this crate.
pub type Result<T, E = CliError> = std::result::Result<T, E>;

impl CliError {
    /// The process exit code: 1 for every failure (clap uses 2 for usage).
    pub fn exit_code(&self) -> u8 {
        1
    }
}

impl From<tonic::Status> for CliError {
    fn from(status: tonic::Status) -> Self {
        Self::Rpc(status)
    }
}

/// `connector foo not found (NotFound)`: the server's message, then the code.
fn rpc_message(status: &tonic::Status) -> String {
    let message = status.message().trim();
    if message.is_empty() {
        format!("{} ({:?})", status.code().description(), status.code())
    } else {
        format!("{message} ({:?})", status.code())
    }
}

fn indent_all(errors: &[CliError]) -> String {
    errors
        .iter()
        .map(|e| format!("  {}", e.to_string().replace('\n', "\n    ")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_messages_name_the_code() {
        let err = CliError::from(tonic::Status::not_found("connector foo not found"));
        assert_eq!(err.to_string(), "connector foo not found (NotFound)");
        let err = CliError::from(tonic::Status::unauthenticated(""));
        assert_eq!(
            err.to_string(),
            "The request does not have valid authentication credentials (Unauthenticated)"
        );
    }

    #[test]
    fn partial_failures_list_each_connector() {
        let err = CliError::Partial {
            total: 3,
            failures: vec![CliError::RpcFor {
                context: "b".into(),
                status: tonic::Status::invalid_argument("line 2, column 3: bad\nmore"),
            }],
        };
        assert_eq!(
            err.to_string(),
            "1 of 3 connectors failed:\n  b: line 2, column 3: bad\n    more (InvalidArgument)"
        );
    }
}
