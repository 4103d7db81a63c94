//! gRPC health that follows etcd: a replica that cannot reach etcd can
//! answer nothing useful, so it reports NOT_SERVING until etcd answers again.

use std::time::Duration;

use hydrate_proto::v1::connector_service_server::ConnectorServiceServer;
use hydrate_proto::v1::worker_service_server::WorkerServiceServer;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::api::connectors::Connectors;
use crate::api::workers::Workers;
use crate::store::Store;

/// How often etcd is probed.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// How long one probe may take before etcd counts as unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Sets every service NOT_SERVING now, then follows etcd's reachability until
/// `shutdown`.
pub async fn follow_etcd(store: Store, reporter: HealthReporter, shutdown: CancellationToken) {
    let mut serving = false;
    set(&reporter, ServingStatus::NotServing).await;
    loop {
        let probe = tokio::select! {
            _ = shutdown.cancelled() => return,
            probe = store.ping(PROBE_TIMEOUT) => probe,
        };
        match probe {
            Ok(()) if !serving => {
                tracing::info!("etcd reachable; serving");
                set(&reporter, ServingStatus::Serving).await;
                serving = true;
            }
            Err(err) if serving => {
                tracing::warn!(error = %err, "etcd unreachable; reporting not serving");
                set(&reporter, ServingStatus::NotServing).await;
                serving = false;
            }
            _ => {}
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PROBE_INTERVAL) => {}
        }
    }
}

async fn set(reporter: &HealthReporter, status: ServingStatus) {
    reporter.set_service_status("", status).await;
    match status {
        ServingStatus::Serving => {
            reporter.set_serving::<ConnectorServiceServer<Connectors>>().await;
            reporter.set_serving::<WorkerServiceServer<Workers>>().await;
        }
        _ => {
            reporter.set_not_serving::<ConnectorServiceServer<Connectors>>().await;
            reporter.set_not_serving::<WorkerServiceServer<Workers>>().await;
        }
    }
}
