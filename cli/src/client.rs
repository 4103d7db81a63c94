//! The connection to the control plane: endpoint, TLS, deadline and the
//! bearer-token interceptor.

use std::error::Error as _;
use std::time::Duration;

use hydrate_proto::v1::connector_service_client::ConnectorServiceClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::args::GlobalArgs;
use crate::error::{CliError, Result};

/// The generated client, with every call authenticated.
pub type Client = ConnectorServiceClient<InterceptedService<Channel, BearerAuth>>;

/// Adds `authorization: Bearer <token>` to every call when a token is set,
/// and the caller's trace context (`traceparent`), so the control plane's
/// spans continue the command's trace.
#[derive(Clone)]
pub struct BearerAuth {
    header: Option<MetadataValue<Ascii>>,
}

impl BearerAuth {
    /// Checks the token once, so that each call cannot fail on it.
    pub fn new(token: Option<&str>) -> Result<Self> {
        let header = match token.map(str::trim) {
            None | Some("") => None,
            Some(token) => {
                let mut value = MetadataValue::try_from(format!("Bearer {token}")).map_err(|_| {
                    // The token itself is never echoed: it is a secret.
                    CliError::Usage("the token holds characters an HTTP header cannot carry".into())
                })?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        Ok(Self { header })
    }
}

impl std::fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerAuth").field("token", &self.header.as_ref().map(|_| "[hidden]")).finish()
    }
}

impl Interceptor for BearerAuth {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(header) = &self.header {
            request.metadata_mut().insert("authorization", header.clone());
        }
        hydrate_common::telemetry::TraceContextInterceptor::apply(&mut request);
        Ok(request)
    }
}

/// How to reach the control plane; connects on [`Connection::connect`], so
/// commands can check their local input first.
#[derive(Debug, Clone)]
pub struct Connection {
    endpoint: String,
    timeout: Duration,
    tls: Option<ClientTlsConfig>,
    auth: BearerAuth,
}

impl Connection {
    /// Checks the flags without any IO except reading the CA file.
    pub fn from_args(args: &GlobalArgs) -> Result<Self> {
        let endpoint = args.endpoint.trim_end_matches('/').to_owned();
        let https = endpoint.starts_with("https://");
        if !https && !endpoint.starts_with("http://") {
            return Err(CliError::Usage(format!(
                "--endpoint {endpoint}: expected http://HOST:PORT or https://HOST:PORT"
            )));
        }
        let tls = match (&args.ca_cert, https) {
            (Some(path), true) => {
                let pem =
                    std::fs::read(path).map_err(|source| CliError::Read { path: path.clone(), source })?;
                Some(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)))
            }
            (Some(_), false) => {
                return Err(CliError::Usage("--ca-cert needs an https:// endpoint".into()));
            }
            // System roots are not compiled in (tonic's tls-*-roots features).
            (None, true) => {
                return Err(CliError::Usage(
                    "an https:// endpoint needs --ca-cert PATH (the CA's PEM file)".into(),
                ));
            }
            (None, false) => None,
        };
        Ok(Self { endpoint, timeout: args.timeout, tls, auth: BearerAuth::new(args.token.as_deref())? })
    }

    /// The endpoint, for messages.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The per-call deadline.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Connects, failing with a message that names the endpoint.
    pub async fn connect(&self) -> Result<Client> {
        let mut endpoint = Endpoint::from_shared(self.endpoint.clone())
            .map_err(|e| CliError::Usage(format!("--endpoint {}: {e}", self.endpoint)))?
            .connect_timeout(self.timeout);
        if let Some(tls) = &self.tls {
            endpoint = endpoint.tls_config(tls.clone()).map_err(|e| self.connect_error(&e))?;
        }
        let channel = endpoint.connect().await.map_err(|e| self.connect_error(&e))?;
        Ok(ConnectorServiceClient::with_interceptor(channel, self.auth.clone()))
    }

    /// A request carrying the deadline as `grpc-timeout`, so the server can
    /// give up too.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.timeout);
        request
    }

    /// Awaits one unary call, enforcing the deadline here as well.
    pub async fn unary<T>(
        &self,
        call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => Err(self.status_error(status)),
            Err(_) => Err(self.timeout_error()),
        }
    }

    /// Turns a status into an error; a status that only wraps a refused
    /// connection (the server went away) gets the connection message.
    pub fn status_error(&self, status: tonic::Status) -> CliError {
        if status.code() == tonic::Code::Unavailable && is_refused(&status) {
            CliError::ConnectionRefused { endpoint: self.endpoint.clone() }
        } else {
            CliError::Rpc(status)
        }
    }

    /// The error for a call that took longer than `--timeout`.
    pub fn timeout_error(&self) -> CliError {
        CliError::Timeout { endpoint: self.endpoint.clone(), seconds: self.timeout.as_secs_f64() }
    }

    fn connect_error(&self, error: &tonic::transport::Error) -> CliError {
        if is_refused(error) {
            return CliError::ConnectionRefused { endpoint: self.endpoint.clone() };
        }
        // The top-level message is often just "transport error"; the causes say why.
        let mut reason = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            reason.push_str(": ");
            reason.push_str(&cause.to_string());
            source = cause.source();
        }
        CliError::Connect { endpoint: self.endpoint.clone(), reason }
    }
}

/// True when any cause in the chain is a refused TCP connection.
fn is_refused(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::OutputFormat;

    fn args(endpoint: &str) -> GlobalArgs {
        GlobalArgs {
            endpoint: endpoint.into(),
            token: None,
            timeout: Duration::from_secs(5),
            output: OutputFormat::Table,
            ca_cert: None,
        }
    }

    #[test]
    fn bearer_token_is_added_and_hidden_from_debug() {
        let mut auth = BearerAuth::new(Some("s3cret")).unwrap();
        assert!(!format!("{auth:?}").contains("s3cret"));
        let request = auth.call(tonic::Request::new(())).unwrap();
        assert_eq!(request.metadata().get("authorization").unwrap().to_str().unwrap(), "Bearer s3cret");
        let mut none = BearerAuth::new(None).unwrap();
        assert!(none.call(tonic::Request::new(())).unwrap().metadata().is_empty());
    }

    #[test]
    fn a_token_with_a_newline_is_refused_without_echoing_it() {
        let err = BearerAuth::new(Some("ab\ncd")).unwrap_err();
        assert!(!err.to_string().contains("ab"), "{err}");
    }

    #[test]
    fn endpoints_need_a_scheme_and_https_needs_a_ca() {
        assert!(Connection::from_args(&args("http://127.0.0.1:50051/")).is_ok());
        assert!(Connection::from_args(&args("127.0.0.1:50051")).is_err());
        let err = Connection::from_args(&args("https://cp:443")).unwrap_err();
        assert!(err.to_string().contains("--ca-cert"), "{err}");
        let mut with_ca = args("http://cp:80");
        with_ca.ca_cert = Some("ca.pem".into());
        assert!(Connection::from_args(&with_ca).is_err());
    }
}
