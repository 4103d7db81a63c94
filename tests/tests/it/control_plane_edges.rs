//! The control plane at its edges: etcd going away and coming back, TLS on
//! the listener, gRPC-web with CORS for browsers, and requests with missing,
//! empty or oversized fields.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hydrate_proto::v1;
use hydrate_proto::v1::connector_service_client::ConnectorServiceClient;
use hydrate_tests::control_plane::{ADMIN_TOKEN, Bearer, TestControlPlane};
use hydrate_tests::env::shared_file;
use hydrate_tests::etcd::PrivateEtcd;
use hydrate_tests::{TestScope, wait_for};
use prost::Message;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};
use tonic::{Code, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

/// A query-mode source: valid, and needs nothing but etcd to be stored.
const SOURCE: &str = "jdbc_source_connector_postgresql_02";
/// How long a call may take to say UNAVAILABLE while etcd is down.
const PROMPT: Duration = Duration::from_secs(5);

fn put(name: &str, text: impl Into<String>) -> v1::PutConnectorConfigRequest {
    v1::PutConnectorConfigRequest {
        name: name.into(),
        config: Some(v1::ConnectorConfig { source: Some(v1::connector_config::Source::Json(text.into())) }),
        ..Default::default()
    }
}

fn seed(name: &str) -> String {
    shared_file(&format!("seed/connectors/{name}.json"))
}

fn get(name: &str) -> v1::GetConnectorRequest {
    v1::GetConnectorRequest { name: name.into() }
}

/// The overall health the control plane reports (service "").
async fn health(cp: &TestControlPlane) -> Result<ServingStatus, String> {
    let channel = Channel::from_shared(cp.endpoint.clone()).map_err(|e| e.to_string())?.connect_lazy();
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest { service: String::new() })
        .await
        .map_err(|e| e.to_string())?;
    let HealthCheckResponse { status } = response.into_inner();
    ServingStatus::try_from(status).map_err(|e| e.to_string())
}

async fn wait_for_health(cp: &TestControlPlane, want: ServingStatus, within: Duration) -> Duration {
    let started = Instant::now();
    wait_for(&format!("health {want:?}"), within, || async move {
        Ok(health(cp).await.ok().filter(|s| *s == want))
    })
    .await;
    started.elapsed()
}

/// Runs `call` with etcd down: it must fail with UNAVAILABLE within
/// [`PROMPT`], not hang and not take the server down. Returns how long it took.
async fn assert_unavailable_promptly<T: std::fmt::Debug>(
    what: &str,
    call: impl Future<Output = Result<T, Status>>,
) -> Duration {
    let started = Instant::now();
    let answer = tokio::time::timeout(PROMPT * 3, call).await;
    let elapsed = started.elapsed();
    let status = match answer {
        Err(_) => panic!("{what} hung for {:?} with etcd down", PROMPT * 3),
        Ok(Ok(value)) => panic!("{what} succeeded with etcd down: {value:?}"),
        Ok(Err(status)) => status,
    };
    assert_eq!(status.code(), Code::Unavailable, "{what}: {status:?}");
    assert!(elapsed < PROMPT, "{what} took {elapsed:?} to say UNAVAILABLE (limit {PROMPT:?})");
    eprintln!("{what}: UNAVAILABLE after {elapsed:?} ({})", status.message());
    elapsed
}

#[tokio::test]
async fn etcd_outage_answers_unavailable_promptly_and_the_control_plane_recovers() {
    let scope = TestScope::new("cp_etcd_outage");
    let mut etcd = PrivateEtcd::new(&scope);
    etcd.start().await;
    let cp = TestControlPlane::builder(&scope, 3).etcd_endpoints(vec![etcd.endpoint()]).start().await;
    let mut admin = cp.admin();
    let mut workers = cp.workers();
    let created = admin.put_connector_config(put(SOURCE, seed(SOURCE))).await.expect("put").into_inner();
    let revision = created.connector.expect("info").revision;
    wait_for_health(&cp, ServingStatus::Serving, Duration::from_secs(10)).await;

    etcd.kill_9();
    assert_unavailable_promptly("GetConnector", admin.get_connector(get(SOURCE))).await;
    let changed =
        seed(SOURCE).replace("\"poll.interval.ms\"", "\"batch.max.rows\": 50, \"poll.interval.ms\"");
    assert_ne!(changed, seed(SOURCE), "the seed has poll.interval.ms");
    assert_unavailable_promptly(
        "PutConnectorConfig",
        admin.put_connector_config(put(SOURCE, changed.clone())),
    )
    .await;
    assert_unavailable_promptly(
        "ListConnectors",
        admin.list_connectors(v1::ListConnectorsRequest { include_status: true, include_info: true }),
    )
    .await;
    assert_unavailable_promptly(
        "RegisterWorker",
        workers.register_worker(v1::RegisterWorkerRequest {
            r#type: v1::ConnectorType::Source as i32,
            ..Default::default()
        }),
    )
    .await;
    let not_serving = wait_for_health(&cp, ServingStatus::NotServing, Duration::from_secs(10)).await;
    eprintln!("health NOT_SERVING {not_serving:?} after the checks");

    etcd.start().await;
    let started = Instant::now();
    let info = wait_for("GetConnector to succeed again", Duration::from_secs(30), || {
        let mut admin = admin.clone();
        async move { Ok(admin.get_connector(get(SOURCE)).await.ok().and_then(|r| r.into_inner().connector)) }
    })
    .await;
    eprintln!("GetConnector answered again {:?} after etcd was back", started.elapsed());
    assert_eq!(info.revision, revision, "the spec written before the outage is still there, unchanged");
    assert_eq!(info.config.get("batch.max.rows"), None);
    let updated = admin.put_connector_config(put(SOURCE, changed)).await.expect("put after").into_inner();
    assert!(updated.changed && !updated.created);
    assert_eq!(updated.connector.expect("info").config["batch.max.rows"], "50");
    let serving = wait_for_health(&cp, ServingStatus::Serving, Duration::from_secs(10)).await;
    eprintln!("health SERVING again {serving:?} later");

    // The leader election recovered too: a new worker gets the task.
    let started = Instant::now();
    let assigned = first_assignment(&cp).await;
    eprintln!("a new worker got {:?} {:?} after recovery", assigned.task, started.elapsed());
    assert_eq!(assigned.task.expect("task").connector, SOURCE);
}

#[tokio::test]
async fn frozen_etcd_answers_unavailable_within_the_call_timeout_and_recovers() {
    let scope = TestScope::new("cp_etcd_frozen");
    let mut etcd = PrivateEtcd::new(&scope);
    etcd.start().await;
    let cp = TestControlPlane::builder(&scope, 3).etcd_endpoints(vec![etcd.endpoint()]).start().await;
    let mut admin = cp.admin();
    admin.put_connector_config(put(SOURCE, seed(SOURCE))).await.expect("put");
    wait_for_health(&cp, ServingStatus::Serving, Duration::from_secs(10)).await;

    // Connections stay open and nothing answers: only timeouts can help.
    etcd.freeze();
    assert_unavailable_promptly("GetConnector", admin.get_connector(get(SOURCE))).await;
    assert_unavailable_promptly("PutConnectorConfig", admin.put_connector_config(put(SOURCE, seed(SOURCE))))
        .await;
    wait_for_health(&cp, ServingStatus::NotServing, Duration::from_secs(10)).await;

    etcd.thaw();
    let started = Instant::now();
    wait_for("GetConnector to succeed again", Duration::from_secs(30), || {
        let mut admin = admin.clone();
        async move { Ok(admin.get_connector(get(SOURCE)).await.ok().map(|_| ())) }
    })
    .await;
    eprintln!("GetConnector answered again {:?} after etcd was thawed", started.elapsed());
    wait_for_health(&cp, ServingStatus::Serving, Duration::from_secs(10)).await;
    let assigned = first_assignment(&cp).await;
    eprintln!("a new worker got a task {:?} after the thaw", started.elapsed());
    assert_eq!(assigned.task.expect("task").connector, SOURCE);
}

/// Registers a source worker, keeps its lease alive, and returns the first
/// task it is assigned (within 30 s).
async fn first_assignment(cp: &TestControlPlane) -> v1::TaskAssignment {
    let mut workers = cp.workers();
    let registered = workers
        .register_worker(v1::RegisterWorkerRequest {
            r#type: v1::ConnectorType::Source as i32,
            ..Default::default()
        })
        .await
        .expect("register")
        .into_inner();
    let (id, lease) = (registered.worker_id, registered.lease_id);
    let keep_alive = tokio::spawn({
        let (mut workers, id) = (workers.clone(), id.clone());
        async move {
            loop {
                let renew = v1::RenewLeaseRequest { worker_id: id.clone(), lease_id: lease };
                let _ = workers.renew_lease(renew).await;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    });
    let mut stream = workers
        .watch_assignments(v1::WatchAssignmentsRequest { worker_id: id, lease_id: lease })
        .await
        .expect("watch")
        .into_inner();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let assignment = loop {
        let message = tokio::time::timeout_at(deadline, stream.message())
            .await
            .expect("an assignment within 30 s")
            .expect("stream")
            .expect("open stream");
        if let Some(first) = message.assignments.into_iter().next() {
            break first;
        }
    };
    keep_alive.abort();
    assignment
}

#[tokio::test]
async fn control_plane_started_before_etcd_serves_once_etcd_appears() {
    let scope = TestScope::new("cp_etcd_late");
    let mut etcd = PrivateEtcd::new(&scope);
    let cp = TestControlPlane::builder(&scope, 3).etcd_endpoints(vec![etcd.endpoint()]).start().await;
    let mut admin = cp.admin();
    assert_unavailable_promptly("GetConnector", admin.get_connector(get(SOURCE))).await;
    wait_for_health(&cp, ServingStatus::NotServing, Duration::from_secs(10)).await;

    etcd.start().await;
    let started = Instant::now();
    let created = wait_for("PutConnectorConfig to succeed", Duration::from_secs(30), || {
        let mut admin = admin.clone();
        async move { Ok(admin.put_connector_config(put(SOURCE, seed(SOURCE))).await.ok()) }
    })
    .await;
    eprintln!("PutConnectorConfig answered {:?} after etcd appeared", started.elapsed());
    assert!(created.into_inner().created);
    let info = admin.get_connector(get(SOURCE)).await.expect("get").into_inner().connector.expect("info");
    assert_eq!(info.r#type(), v1::ConnectorType::Source);
    wait_for_health(&cp, ServingStatus::Serving, Duration::from_secs(10)).await;
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(scope: &TestScope) -> TempDir {
        let dir = std::env::temp_dir().join(format!("hydrate-{}", scope.id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A self-signed certificate for localhost and 127.0.0.1, made with the
/// openssl CLI: (certificate, key) paths.
fn self_signed_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let output = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
        .args(["-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl");
    assert!(output.status.success(), "openssl: {}", String::from_utf8_lossy(&output.stderr));
    (cert, key)
}

#[tokio::test]
async fn tls_listener_serves_clients_trusting_its_certificate_and_refuses_plaintext() {
    let scope = TestScope::new("cp_tls");
    let dir = TempDir::new(&scope);
    let (cert, key) = self_signed_certificate(&dir.0);
    let cp = TestControlPlane::builder(&scope, 5).tls(cert.clone(), key).start().await;
    assert!(cp.endpoint.starts_with("https://"), "{}", cp.endpoint);

    let pem = std::fs::read(&cert).expect("certificate");
    let trusting = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)).domain_name("localhost");
    let channel = Channel::from_shared(format!("https://127.0.0.1:{}", cp.port))
        .expect("endpoint")
        .tls_config(trusting)
        .expect("tls config")
        .connect()
        .await
        .expect("a TLS connection trusting the certificate");
    let mut admin = ConnectorServiceClient::with_interceptor(channel, Bearer::new(ADMIN_TOKEN));
    let created = admin.put_connector_config(put(SOURCE, seed(SOURCE))).await.expect("put over TLS");
    assert!(created.into_inner().created);
    let info = admin.get_connector(get(SOURCE)).await.expect("get over TLS").into_inner().connector;
    assert_eq!(info.expect("info").name, SOURCE);

    // Plaintext HTTP/2 to the TLS port gets no answer from the services.
    let plaintext =
        Channel::from_shared(format!("http://127.0.0.1:{}", cp.port)).expect("endpoint").connect_lazy();
    let mut plain_admin = ConnectorServiceClient::with_interceptor(plaintext, Bearer::new(ADMIN_TOKEN));
    let refused = tokio::time::timeout(Duration::from_secs(10), plain_admin.get_connector(get(SOURCE)))
        .await
        .expect("a plaintext call fails promptly")
        .expect_err("a plaintext call must not be served");
    eprintln!("plaintext call: {:?} {}", refused.code(), refused.message());
    assert!(matches!(refused.code(), Code::Unavailable | Code::Unknown | Code::Internal), "{refused:?}");

    // A client that does not trust the certificate does not connect.
    let untrusting = ClientTlsConfig::new().domain_name("localhost");
    let connected = Channel::from_shared(format!("https://127.0.0.1:{}", cp.port))
        .expect("endpoint")
        .tls_config(untrusting)
        .expect("tls config")
        .connect()
        .await;
    assert!(connected.is_err(), "a client without the CA connected");
}

/// Runs curl and returns (status code, lowercased headers, body) of the
/// last response.
fn curl(args: &[&str], body: Option<&[u8]>) -> (u16, Vec<(String, String)>, Vec<u8>) {
    use std::io::Write;
    let mut command = Command::new("curl");
    command.args(["--silent", "--show-error", "--http1.1", "--include", "--max-time", "10"]).args(args);
    if body.is_some() {
        command.args(["--data-binary", "@-"]);
    }
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run curl");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(body.unwrap_or_default()).expect("curl stdin");
    drop(stdin);
    let output = child.wait_with_output().expect("curl");
    assert!(output.status.success(), "curl failed: {}", String::from_utf8_lossy(&output.stderr));
    let raw = output.stdout;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a header block");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status_line = lines.next().expect("status line");
    let code = status_line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).expect("status code");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (code, headers, raw[split + 4..].to_vec())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The comma-separated, lowercased items of a header.
fn header_items(headers: &[(String, String)], name: &str) -> Vec<String> {
    header(headers, name)
        .map(|v| v.split(',').map(|i| i.trim().to_ascii_lowercase()).collect())
        .unwrap_or_default()
}

/// gRPC-web frames: (flag, payload); flag 0x80 marks the trailers.
fn grpc_web_frames(mut body: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while body.len() >= 5 {
        let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        assert!(body.len() >= 5 + len, "truncated gRPC-web frame");
        frames.push((body[0], body[5..5 + len].to_vec()));
        body = &body[5 + len..];
    }
    assert!(body.is_empty(), "trailing bytes after the gRPC-web frames");
    frames
}

#[tokio::test]
async fn grpc_web_answers_browser_preflights_and_calls_with_cors_headers() {
    let scope = TestScope::new("cp_grpc_web");
    let cp = TestControlPlane::start(&scope, 5).await;
    cp.admin().put_connector_config(put(SOURCE, seed(SOURCE))).await.expect("put");
    let url = format!("{}/hydrate.v1.ConnectorService/ListConnectors", cp.endpoint);
    let origin = "http://localhost:5173";
    let auth = format!("authorization: Bearer {ADMIN_TOKEN}");

    let (code, headers, _) = tokio::task::spawn_blocking({
        let (url, origin) = (url.clone(), format!("origin: {origin}"));
        move || {
            curl(
                &[
                    "-X",
                    "OPTIONS",
                    &url,
                    "-H",
                    &origin,
                    "-H",
                    "access-control-request-method: POST",
                    "-H",
                    "access-control-request-headers: authorization,content-type,x-grpc-web",
                ],
                None,
            )
        }
    })
    .await
    .expect("preflight");
    assert!((200..300).contains(&code), "preflight answered {code}: {headers:?}");
    assert_eq!(header(&headers, "access-control-allow-origin"), Some(origin), "{headers:?}");
    let allowed = header_items(&headers, "access-control-allow-headers");
    for wanted in ["authorization", "content-type", "x-grpc-web"] {
        assert!(allowed.iter().any(|h| h == wanted), "{wanted} not allowed: {headers:?}");
    }
    assert!(
        header_items(&headers, "access-control-allow-methods").iter().any(|m| m == "post"),
        "{headers:?}"
    );

    // An empty ListConnectorsRequest: a data frame of length 0.
    let call = |token: Option<String>| {
        let (url, origin) = (url.clone(), format!("origin: {origin}"));
        tokio::task::spawn_blocking(move || {
            let mut args = vec![
                "-X",
                "POST",
                url.as_str(),
                "-H",
                origin.as_str(),
                "-H",
                "content-type: application/grpc-web+proto",
                "-H",
                "x-grpc-web: 1",
            ];
            if let Some(token) = &token {
                args.extend(["-H", token.as_str()]);
            }
            curl(&args, Some(&[0, 0, 0, 0, 0]))
        })
    };
    let (code, headers, body) = call(Some(auth)).await.expect("grpc-web call");
    assert_eq!(code, 200, "{headers:?}");
    assert_eq!(header(&headers, "access-control-allow-origin"), Some(origin), "{headers:?}");
    let exposed = header_items(&headers, "access-control-expose-headers");
    for wanted in ["grpc-status", "grpc-message"] {
        assert!(exposed.iter().any(|h| h == wanted), "{wanted} not exposed: {headers:?}");
    }
    let frames = grpc_web_frames(&body);
    let (_, message) = frames.iter().find(|(flag, _)| flag & 0x80 == 0).expect("a data frame");
    let list = v1::ListConnectorsResponse::decode(message.as_slice()).expect("a ListConnectorsResponse");
    assert_eq!(list.connectors.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), [SOURCE]);
    let (_, trailers) = frames.iter().find(|(flag, _)| flag & 0x80 != 0).expect("a trailers frame");
    let trailers = String::from_utf8_lossy(trailers).to_ascii_lowercase();
    assert!(trailers.lines().any(|l| l.replace(' ', "") == "grpc-status:0"), "trailers: {trailers:?}");

    // An error is readable by the browser: a trailers-only answer in headers.
    let (code, headers, _) = call(None).await.expect("grpc-web call");
    assert_eq!(code, 200, "{headers:?}");
    assert_eq!(header(&headers, "grpc-status"), Some("16"), "UNAUTHENTICATED expected: {headers:?}");
    assert_eq!(header(&headers, "access-control-allow-origin"), Some(origin), "{headers:?}");
}

/// Asserts INVALID_ARGUMENT whose message starts with `field:`.
#[track_caller]
fn assert_invalid<T: std::fmt::Debug>(what: &str, result: Result<tonic::Response<T>, Status>, field: &str) {
    let status = match result {
        Ok(response) => panic!("{what} was accepted: {:?}", response.into_inner()),
        Err(status) => status,
    };
    assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
    let prefix = format!("{field}:");
    let message = status.message();
    assert!(
        message.starts_with(&prefix),
        "{what}: the message does not name `{field}` first: {message:.200}"
    );
}

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn connector_requests_with_missing_empty_or_oversized_fields_name_the_field() {
    let scope = TestScope::new("cp_bad_fields");
    let cp = TestControlPlane::start(&scope, 5).await;
    let mut admin = cp.admin();
    let long_name = "n".repeat(KIB);
    let names =
        [("empty name", String::new()), ("1 KiB name", long_name), ("name with a slash", "a/b".into())];

    for (what, name) in &names {
        let name = || name.clone();
        assert_invalid(&format!("GetConnector, {what}"), admin.get_connector(get(&name())).await, "name");
        assert_invalid(
            &format!("DeleteConnector, {what}"),
            admin.delete_connector(v1::DeleteConnectorRequest { name: name() }).await,
            "name",
        );
        assert_invalid(
            &format!("GetConnectorStatus, {what}"),
            admin.get_connector_status(v1::GetConnectorStatusRequest { name: name() }).await,
            "name",
        );
        assert_invalid(
            &format!("PauseConnector, {what}"),
            admin.pause_connector(v1::PauseConnectorRequest { name: name() }).await,
            "name",
        );
        assert_invalid(
            &format!("ResumeConnector, {what}"),
            admin.resume_connector(v1::ResumeConnectorRequest { name: name() }).await,
            "name",
        );
        assert_invalid(
            &format!("StopConnector, {what}"),
            admin.stop_connector(v1::StopConnectorRequest { name: name() }).await,
            "name",
        );
        assert_invalid(
            &format!("RestartConnector, {what}"),
            admin.restart_connector(v1::RestartConnectorRequest { name: name(), ..Default::default() }).await,
            "name",
        );
        assert_invalid(
            &format!("GetConnectorOffsets, {what}"),
            admin.get_connector_offsets(v1::GetConnectorOffsetsRequest { name: name() }).await,
            "name",
        );
        assert_invalid(
            &format!("AlterConnectorOffsets, {what}"),
            admin
                .alter_connector_offsets(v1::AlterConnectorOffsetsRequest {
                    name: name(),
                    offsets: Vec::new(),
                })
                .await,
            "name",
        );
        assert_invalid(
            &format!("ResetConnectorOffsets, {what}"),
            admin.reset_connector_offsets(v1::ResetConnectorOffsetsRequest { name: name() }).await,
            "name",
        );
        assert_invalid(
            &format!("PutConnectorConfig, {what}"),
            admin.put_connector_config(put(&name(), seed(SOURCE))).await,
            "name",
        );
    }
    // An empty name watches every connector; a bad one is refused.
    for (what, name) in &names[1..] {
        assert_invalid(
            &format!("WatchConnectorStatus, {what}"),
            admin.watch_connector_status(v1::WatchConnectorStatusRequest { name: name.clone() }).await,
            "name",
        );
    }

    let entries = |values: Vec<(String, String)>| {
        Some(v1::ConnectorConfig {
            source: Some(v1::connector_config::Source::Entries(v1::ConfigEntries {
                values: values.into_iter().collect(),
            })),
        })
    };
    let with_config =
        |config| v1::PutConnectorConfigRequest { name: "x".into(), config, ..Default::default() };
    let json =
        |text: String| Some(v1::ConnectorConfig { source: Some(v1::connector_config::Source::Json(text)) });
    let too_many: Vec<_> = (0..3000).map(|i| (format!("key.{i}"), "v".to_owned())).collect();
    let too_many_json =
        format!("{{{}}}", (0..3000).map(|i| format!("\"key.{i}\": \"v\"")).collect::<Vec<_>>().join(", "));
    let oversized_value = vec![("connector.class".to_owned(), "x".repeat(2 * MIB))];
    let bad_configs: [(&str, Option<v1::ConnectorConfig>, &str); 9] = [
        ("no config", None, "config"),
        ("a config without a source", Some(v1::ConnectorConfig { source: None }), "config"),
        ("empty entries", entries(Vec::new()), "config"),
        ("3000 entries", entries(too_many), "config.entries"),
        ("a 2 MiB entry", entries(oversized_value), "config.entries"),
        ("empty JSON object", json("{}".into()), "config"),
        ("3000 JSON keys", json(too_many_json), "config.json"),
        ("2 MiB of JSON", json(format!("{{\"a\": \"{}\"}}", "x".repeat(2 * MIB))), "config.json"),
        // Above tonic's default 4 MiB limit: the handler, not the transport, answers.
        ("6 MiB of JSON", json(format!("{{\"a\": \"{}\"}}", "x".repeat(6 * MIB))), "config.json"),
    ];
    for (what, config, field) in bad_configs {
        assert_invalid(
            &format!("PutConnectorConfig, {what}"),
            admin.put_connector_config(with_config(config.clone())).await,
            field,
        );
        // Validation reports problems of a configuration's content as a
        // result; a request without one, or too large, is still a bad request.
        assert_invalid(
            &format!("ValidateConnectorConfig, {what}"),
            admin.validate_connector_config(v1::ValidateConnectorConfigRequest { config }).await,
            field,
        );
    }
    // A bad value within the limits is named in the error, cut short: the
    // message travels in an HTTP/2 header.
    let huge_class = format!("{{\"connector.class\": \"{}\"}}", "x".repeat(900 * KIB));
    let refused = admin.put_connector_config(put("x", huge_class)).await.expect_err("a 900 KiB class name");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(refused.message().contains("connector.class"), "{:.300}", refused.message());
    assert!(refused.message().len() <= 16 * KIB, "a {} byte message", refused.message().len());
    assert_invalid(
        "PutConnectorConfig, empty JSON text",
        admin.put_connector_config(with_config(json(String::new()))).await,
        "config.json",
    );
    let list = admin.list_connectors(v1::ListConnectorsRequest::default()).await.expect("list");
    assert!(list.into_inner().connectors.is_empty(), "nothing was stored");
}

#[tokio::test]
async fn worker_requests_with_missing_empty_or_oversized_fields_name_the_field() {
    let scope = TestScope::new("cp_bad_worker_fields");
    let cp = TestControlPlane::start(&scope, 5).await;
    let mut workers = cp.workers();
    let source = v1::ConnectorType::Source as i32;
    let register = |worker_id: &str, r#type: i32| v1::RegisterWorkerRequest {
        worker_id: worker_id.into(),
        r#type,
        ..Default::default()
    };
    let long_id = "w".repeat(KIB);

    assert_invalid("RegisterWorker, no type", workers.register_worker(register("w-1", 0)).await, "type");
    assert_invalid(
        "RegisterWorker, unknown type",
        workers.register_worker(register("w-1", 99)).await,
        "type",
    );
    assert_invalid(
        "RegisterWorker, 1 KiB worker_id",
        workers.register_worker(register(&long_id, source)).await,
        "worker_id",
    );
    assert_invalid(
        "RegisterWorker, worker_id with a slash",
        workers.register_worker(register("a/b", source)).await,
        "worker_id",
    );
    let mut long_address = register("w-1", source);
    long_address.address = "a".repeat(KIB);
    assert_invalid("RegisterWorker, 1 KiB address", workers.register_worker(long_address).await, "address");
    let mut long_version = register("w-1", source);
    long_version.version = "v".repeat(KIB);
    assert_invalid("RegisterWorker, 1 KiB version", workers.register_worker(long_version).await, "version");

    for (what, worker_id, lease_id, field) in [
        ("empty worker_id", "", 7, "worker_id"),
        ("1 KiB worker_id", &long_id, 7, "worker_id"),
        ("no lease", "w-1", 0, "lease_id"),
    ] {
        assert_invalid(
            &format!("RenewLease, {what}"),
            workers.renew_lease(v1::RenewLeaseRequest { worker_id: worker_id.into(), lease_id }).await,
            field,
        );
        assert_invalid(
            &format!("WatchAssignments, {what}"),
            workers
                .watch_assignments(v1::WatchAssignmentsRequest { worker_id: worker_id.into(), lease_id })
                .await,
            field,
        );
        assert_invalid(
            &format!("DeregisterWorker, {what}"),
            workers
                .deregister_worker(v1::DeregisterWorkerRequest { worker_id: worker_id.into(), lease_id })
                .await,
            field,
        );
    }

    let task = || Some(v1::TaskId { connector: SOURCE.into(), task: 0 });
    let report = || v1::ReportTaskStatusRequest {
        worker_id: "w-1".into(),
        task: task(),
        epoch: 1,
        state: v1::State::Running as i32,
        ..Default::default()
    };
    let snapshot = |table: String| v1::SnapshotProgress { table, rows_done: 1, rows_estimated: 2 };
    let bad_reports: Vec<(&str, v1::ReportTaskStatusRequest, &str)> = vec![
        ("no task", v1::ReportTaskStatusRequest { task: None, ..report() }, "task"),
        (
            "empty task connector",
            v1::ReportTaskStatusRequest {
                task: Some(v1::TaskId { connector: String::new(), task: 0 }),
                ..report()
            },
            "task.connector",
        ),
        ("no state", v1::ReportTaskStatusRequest { state: 0, ..report() }, "state"),
        (
            "empty worker_id",
            v1::ReportTaskStatusRequest { worker_id: String::new(), ..report() },
            "worker_id",
        ),
        (
            "1 KiB worker_id",
            v1::ReportTaskStatusRequest { worker_id: long_id.clone(), ..report() },
            "worker_id",
        ),
        ("1 MiB trace", v1::ReportTaskStatusRequest { trace: "t".repeat(MIB), ..report() }, "trace"),
        ("6 MiB trace", v1::ReportTaskStatusRequest { trace: "t".repeat(6 * MIB), ..report() }, "trace"),
        (
            "100000 snapshots",
            v1::ReportTaskStatusRequest {
                snapshots: (0..100_000).map(|i| snapshot(format!("t{i}"))).collect(),
                ..report()
            },
            "snapshots",
        ),
        (
            "a 1 KiB snapshot table",
            v1::ReportTaskStatusRequest { snapshots: vec![snapshot("t".repeat(KIB))], ..report() },
            "snapshots.table",
        ),
    ];
    for (what, request, field) in bad_reports {
        assert_invalid(
            &format!("ReportTaskStatus, {what}"),
            workers.report_task_status(request).await,
            field,
        );
    }

    let check = || v1::CheckAssignmentRequest { worker_id: "w-1".into(), task: task(), epoch: 1 };
    assert_invalid(
        "CheckAssignment, no task",
        workers.check_assignment(v1::CheckAssignmentRequest { task: None, ..check() }).await,
        "task",
    );
    assert_invalid(
        "CheckAssignment, empty worker_id",
        workers.check_assignment(v1::CheckAssignmentRequest { worker_id: String::new(), ..check() }).await,
        "worker_id",
    );
    assert_invalid(
        "CheckAssignment, 1 KiB task connector",
        workers
            .check_assignment(v1::CheckAssignmentRequest {
                task: Some(v1::TaskId { connector: long_id.clone(), task: 0 }),
                ..check()
            })
            .await,
        "task.connector",
    );

    // None of it registered anything: a valid registration still works.
    let registered = workers.register_worker(register("w-1", source)).await.expect("register").into_inner();
    assert_eq!(registered.worker_id, "w-1");
    workers
        .deregister_worker(v1::DeregisterWorkerRequest {
            worker_id: "w-1".into(),
            lease_id: registered.lease_id,
        })
        .await
        .expect("deregister");
}
