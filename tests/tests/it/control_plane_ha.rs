//! Two control-plane replicas and three workers, as processes: kill -9 a
//! worker, then the leader, and watch the survivors take over.

use std::time::{Duration, Instant};

use etcd_client::Client;
use hydrate_proto::v1;
use hydrate_proto::v1::connector_service_client::ConnectorServiceClient;
use hydrate_tests::control_plane::{ADMIN_TOKEN, Bearer, VIEWER_TOKEN, WORKER_TOKEN, free_port};
use hydrate_tests::env::shared_file;
use hydrate_tests::process::{Process, workspace_bin};
use hydrate_tests::{TestScope, wait_for};
use tonic::transport::Channel;

const TTL: u64 = 3;

fn replica(scope: &TestScope, index: usize, port: u16) -> Process {
    let env = scope.env();
    Process::start(
        &format!("{}-cp{index}", scope.id()),
        workspace_bin("hydrate-control-plane"),
        &[],
        &[
            ("HYDRATE_LISTEN", format!("127.0.0.1:{port}")),
            ("ETCD_ENDPOINTS", env.var("ETCD_ENDPOINTS").to_owned()),
            ("HYDRATE_ETCD_PREFIX", scope.etcd_prefix()),
            ("KAFKA_BOOTSTRAP_SERVERS", env.kafka_bootstrap().to_owned()),
            ("HYDRATE_ADMIN_TOKENS", ADMIN_TOKEN.to_owned()),
            ("HYDRATE_VIEWER_TOKENS", VIEWER_TOKEN.to_owned()),
            ("HYDRATE_WORKER_TOKENS", WORKER_TOKEN.to_owned()),
            ("HYDRATE_LEASE_TTL_SECONDS", TTL.to_string()),
            ("HYDRATE_REPLICA_ID", format!("replica-{index}")),
        ],
    )
}

fn worker(scope: &TestScope, id: &str, endpoints: &[String]) -> Process {
    let mut args = vec!["--kind".to_owned(), "source".to_owned(), "--id".to_owned(), id.to_owned()];
    args.extend(endpoints.iter().cloned());
    Process::start(
        &format!("{}-{id}", scope.id()),
        workspace_bin("test-worker"),
        &args,
        &[("HYDRATE_WORKER_TOKEN", WORKER_TOKEN.to_owned())],
    )
}

type Admin = ConnectorServiceClient<tonic::service::interceptor::InterceptedService<Channel, Bearer>>;

async fn status(admin: &mut Admin, name: &str) -> Result<v1::ConnectorStatus, String> {
    admin
        .get_connector_status(v1::GetConnectorStatusRequest { name: name.into() })
        .await
        .map_err(|e| e.to_string())?
        .into_inner()
        .status
        .ok_or_else(|| "no status".to_owned())
}

#[tokio::test]
async fn killing_a_worker_and_then_the_leader_loses_nothing() {
    let scope = TestScope::new("cp_ha");
    let ports = [free_port(), free_port()];
    let endpoints: Vec<String> = ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect();
    let mut replicas = vec![replica(&scope, 0, ports[0]), replica(&scope, 1, ports[1])];
    let admin_for = |endpoint: &str| -> Admin {
        let channel = Channel::from_shared(endpoint.to_owned()).expect("endpoint").connect_lazy();
        ConnectorServiceClient::with_interceptor(channel, Bearer::new(ADMIN_TOKEN))
    };
    for endpoint in &endpoints {
        wait_for("replica to serve", Duration::from_secs(30), || {
            let mut admin = admin_for(endpoint);
            async move { Ok(admin.list_connectors(v1::ListConnectorsRequest::default()).await.ok().map(|_| ())) }
        })
        .await;
    }
    let mut workers: Vec<Process> =
        ["w1", "w2", "w3"].iter().map(|id| worker(&scope, id, &endpoints)).collect();

    // Three tables, three tasks: one per worker once balanced.
    let config = shared_file("seed/connectors/jdbc_source_connector_postgresql_00.json")
        .replace("\"mode\"", "\"tasks.max\": 3, \"mode\"");
    let mut admin = admin_for(&endpoints[1]);
    admin
        .put_connector_config(v1::PutConnectorConfigRequest {
            name: "pg".into(),
            config: Some(v1::ConnectorConfig { source: Some(v1::connector_config::Source::Json(config)) }),
            ..Default::default()
        })
        .await
        .expect("put");
    let spread = wait_for("three running tasks on three workers", Duration::from_secs(30), || {
        let mut admin = admin.clone();
        async move {
            let s = status(&mut admin, "pg").await?;
            let mut workers: Vec<&str> = s.tasks.iter().map(|t| t.worker_id.as_str()).collect();
            workers.sort();
            workers.dedup();
            let running = s.tasks.iter().all(|t| t.state() == v1::State::Running);
            Ok((s.tasks.len() == 3 && workers.len() == 3 && running).then_some(s))
        }
    })
    .await;

    // kill -9 worker w2: its task moves within TTL + 5 s, with a higher epoch.
    let victim = spread.tasks.iter().find(|t| t.worker_id == "w2").expect("w2 has a task").clone();
    workers[1].kill_9();
    let killed = Instant::now();
    let moved = wait_for("w2's task to move", Duration::from_secs(TTL + 5), || {
        let mut admin = admin.clone();
        async move {
            let s = status(&mut admin, "pg").await?;
            Ok(s.tasks.into_iter().find(|t| {
                t.id == victim.id
                    && !t.worker_id.is_empty()
                    && t.worker_id != "w2"
                    && t.state() == v1::State::Running
            }))
        }
    })
    .await;
    assert!(moved.epoch > victim.epoch, "epoch {} after {}", moved.epoch, victim.epoch);
    assert!(killed.elapsed() <= Duration::from_secs(TTL + 5));

    // kill -9 the leader: the other replica schedules within TTL + 5 s.
    let mut etcd = Client::connect(scope.env().etcd_endpoints(), None).await.expect("etcd");
    let election = format!("{}leader", scope.etcd_prefix());
    let leader = etcd
        .leader(election.as_str())
        .await
        .expect("leader")
        .kv()
        .map(|kv| kv.value_str().unwrap_or("").to_owned());
    let leader_index = match leader.as_deref() {
        Some("replica-0") => 0,
        Some("replica-1") => 1,
        other => panic!("unexpected leader {other:?}"),
    };
    replicas[leader_index].kill_9();
    let survivor = &endpoints[1 - leader_index];
    let mut admin = admin_for(survivor);
    // A change only a leader acts on: a new worker and a crashed one.
    let before = status(&mut admin, "pg").await.expect("status");
    let on_w3 = before.tasks.iter().find(|t| t.worker_id == "w3").expect("w3 has a task").clone();
    workers[2].kill_9();
    let killed = Instant::now();
    wait_for("the surviving replica to reschedule w3's task", Duration::from_secs(2 * TTL + 5), || {
        let mut admin = admin.clone();
        async move {
            let s = status(&mut admin, "pg").await?;
            Ok(s.tasks.into_iter().find(|t| {
                t.id == on_w3.id
                    && t.worker_id == "w1"
                    && t.epoch > on_w3.epoch
                    && t.state() == v1::State::Running
            }))
        }
    })
    .await;
    // The leader's own lease (TTL) must lapse before the survivor wins, then
    // w3's lease (TTL): the bound is both plus the 5 s.
    assert!(killed.elapsed() <= Duration::from_secs(2 * TTL + 5));

    let list = admin.list_connectors(v1::ListConnectorsRequest::default()).await.expect("list").into_inner();
    assert_eq!(list.connectors.len(), 1, "no spec lost");
    drop(replicas);
    drop(workers);
    for process in ["cp0", "cp1", "w1", "w2", "w3"] {
        let log =
            hydrate_tests::env::repo_root().join(format!(".dev/logs/tests/{}-{process}.log", scope.id()));
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(!text.is_empty() || process.starts_with('w'), "{} is empty", log.display());
        assert!(!text.contains("hydrate-secret"), "a secret reached the log {}", log.display());
    }
}
