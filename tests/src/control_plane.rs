//! A control plane for a test: the real server, in-process, on its own port
//! and etcd prefix, with clients that carry a bearer token.

use std::path::PathBuf;
use std::time::Duration;

use hydrate_common::args::ReportingArgs;
use hydrate_control_plane::Config;
use hydrate_proto::v1::connector_service_client::ConnectorServiceClient;
use hydrate_proto::v1::worker_service_client::WorkerServiceClient;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::{TestScope, wait_for};

/// Tokens the test control plane accepts.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
/// A read-only token.
pub const VIEWER_TOKEN: &str = "test-viewer-token-0123456789";
/// A data-plane worker token.
pub const WORKER_TOKEN: &str = "test-worker-token-0123456789";

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(Option<String>);

impl Bearer {
    /// Calls carrying `token`.
    pub fn new(token: &str) -> Bearer {
        Bearer(Some(token.to_owned()))
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(token) = &self.0 {
            let value = format!("Bearer {token}")
                .parse()
                .map_err(|_| tonic::Status::internal("token is not a header value"))?;
            request.metadata_mut().insert("authorization", value);
        }
        Ok(request)
    }
}

/// A connector-service client.
pub type Connectors = ConnectorServiceClient<InterceptedService<Channel, Bearer>>;
/// A worker-service client.
pub type Workers = WorkerServiceClient<InterceptedService<Channel, Bearer>>;

/// A running control plane, stopped when dropped.
pub struct TestControlPlane {
    /// `http://127.0.0.1:<port>` (`https://` when serving TLS).
    pub endpoint: String,
    /// The listener's port.
    pub port: u16,
    /// Where `/metrics` is served, when the builder asked for it.
    pub metrics_addr: Option<std::net::SocketAddr>,
    cancel: CancellationToken,
}

/// Settings of a [`TestControlPlane`] beyond the defaults of
/// [`TestControlPlane::start`].
pub struct TestControlPlaneBuilder<'a> {
    scope: &'a TestScope,
    ttl_seconds: i64,
    etcd_endpoints: Option<Vec<String>>,
    tls: Option<(PathBuf, PathBuf)>,
    metrics: bool,
}

impl TestControlPlaneBuilder<'_> {
    /// Uses these etcd endpoints instead of the stack's.
    pub fn etcd_endpoints(mut self, endpoints: Vec<String>) -> Self {
        self.etcd_endpoints = Some(endpoints);
        self
    }

    /// Serves TLS with this PEM certificate chain and key. The ready-made
    /// clients (`admin`, `workers`) speak plaintext: build a channel with a
    /// `ClientTlsConfig` to call a TLS control plane.
    pub fn tls(mut self, cert: PathBuf, key: PathBuf) -> Self {
        self.tls = Some((cert, key));
        self
    }

    /// Serves `/metrics`, `/healthz` and `/readyz` on a free port
    /// ([`TestControlPlane::metrics_addr`]). The registry is the process's:
    /// other control planes of the same test binary count into it too.
    pub fn metrics(mut self) -> Self {
        self.metrics = true;
        self
    }

    /// Starts the control plane and waits until its port accepts connections.
    pub async fn start(self) -> TestControlPlane {
        let port = free_port();
        let scope = self.scope;
        let env = scope.env();
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let (tls_cert, tls_key) = self.tls.unzip();
        let metrics_addr = self.metrics.then(|| std::net::SocketAddr::from(([127, 0, 0, 1], free_port())));
        let config = Config {
            listen: format!("127.0.0.1:{port}").parse().expect("address"),
            etcd_endpoints: self.etcd_endpoints.unwrap_or_else(|| env.etcd_endpoints()),
            etcd_prefix: scope.etcd_prefix(),
            admin_tokens: ADMIN_TOKEN.into(),
            viewer_tokens: VIEWER_TOKEN.into(),
            worker_tokens: WORKER_TOKEN.into(),
            insecure_no_auth: false,
            tls_cert,
            tls_key,
            lease_ttl_seconds: self.ttl_seconds,
            replica_id: Some(format!("{}-cp", scope.id())),
            kafka_bootstrap_servers: Some(env.kafka_bootstrap().to_owned()),
            kafka: Default::default(),
            reporting: ReportingArgs { metrics_listen: metrics_addr, ..Default::default() },
        };
        let cancel = CancellationToken::new();
        let server = tokio::spawn(hydrate_control_plane::run(config, cancel.clone()));
        let plane =
            TestControlPlane { endpoint: format!("{scheme}://127.0.0.1:{port}"), port, metrics_addr, cancel };
        // A TCP connect, not a gRPC one, so this works whatever the listener speaks.
        wait_for("control plane to listen", Duration::from_secs(20), || {
            let finished = server.is_finished();
            async move {
                if finished {
                    return Err("the control plane exited".to_owned());
                }
                Ok(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok().map(|_| ()))
            }
        })
        .await;
        plane
    }
}

impl TestControlPlane {
    /// Starts a control plane for `scope` with worker leases of `ttl_seconds`,
    /// on the stack's etcd, without TLS.
    pub async fn start(scope: &TestScope, ttl_seconds: i64) -> TestControlPlane {
        Self::builder(scope, ttl_seconds).start().await
    }

    /// A control plane for `scope` with worker leases of `ttl_seconds`, to
    /// configure further before [`TestControlPlaneBuilder::start`].
    pub fn builder(scope: &TestScope, ttl_seconds: i64) -> TestControlPlaneBuilder<'_> {
        TestControlPlaneBuilder { scope, ttl_seconds, etcd_endpoints: None, tls: None, metrics: false }
    }

    fn channel(&self) -> Channel {
        Channel::from_shared(self.endpoint.clone()).expect("endpoint").connect_lazy()
    }

    /// A connector client with `token` (None: no authorization header).
    pub fn connectors(&self, token: Option<&str>) -> Connectors {
        ConnectorServiceClient::with_interceptor(self.channel(), Bearer(token.map(str::to_owned)))
    }

    /// An admin connector client.
    pub fn admin(&self) -> Connectors {
        self.connectors(Some(ADMIN_TOKEN))
    }

    /// A worker client.
    pub fn workers(&self) -> Workers {
        WorkerServiceClient::with_interceptor(self.channel(), Bearer(Some(WORKER_TOKEN.to_owned())))
    }
}

impl Drop for TestControlPlane {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
