//! The telemetry listener: `/metrics` (Prometheus text format), `/healthz`
//! (the process answers) and `/readyz` (the service says it is ready).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

/// Whether the service is ready for work; `/readyz` answers 200 when it is,
/// 503 before. Cheap to clone; starts not ready.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Marks the service ready (or not any more).
    pub fn set_ready(&self, ready: bool) {
        self.0.store(ready, Ordering::Release);
    }

    /// Whether it is ready.
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// A running telemetry listener; it stops when the token given to
/// [`serve_metrics`] is cancelled.
#[derive(Debug)]
pub struct MetricsServer {
    local_addr: SocketAddr,
    readiness: Readiness,
    task: tokio::task::JoinHandle<()>,
}

impl MetricsServer {
    /// The address it listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The readiness `/readyz` reports.
    pub fn readiness(&self) -> Readiness {
        self.readiness.clone()
    }

    /// Waits until it has stopped (after shutdown).
    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}

/// A service's metrics listener, started before anything else so a scrape
/// sees the process while it starts (not ready until the service says so):
/// sets the build info of `service` and, when `addr` is given, serves there.
/// A taken address fails at once, naming the `--metrics-listen` flag.
pub async fn start_metrics(
    service: &str,
    addr: Option<SocketAddr>,
    shutdown: &CancellationToken,
) -> std::io::Result<Option<MetricsServer>> {
    crate::metrics::set_build_info(service);
    let Some(addr) = addr else { return Ok(None) };
    serve_metrics(addr, shutdown.clone())
        .await
        .map(Some)
        .map_err(|e| std::io::Error::new(e.kind(), format!("--metrics-listen {addr}: {e}")))
}

/// Binds `addr` (failing at once when it is taken) and serves `/metrics`,
/// `/healthz` and `/readyz` until `shutdown` is cancelled.
pub async fn serve_metrics(addr: SocketAddr, shutdown: CancellationToken) -> std::io::Result<MetricsServer> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local_addr = listener.local_addr()?;
    let readiness = Readiness::default();
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(readiness.clone());
    // Owned by the caller's shutdown token; named in the log line below.
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await;
        if let Err(err) = served {
            tracing::error!(error = %err, "metrics listener failed");
        }
    });
    tracing::info!(listen = %local_addr, "serving /metrics, /healthz, /readyz");
    Ok(MetricsServer { local_addr, readiness, task })
}

async fn metrics() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, crate::metrics::TEXT_CONTENT_TYPE)], crate::metrics::encode_text())
}

async fn ready(State(readiness): State<Readiness>) -> impl IntoResponse {
    if readiness.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}
