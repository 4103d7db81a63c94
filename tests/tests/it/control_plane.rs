//! The control plane against the real etcd (and Kafka for topic metadata):
//! connector specs, validation, secrets, auth, leases and scheduling.

use std::collections::HashMap;
use std::time::Duration;

use hydrate_proto::v1;
use hydrate_tests::control_plane::{TestControlPlane, VIEWER_TOKEN, Workers};
use hydrate_tests::env::shared_file;
use hydrate_tests::{TestScope, wait_for};
use tonic::Code;

const SEEDS: [&str; 6] = [
    "jdbc_source_connector_postgresql_00",
    "jdbc_source_connector_postgresql_01",
    "jdbc_source_connector_postgresql_02",
    "s3_sink_connector_00",
    "s3_sink_connector_01",
    "s3_sink_connector_02",
];

fn json(text: impl Into<String>) -> Option<v1::ConnectorConfig> {
    Some(v1::ConnectorConfig { source: Some(v1::connector_config::Source::Json(text.into())) })
}

fn put(name: &str, text: impl Into<String>) -> v1::PutConnectorConfigRequest {
    v1::PutConnectorConfigRequest { name: name.into(), config: json(text), ..Default::default() }
}

fn seed(name: &str) -> String {
    shared_file(&format!("seed/connectors/{name}.json"))
}

#[tokio::test]
async fn seed_configs_are_stored_listed_and_never_show_secrets() {
    let scope = TestScope::new("cp_seeds");
    let cp = TestControlPlane::start(&scope, 5).await;
    let mut admin = cp.admin();
    let mut seen = String::new();
    for name in SEEDS {
        let response =
            admin.put_connector_config(put(name, seed(name))).await.expect("put seed").into_inner();
        assert!(response.created && response.changed, "{name} created");
        seen.push_str(&format!("{response:?}"));
        let again = admin.put_connector_config(put(name, seed(name))).await.expect("put again").into_inner();
        assert!(!again.created && !again.changed, "putting the same config again is a no-op");
    }
    let sink = admin
        .put_connector_config(put("s3_sink_connector_00", seed("s3_sink_connector_00")))
        .await
        .expect("put")
        .into_inner();
    assert!(sink.ignored_keys.contains(&"storage.class".to_owned()), "{:?}", sink.ignored_keys);

    let source = admin
        .get_connector(v1::GetConnectorRequest { name: SEEDS[0].into() })
        .await
        .expect("get")
        .into_inner()
        .connector
        .expect("connector");
    assert_eq!(source.config["connection.password"], "[hidden]");
    assert_eq!(source.config["table.whitelist"], "address, city, country");
    assert_eq!(source.r#type(), v1::ConnectorType::Source);

    let list = admin
        .list_connectors(v1::ListConnectorsRequest { include_status: true, include_info: true })
        .await
        .expect("list")
        .into_inner();
    let names: Vec<&str> = list.connectors.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, SEEDS, "sorted by name");
    seen.push_str(&format!("{list:?}"));
    let plugins = admin
        .list_connector_plugins(v1::ListConnectorPluginsRequest { include_transforms: true })
        .await
        .expect("plugins")
        .into_inner();
    assert!(
        plugins
            .plugins
            .iter()
            .any(|p| p.class_name == "org.apache.kafka.connect.transforms.InsertField$Value")
    );
    assert!(!seen.contains("hydrate-secret"), "a secret leaked into a response");

    // A config-provider reference is stored and shown as written: it is
    // resolved only on the worker that runs the task.
    let with_reference = seed(SEEDS[0]).replace("\"hydrate-secret\"", "\"${env:PG_PASSWORD}\"");
    admin.put_connector_config(put("with_reference", with_reference)).await.expect("put with a reference");
    let shown = admin
        .get_connector(v1::GetConnectorRequest { name: "with_reference".into() })
        .await
        .expect("get")
        .into_inner()
        .connector
        .expect("connector");
    assert_eq!(shown.config["connection.password"], "${env:PG_PASSWORD}");
    admin
        .delete_connector(v1::DeleteConnectorRequest { name: "with_reference".into() })
        .await
        .expect("delete");

    // A new replica over the same etcd prefix sees everything: state is in etcd.
    drop(cp);
    let restarted = TestControlPlane::start(&scope, 5).await;
    let list = restarted.admin().list_connectors(v1::ListConnectorsRequest::default()).await.expect("list");
    assert_eq!(list.into_inner().connectors.len(), 6, "specs survive a restart");
}

#[tokio::test]
async fn bad_seed_is_rejected_naming_each_problem_and_changes_nothing() {
    let scope = TestScope::new("cp_bad_seed");
    let cp = TestControlPlane::start(&scope, 5).await;
    let mut admin = cp.admin();
    let printed = shared_file("seed/bad/jdbc_source_connector_postgresql_02.as-printed.json");

    let err = admin.put_connector_config(put("bad", printed.clone())).await.expect_err("trailing comma");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("line 21") && err.message().contains("column 1"), "{}", err.message());
    assert!(err.message().contains("trailing comma"), "{}", err.message());

    let fixed = printed.replace("InsertField$Value\",\n}", "InsertField$Value\"\n}");
    assert_ne!(fixed, printed, "the fixture still has its trailing comma");
    let err =
        admin.put_connector_config(put("bad", fixed.clone())).await.expect_err("transform without field");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("InsertSourceDetails"), "{}", err.message());
    assert!(err.message().contains("static.field"), "{}", err.message());
    assert!(!err.message().contains("hydrate-secret"));

    let validation = admin
        .validate_connector_config(v1::ValidateConnectorConfigRequest { config: json(fixed) })
        .await
        .expect("validate")
        .into_inner();
    assert!(validation.error_count >= 1);
    let list = admin.list_connectors(v1::ListConnectorsRequest::default()).await.expect("list").into_inner();
    assert!(list.connectors.is_empty(), "nothing was stored");
    let unknown = admin
        .put_connector_config(put("typo", seed(SEEDS[0]).replace("poll.interval.ms", "poll.interval.msec")))
        .await
        .expect_err("unknown key");
    assert!(
        unknown.message().contains("poll.interval.msec") && unknown.message().contains("poll.interval.ms")
    );
}

#[tokio::test]
async fn bad_requests_auth_and_conflicts_get_the_right_codes() {
    let scope = TestScope::new("cp_codes");
    let cp = TestControlPlane::start(&scope, 5).await;
    let mut admin = cp.admin();
    let get = |name: &str| v1::GetConnectorRequest { name: name.into() };

    assert_eq!(admin.get_connector(get("nope")).await.unwrap_err().code(), Code::NotFound);
    let empty = admin.get_connector(get("")).await.unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);
    assert!(empty.message().starts_with("name:"), "{}", empty.message());
    let no_config = admin
        .put_connector_config(v1::PutConnectorConfigRequest { name: "x".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(no_config.code(), Code::InvalidArgument);
    assert!(no_config.message().starts_with("config:"), "{}", no_config.message());
    // Above tonic's default 4 MiB message limit: the handler still answers.
    let huge = admin.put_connector_config(put("x", "x".repeat(5 * 1024 * 1024))).await.unwrap_err();
    assert_eq!(huge.code(), Code::InvalidArgument, "{huge:?}");
    assert!(huge.message().starts_with("config.json:"), "{}", huge.message());

    let anonymous = cp.connectors(None).get_connector(get("x")).await.unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    let mut viewer = cp.connectors(Some(VIEWER_TOKEN));
    let denied = viewer.put_connector_config(put(SEEDS[3], seed(SEEDS[3]))).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Optimistic concurrency: a writer holding an old revision is told.
    let first = admin.put_connector_config(put(SEEDS[3], seed(SEEDS[3]))).await.expect("create").into_inner();
    let revision = first.connector.expect("info").revision;
    let changed = seed(SEEDS[3]).replace("\"flush.size\": 100", "\"flush.size\": 200");
    let mut update = put(SEEDS[3], changed.clone());
    update.expected_revision = revision;
    admin.put_connector_config(update.clone()).await.expect("first writer wins");
    let mut stale = put(SEEDS[3], changed.replace("200", "300"));
    stale.expected_revision = revision;
    assert_eq!(admin.put_connector_config(stale).await.unwrap_err().code(), Code::Aborted);
    let mut create_only = put(SEEDS[3], changed);
    create_only.create_only = true;
    assert_eq!(admin.put_connector_config(create_only).await.unwrap_err().code(), Code::AlreadyExists);
    assert!(viewer.get_connector(get(SEEDS[3])).await.is_ok(), "viewers read");

    // Offsets change only when stopped.
    let offsets = admin
        .reset_connector_offsets(v1::ResetConnectorOffsetsRequest { name: SEEDS[3].into() })
        .await
        .unwrap_err();
    assert_eq!(offsets.code(), Code::FailedPrecondition);
    assert!(offsets.message().contains("STOPPED"), "{}", offsets.message());
}

/// Registers a worker and returns (id, lease).
async fn register(workers: &mut Workers, id: &str, kind: v1::ConnectorType) -> (String, i64) {
    let response = workers
        .register_worker(v1::RegisterWorkerRequest {
            worker_id: id.into(),
            r#type: kind as i32,
            ..Default::default()
        })
        .await
        .expect("register")
        .into_inner();
    (response.worker_id, response.lease_id)
}

/// Keeps a worker's lease alive until the returned handle is aborted.
fn keep_alive(mut workers: Workers, id: String, lease: i64) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let _ =
                workers.renew_lease(v1::RenewLeaseRequest { worker_id: id.clone(), lease_id: lease }).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
}

/// The latest assignment set a worker was sent, read from its stream.
async fn assignments(
    workers: &mut Workers,
    id: &str,
    lease: i64,
) -> tonic::Streaming<v1::WatchAssignmentsResponse> {
    workers
        .watch_assignments(v1::WatchAssignmentsRequest { worker_id: id.into(), lease_id: lease })
        .await
        .expect("watch")
        .into_inner()
}

#[tokio::test]
async fn tasks_move_to_a_live_worker_with_a_higher_epoch_when_one_dies() {
    let scope = TestScope::new("cp_leases");
    let ttl = 2;
    let cp = TestControlPlane::start(&scope, ttl).await;
    let mut admin = cp.admin();
    let mut workers = cp.workers();
    let (a, lease_a) = register(&mut workers, "worker-a", v1::ConnectorType::Source).await;
    let (b, lease_b) = register(&mut workers, "worker-b", v1::ConnectorType::Source).await;
    let keep_a = keep_alive(cp.workers(), a.clone(), lease_a);
    let keep_b = keep_alive(cp.workers(), b.clone(), lease_b);

    let config = seed(SEEDS[0]).replace("\"mode\"", "\"tasks.max\": 2, \"mode\"");
    admin.put_connector_config(put("src", config)).await.expect("put");

    // Both workers get one task each; the secret reaches the worker only.
    let mut stream_a = assignments(&mut workers, &a, lease_a).await;
    let mut stream_b = assignments(&mut workers, &b, lease_b).await;
    let first_a = next_nonempty(&mut stream_a).await;
    let first_b = next_nonempty(&mut stream_b).await;
    assert_eq!(first_a.assignments.len() + first_b.assignments.len(), 2);
    let task_a = first_a.assignments[0].clone();
    assert_eq!(task_a.config["connection.password"], "hydrate-secret");
    assert!(!task_a.config["tables"].is_empty());

    // A report under the current epoch is shown in status.
    let id = task_a.task.clone().expect("task id");
    workers
        .report_task_status(v1::ReportTaskStatusRequest {
            worker_id: a.clone(),
            task: Some(id.clone()),
            epoch: task_a.epoch,
            state: v1::State::Failed as i32,
            trace: "relation \"public.nope\" does not exist".into(),
            snapshots: vec![v1::SnapshotProgress {
                table: "public.address".into(),
                rows_done: 150,
                rows_estimated: 603,
            }],
        })
        .await
        .expect("report");
    let status = admin
        .get_connector_status(v1::GetConnectorStatusRequest { name: "src".into() })
        .await
        .expect("status")
        .into_inner()
        .status
        .expect("status");
    let failed = status.tasks.iter().find(|t| t.id == id.task).expect("task");
    assert_eq!(failed.state(), v1::State::Failed);
    assert_eq!(failed.worker_id, a);
    assert!(failed.trace.contains("does not exist"));
    assert_eq!(failed.snapshots.first().map(|p| (p.rows_done, p.rows_estimated)), Some((150, 603)));
    let healthy = status.tasks.iter().find(|t| t.id != id.task).expect("the other task").clone();

    // Restart only what failed: that task gets a new epoch on the same
    // worker; the other keeps its epoch.
    admin
        .restart_connector(v1::RestartConnectorRequest {
            name: "src".into(),
            include_tasks: true,
            only_failed: true,
        })
        .await
        .expect("restart");
    let restarted = wait_for("the failed task to restart", Duration::from_secs(10), || {
        let mut admin = admin.clone();
        let (a, id) = (a.clone(), id.clone());
        async move {
            let status = admin
                .get_connector_status(v1::GetConnectorStatusRequest { name: "src".into() })
                .await
                .map_err(|e| e.to_string())?
                .into_inner()
                .status
                .ok_or("no status")?;
            Ok(status
                .tasks
                .into_iter()
                .find(|t| t.id == id.task && t.worker_id == a && t.epoch > task_a.epoch))
        }
    })
    .await;
    assert_eq!(restarted.state(), v1::State::Unassigned, "the old epoch's FAILED report no longer counts");
    let after = admin
        .get_connector_status(v1::GetConnectorStatusRequest { name: "src".into() })
        .await
        .expect("status")
        .into_inner()
        .status
        .expect("status");
    let other = after.tasks.iter().find(|t| t.id == healthy.id).expect("the other task");
    assert_eq!(other.epoch, healthy.epoch, "only the failed task restarted");

    // Worker a dies (no more renewals): its task moves to b, with a higher epoch.
    keep_a.abort();
    let started = std::time::Instant::now();
    let moved = wait_for("task to move to worker b", Duration::from_secs(ttl as u64 + 5), || {
        let mut admin = admin.clone();
        let (b, id) = (b.clone(), id.clone());
        async move {
            let status = admin
                .get_connector_status(v1::GetConnectorStatusRequest { name: "src".into() })
                .await
                .map_err(|e| e.to_string())?
                .into_inner()
                .status
                .ok_or("no status")?;
            Ok(status.tasks.into_iter().find(|t| t.id == id.task && t.worker_id == b))
        }
    })
    .await;
    assert!(moved.epoch > task_a.epoch, "epoch {} after {}", moved.epoch, task_a.epoch);
    assert!(started.elapsed() <= Duration::from_secs(ttl as u64 + 5));

    // The old owner's word no longer counts.
    let stale = workers
        .report_task_status(v1::ReportTaskStatusRequest {
            worker_id: b.clone(),
            task: Some(id.clone()),
            epoch: task_a.epoch,
            state: v1::State::Running as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::FailedPrecondition);
    let current = workers
        .check_assignment(v1::CheckAssignmentRequest {
            worker_id: b.clone(),
            task: Some(id),
            epoch: moved.epoch,
        })
        .await;
    assert!(current.is_ok());
    let renew_dead = workers.renew_lease(v1::RenewLeaseRequest { worker_id: a, lease_id: lease_a }).await;
    assert_eq!(renew_dead.unwrap_err().code(), Code::NotFound);
    keep_b.abort();
}

async fn next_nonempty(
    stream: &mut tonic::Streaming<v1::WatchAssignmentsResponse>,
) -> v1::WatchAssignmentsResponse {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let message = tokio::time::timeout_at(deadline, stream.message())
            .await
            .expect("assignments within 20 s")
            .expect("stream")
            .expect("open stream");
        if !message.assignments.is_empty() {
            return message;
        }
    }
}

#[tokio::test]
async fn pause_stop_and_delete_reach_the_worker() {
    let scope = TestScope::new("cp_lifecycle");
    let cp = TestControlPlane::start(&scope, 3).await;
    let mut admin = cp.admin();
    let mut workers = cp.workers();
    let (w, lease) = register(&mut workers, "worker-1", v1::ConnectorType::Source).await;
    let keep = keep_alive(cp.workers(), w.clone(), lease);
    admin.put_connector_config(put("src", seed(SEEDS[2]))).await.expect("put");
    let mut stream = assignments(&mut workers, &w, lease).await;
    let running = next_nonempty(&mut stream).await;
    assert_eq!(running.assignments[0].target_state(), v1::TargetState::Running);
    assert_eq!(running.assignments[0].resources, ["query"]);

    let name = || "src".to_owned();
    admin.pause_connector(v1::PauseConnectorRequest { name: name() }).await.expect("pause");
    let mut by_state: HashMap<&str, bool> = HashMap::new();
    loop {
        let m = stream.message().await.expect("stream").expect("open");
        if m.assignments.first().is_some_and(|a| a.target_state() == v1::TargetState::Paused) {
            assert_eq!(m.assignments[0].epoch, running.assignments[0].epoch, "pause keeps the epoch");
            by_state.insert("paused", true);
            break;
        }
    }
    admin.stop_connector(v1::StopConnectorRequest { name: name() }).await.expect("stop");
    loop {
        let m = stream.message().await.expect("stream").expect("open");
        if m.assignments.is_empty() {
            by_state.insert("stopped", true);
            break;
        }
    }
    let status = admin
        .get_connector_status(v1::GetConnectorStatusRequest { name: name() })
        .await
        .expect("status")
        .into_inner()
        .status
        .expect("status");
    assert_eq!(status.state(), v1::State::Stopped);
    admin.resume_connector(v1::ResumeConnectorRequest { name: name() }).await.expect("resume");
    let resumed = next_nonempty(&mut stream).await;
    assert!(resumed.assignments[0].epoch > running.assignments[0].epoch);
    // A new config restarts the task in place, under a new epoch.
    let changed = seed(SEEDS[2]).replace("\"poll.interval.ms\": 5000", "\"poll.interval.ms\": 1000");
    admin.put_connector_config(put("src", changed)).await.expect("update");
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let m = stream.message().await.expect("stream").expect("open");
            if let Some(a) = m.assignments.first()
                && a.epoch > resumed.assignments[0].epoch
            {
                assert_eq!(a.config["poll.interval.ms"], "1000");
                break;
            }
        }
    })
    .await
    .expect("a new epoch within 20 s");
    admin.delete_connector(v1::DeleteConnectorRequest { name: name() }).await.expect("delete");
    loop {
        let m = stream.message().await.expect("stream").expect("open");
        if m.assignments.is_empty() {
            break;
        }
    }
    let gone = admin.get_connector(v1::GetConnectorRequest { name: name() }).await.unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    assert_eq!(by_state.len(), 2);
    keep.abort();
}

async fn next(
    stream: &mut tonic::Streaming<v1::WatchConnectorStatusResponse>,
) -> v1::WatchConnectorStatusResponse {
    tokio::time::timeout(Duration::from_secs(15), stream.message())
        .await
        .expect("a status change within 15 s")
        .expect("stream")
        .expect("open stream")
}

#[tokio::test]
async fn status_stream_follows_changes_live() {
    let scope = TestScope::new("cp_watch");
    let cp = TestControlPlane::start(&scope, 5).await;
    let mut admin = cp.admin();
    let name = SEEDS[4];
    admin.put_connector_config(put(name, seed(name))).await.expect("put");
    let mut stream = cp
        .connectors(Some(VIEWER_TOKEN))
        .watch_connector_status(v1::WatchConnectorStatusRequest { name: String::new() })
        .await
        .expect("watch")
        .into_inner();
    let first = next(&mut stream).await;
    assert_eq!(first.status.as_ref().map(|s| s.name.as_str()), Some(name));
    assert_eq!(first.status.as_ref().map(|s| s.state()), Some(v1::State::Running));

    admin.pause_connector(v1::PauseConnectorRequest { name: name.into() }).await.expect("pause");
    loop {
        let update = next(&mut stream).await;
        if update.status.as_ref().is_some_and(|s| s.state() == v1::State::Paused) {
            break;
        }
    }
    admin.delete_connector(v1::DeleteConnectorRequest { name: name.into() }).await.expect("delete");
    loop {
        let update = next(&mut stream).await;
        if update.deleted {
            assert_eq!(update.status.map(|s| s.name), Some(name.to_owned()));
            break;
        }
    }
}

#[tokio::test]
async fn concurrent_puts_never_lose_an_update_silently() {
    let scope = TestScope::new("cp_race");
    let cp = TestControlPlane::start(&scope, 5).await;
    let name = SEEDS[4];
    cp.admin().put_connector_config(put(name, seed(name))).await.expect("create");
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let mut admin = cp.admin();
            let config = seed(name).replace("\"flush.size\": 100", &format!("\"flush.size\": {}", 1000 + i));
            tokio::spawn(async move { (1000 + i, admin.put_connector_config(put(name, config)).await) })
        })
        .collect();
    let mut won = Vec::new();
    for writer in writers {
        let (size, result) = writer.await.expect("writer");
        match result {
            Ok(response) => {
                let revision = response.into_inner().connector.expect("info").revision;
                won.push((revision, size));
            }
            // The loser is told, and may read again and retry.
            Err(status) => assert_eq!(status.code(), Code::Aborted, "{status:?}"),
        }
    }
    assert!(!won.is_empty(), "at least one writer wins");
    won.sort();
    let revisions: std::collections::BTreeSet<i64> = won.iter().map(|(r, _)| *r).collect();
    assert_eq!(revisions.len(), won.len(), "every accepted write has its own revision");
    let stored = cp
        .admin()
        .get_connector(v1::GetConnectorRequest { name: name.into() })
        .await
        .expect("get")
        .into_inner()
        .connector
        .expect("info");
    let (last_revision, last_size) = *won.last().expect("a winner");
    assert_eq!(stored.revision, last_revision);
    assert_eq!(
        stored.config["flush.size"],
        last_size.to_string(),
        "the stored config is the last accepted write"
    );

    // Read-modify-write from the same revision: exactly one writer wins.
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let mut admin = cp.admin();
            let config = seed(name).replace("\"flush.size\": 100", &format!("\"flush.size\": {}", 2000 + i));
            let mut request = put(name, config);
            request.expected_revision = stored.revision;
            tokio::spawn(async move { admin.put_connector_config(request).await.map(|_| 2000 + i) })
        })
        .collect();
    let mut winners = Vec::new();
    for writer in writers {
        match writer.await.expect("writer") {
            Ok(size) => winners.push(size),
            Err(status) => assert_eq!(status.code(), Code::Aborted, "{status:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "compare-and-swap on the revision: one winner, {winners:?}");
    let stored = cp.admin().get_connector(v1::GetConnectorRequest { name: name.into() }).await.expect("get");
    assert_eq!(stored.into_inner().connector.expect("info").config["flush.size"], winners[0].to_string());
}
