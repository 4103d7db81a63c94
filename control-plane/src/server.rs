//! The gRPC listener: the connector and worker services, health, reflection
//! and gRPC-web with CORS; and the leader election beside it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use http::header::HeaderName;
use hydrate_proto::v1::connector_service_server::ConnectorServiceServer;
use hydrate_proto::v1::worker_service_server::WorkerServiceServer;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::Config;
use crate::api::connectors::Connectors;
use crate::api::workers::Workers;
use crate::auth::Tokens;
use crate::kafka::{KafkaTopics, NoTopics, TopicSource};
use crate::keys::Keys;
use crate::offsets::OffsetStore;
use crate::store::Store;

/// The largest request message decoded. Above tonic's default of 4 MiB so
/// that requests a little over a field's own limit (a 1 MiB config, a 64 KiB
/// trace) reach the handler, which answers INVALID_ARGUMENT naming the field
/// rather than the transport's RESOURCE_EXHAUSTED.
const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;

/// Serves the control plane until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    // tonic's TLS listener builds its rustls config with the process default.
    hydrate_common::tls::install_crypto_provider();
    let tokens = Tokens::new(
        &config.admin_tokens,
        &config.viewer_tokens,
        &config.worker_tokens,
        config.insecure_no_auth,
    )
    .map_err(anyhow::Error::msg)?;
    // The metrics listener first, so a scrape sees the replica while it
    // waits for etcd (not ready yet).
    let _ = hydrate_common::metrics::control_plane();
    let _ = hydrate_common::metrics::grpc_server();
    let metrics =
        hydrate_common::telemetry::start_metrics("control-plane", config.reporting.metrics_listen, &shutdown)
            .await?;
    if config.insecure_no_auth {
        tracing::warn!("authentication is OFF (--insecure-no-auth): anyone reaching the listener is admin");
    }
    let store = connect_store(&config, &shutdown).await?;
    if let Some(metrics) = &metrics {
        metrics.readiness().set_ready(true);
    }
    let (topics, offsets): (Arc<dyn TopicSource>, _) = match &config.kafka_bootstrap_servers {
        Some(bootstrap) => {
            let settings = config.kafka.settings(Some(bootstrap))?;
            let clients = hydrate_kafka::KafkaClients::new(settings).await?;
            let topics = KafkaTopics::new(&clients).map_err(anyhow::Error::msg)?;
            (Arc::new(topics), Some(OffsetStore::new(clients)))
        }
        None => (Arc::new(NoTopics), None),
    };

    let replica_id =
        config.replica_id.clone().unwrap_or_else(|| format!("{}-{}", hostname(), std::process::id()));
    let election = tokio::spawn(crate::election::run(
        store.clone(),
        replica_id.clone(),
        config.lease_ttl_seconds,
        topics,
        shutdown.clone(),
    ));

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    let health = tokio::spawn(crate::health::follow_etcd(store.clone(), health_reporter, shutdown.clone()));

    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(hydrate_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let connectors = InterceptedService::new(
        ConnectorServiceServer::new(Connectors::new(store.clone(), offsets))
            .max_decoding_message_size(MAX_REQUEST_BYTES),
        tokens.interceptor(),
    );
    let workers = InterceptedService::new(
        WorkerServiceServer::new(Workers::new(store.clone(), config.lease_ttl_seconds))
            .max_decoding_message_size(MAX_REQUEST_BYTES),
        tokens.interceptor(),
    );

    let mut builder = tonic::transport::Server::builder();
    if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
        let cert = std::fs::read(cert).with_context(|| format!("reading --tls-cert {}", cert.display()))?;
        let key = std::fs::read(key).with_context(|| format!("reading --tls-key {}", key.display()))?;
        builder = builder.tls_config(
            tonic::transport::ServerTlsConfig::new()
                .identity(tonic::transport::Identity::from_pem(cert, key)),
        )?;
    }
    tracing::info!(listen = %config.listen, replica = %replica_id, tls = config.tls_cert.is_some(), "control plane listening");
    let served = builder
        .accept_http1(true)
        // CORS sits outside gRPC-web so preflight requests are answered first.
        .layer(cors_layer())
        .layer(tonic_web::GrpcWebLayer::new())
        // Innermost: sees plain gRPC (gRPC-web already translated), one
        // span and one count per call.
        .layer(hydrate_common::telemetry::GrpcServerLayer)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(connectors)
        .add_service(workers)
        .serve_with_shutdown(config.listen, shutdown.clone().cancelled_owned())
        .await;
    // Also when serving failed (the port is taken): nothing may outlive run.
    shutdown.cancel();
    let _ = election.await;
    let _ = health.await;
    if let Some(metrics) = metrics {
        metrics.stopped().await;
    }
    tracing::info!("control plane stopped");
    Ok(served?)
}

/// Connects to etcd, retrying until it answers or shutdown: a control plane
/// started before etcd waits for it rather than exiting.
async fn connect_store(config: &Config, shutdown: &CancellationToken) -> anyhow::Result<Store> {
    loop {
        match Store::connect(&config.etcd_endpoints, Keys::new(&config.etcd_prefix)).await {
            Ok(store) => return Ok(store),
            Err(err) => {
                tracing::warn!(endpoints = ?config.etcd_endpoints, error = %err, "etcd not reachable; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => anyhow::bail!("shut down before etcd was reachable"),
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "control-plane".to_owned())
}

/// CORS for browsers using gRPC-web: any origin, and the gRPC trailers exposed
/// so the dashboard can read errors.
fn cors_layer() -> CorsLayer {
    let expose = ["grpc-status", "grpc-message", "grpc-status-details-bin"].map(HeaderName::from_static);
    let allow =
        ["authorization", "content-type", "x-grpc-web", "x-user-agent", "grpc-timeout", "traceparent"]
            .map(HeaderName::from_static);
    CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods([http::Method::POST, http::Method::OPTIONS])
        .allow_headers(allow)
        .expose_headers(expose)
        .max_age(Duration::from_secs(24 * 3600))
}
