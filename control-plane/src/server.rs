//! The gRPC listener: health, reflection and gRPC-web with CORS.

use std::time::Duration;

use http::header::HeaderName;
use tokio_util::sync::CancellationToken;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::Config;

/// Serves the control plane until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;

    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(hydrate_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;

    tracing::info!(listen = %config.listen, "control plane listening");
    tonic::transport::Server::builder()
        .accept_http1(true)
        // CORS sits outside gRPC-web so preflight requests are answered first.
        .layer(cors_layer())
        .layer(tonic_web::GrpcWebLayer::new())
        .add_service(health_service)
        .add_service(reflection)
        .serve_with_shutdown(config.listen, shutdown.cancelled_owned())
        .await?;
    tracing::info!("control plane stopped");
    Ok(())
}

/// CORS for browsers using gRPC-web: any origin, and the gRPC trailers exposed
/// so the dashboard can read errors.
fn cors_layer() -> CorsLayer {
    let expose = ["grpc-status", "grpc-message", "grpc-status-details-bin"]
        .map(HeaderName::from_static);
    let allow = [
        "authorization",
        "content-type",
        "x-grpc-web",
        "x-user-agent",
        "grpc-timeout",
        "traceparent",
    ]
    .map(HeaderName::from_static);
    CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods([http::Method::POST, http::Method::OPTIONS])
        .allow_headers(allow)
        .expose_headers(expose)
        .max_age(Duration::from_secs(24 * 3600))
}
