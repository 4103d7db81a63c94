//! The control plane's telemetry listener against the real stack: /metrics
//! serves the contract's series and they move with the RPCs served.

use std::collections::HashMap;
use std::time::Duration;

use hydrate_proto::v1;
use hydrate_tests::control_plane::TestControlPlane;
use hydrate_tests::env::shared_file;
use hydrate_tests::observability::{http_get as get, scrape};
use hydrate_tests::{TestScope, wait_for};

fn value(samples: &HashMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn control_plane_metrics_follow_its_rpcs() {
    let scope = TestScope::new("telemetry_cp");
    let cp = TestControlPlane::builder(&scope, 5).metrics().start().await;
    let addr = cp.metrics_addr.expect("metrics enabled");

    assert_eq!(get(addr, "/healthz").await.expect("healthz").0, 200);
    wait_for("/readyz to answer 200 once etcd is reached", Duration::from_secs(20), || async move {
        Ok(get(addr, "/readyz").await.ok().filter(|(s, _)| *s == 200).map(|_| ()))
    })
    .await;

    let before = scrape(addr).await.expect("scrape");
    assert_eq!(
        value(&before, r#"hydrate_build_info{service="control-plane",version="0.1.0"}"#),
        1.0,
        "{before:?}"
    );
    assert!(before.contains_key("hydrate_control_plane_is_leader"), "the leader gauge is always exposed");

    // A successful and a refused call, each counted by method and code.
    let put_ok = r#"hydrate_grpc_server_handled_total{code="OK",method="hydrate.v1.ConnectorService/PutConnectorConfig"}"#;
    let list_unauth = r#"hydrate_grpc_server_handled_total{code="UNAUTHENTICATED",method="hydrate.v1.ConnectorService/ListConnectors"}"#;
    let name = "jdbc_source_connector_postgresql_00";
    let config = shared_file(&format!("seed/connectors/{name}.json"));
    cp.admin()
        .put_connector_config(v1::PutConnectorConfigRequest {
            name: name.into(),
            config: Some(v1::ConnectorConfig { source: Some(v1::connector_config::Source::Json(config)) }),
            ..Default::default()
        })
        .await
        .expect("put");
    let refused = cp.connectors(None).list_connectors(v1::ListConnectorsRequest::default()).await;
    assert_eq!(refused.expect_err("no token").code(), tonic::Code::Unauthenticated);

    // Worker leases: granted, renewed, and a renewal of a lease that is gone.
    let mut workers = cp.workers();
    let registered = workers
        .register_worker(v1::RegisterWorkerRequest {
            worker_id: format!("{}-w", scope.id()),
            r#type: v1::ConnectorType::Source as i32,
            ..Default::default()
        })
        .await
        .expect("register")
        .into_inner();
    workers
        .renew_lease(v1::RenewLeaseRequest {
            worker_id: registered.worker_id.clone(),
            lease_id: registered.lease_id,
        })
        .await
        .expect("renew");
    let gone = workers
        .renew_lease(v1::RenewLeaseRequest {
            worker_id: registered.worker_id.clone(),
            lease_id: registered.lease_id + 1,
        })
        .await;
    assert_eq!(gone.expect_err("wrong lease").code(), tonic::Code::NotFound);

    let after = scrape(addr).await.expect("scrape");
    let moved = |series: &str| value(&after, series) - value(&before, series);
    assert!(moved(put_ok) >= 1.0, "{put_ok} did not count the put");
    assert!(moved(list_unauth) >= 1.0, "{list_unauth} did not count the refusal");
    assert!(moved(r#"hydrate_control_plane_leases_granted_total{type="source"}"#) >= 1.0);
    assert!(moved(r#"hydrate_control_plane_lease_renewals_total{type="source"}"#) >= 1.0);
    assert!(moved("hydrate_control_plane_leases_expired_total") >= 1.0);
    assert!(
        after.keys().any(|k| k.starts_with("hydrate_grpc_server_handling_seconds_bucket{")),
        "call durations are exposed"
    );

    // The leader's census: connectors and tasks by state, zeros included.
    wait_for("the leader's census of connectors and tasks", Duration::from_secs(30), || async move {
        let samples = scrape(addr).await?;
        let leading = value(&samples, "hydrate_control_plane_is_leader") == 1.0;
        let census = samples
            .contains_key(r#"hydrate_control_plane_connectors{state="failed",type="source"}"#)
            && samples.contains_key(r#"hydrate_control_plane_tasks{state="running",type="sink"}"#)
            && samples.contains_key(r#"hydrate_control_plane_workers{type="source"}"#);
        Ok((leading && census).then_some(()))
    })
    .await;
}
