//! `hydratectl` against an in-process `ConnectorService` with a small fake
//! behind the generated trait: what the CLI sends and what it prints. The
//! real control plane is tested end to end elsewhere.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use clap::Parser;
use hydrate_common::connect::parse_connector_json;
use hydrate_proto::v1::connector_service_server::{ConnectorService, ConnectorServiceServer};
use hydrate_proto::v1::*;
use hydratectl::{Cli, CliError};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

/// Connectors by name: configuration and revision. Also records what the
/// CLI sent that the tests check.
#[derive(Default)]
struct Fake {
    connectors: Mutex<BTreeMap<String, Stored>>,
    authorization: Mutex<Vec<String>>,
    altered: Mutex<Vec<ConnectorOffset>>,
}

/// A stored connector: its configuration and revision.
type Stored = (BTreeMap<String, String>, i64);

type Reply<T> = Result<Response<T>, Status>;

impl Fake {
    fn seen<T>(&self, request: &Request<T>) {
        let header =
            request.metadata().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        self.authorization.lock().unwrap().push(header);
    }

    fn require(&self, name: &str) -> Result<(), Status> {
        if self.connectors.lock().unwrap().contains_key(name) {
            Ok(())
        } else {
            Err(Status::not_found(format!("connector {name} not found")))
        }
    }

    fn parse(config: Option<ConnectorConfig>) -> Result<BTreeMap<String, String>, Status> {
        match config.and_then(|c| c.source) {
            Some(connector_config::Source::Json(text)) => parse_connector_json(&text)
                .map(|input| input.config)
                .map_err(|e| Status::invalid_argument(e.to_string())),
            Some(connector_config::Source::Entries(e)) => Ok(e.values.into_iter().collect()),
            None => Err(Status::invalid_argument("config is required")),
        }
    }

    /// Task 0 runs a snapshot; task 1 failed, with a trace.
    fn status(name: &str) -> ConnectorStatus {
        ConnectorStatus {
            name: name.into(),
            r#type: ConnectorType::Source as i32,
            state: State::Running as i32,
            trace: String::new(),
            tasks: vec![
                TaskStatus {
                    id: 0,
                    state: State::Running as i32,
                    worker_id: "source-a".into(),
                    trace: String::new(),
                    epoch: 4,
                    snapshots: vec![SnapshotProgress {
                        table: "public.address".into(),
                        rows_done: 150,
                        rows_estimated: 600,
                    }],
                    resources: vec!["public.address".into()],
                },
                TaskStatus {
                    id: 1,
                    state: State::Failed as i32,
                    worker_id: "source-b".into(),
                    trace: "org.postgresql.util.PSQLException: FATAL: password authentication failed\n\tat org.postgresql.Driver.connect(Driver.java:1)".into(),
                    epoch: 2,
                    snapshots: vec![],
                    resources: vec!["public.film".into()],
                },
            ],
            target_state: TargetState::Running as i32,
        }
    }
}

#[tonic::async_trait]
impl ConnectorService for Fake {
    async fn put_connector_config(
        &self,
        request: Request<PutConnectorConfigRequest>,
    ) -> Reply<PutConnectorConfigResponse> {
        self.seen(&request);
        let request = request.into_inner();
        let config = Self::parse(request.config)?;
        if !config.contains_key("connector.class") {
            return Err(Status::invalid_argument("`connector.class`: is required"));
        }
        let ignored_keys = config.keys().filter(|k| k.ends_with(".converter")).cloned().collect();
        let mut connectors = self.connectors.lock().unwrap();
        let previous = connectors.get(&request.name).cloned();
        let changed = previous.as_ref().is_none_or(|(c, _)| *c != config);
        let revision = previous.as_ref().map_or(1, |(_, r)| r + i64::from(changed));
        connectors.insert(request.name.clone(), (config.clone(), revision));
        Ok(Response::new(PutConnectorConfigResponse {
            connector: Some(ConnectorInfo {
                name: request.name,
                config: config.into_iter().collect(),
                r#type: ConnectorType::Source as i32,
                tasks: vec![],
                revision,
                target_state: TargetState::Running as i32,
            }),
            created: previous.is_none(),
            changed,
            ignored_keys,
        }))
    }

    async fn get_connector(&self, request: Request<GetConnectorRequest>) -> Reply<GetConnectorResponse> {
        self.seen(&request);
        let name = request.into_inner().name;
        self.require(&name)?;
        let (config, revision) = self.connectors.lock().unwrap()[&name].clone();
        Ok(Response::new(GetConnectorResponse {
            connector: Some(ConnectorInfo {
                name: name.clone(),
                config: config.into_iter().collect(),
                r#type: ConnectorType::Source as i32,
                tasks: vec![TaskId { connector: name, task: 0 }],
                revision,
                target_state: TargetState::Running as i32,
            }),
        }))
    }

    async fn list_connectors(
        &self,
        request: Request<ListConnectorsRequest>,
    ) -> Reply<ListConnectorsResponse> {
        self.seen(&request);
        let include_status = request.into_inner().include_status;
        let connectors = self
            .connectors
            .lock()
            .unwrap()
            .keys()
            .map(|name| ConnectorListEntry {
                name: name.clone(),
                info: None,
                status: include_status.then(|| Self::status(name)),
            })
            .collect();
        Ok(Response::new(ListConnectorsResponse { connectors }))
    }

    async fn delete_connector(
        &self,
        request: Request<DeleteConnectorRequest>,
    ) -> Reply<DeleteConnectorResponse> {
        self.seen(&request);
        let name = request.into_inner().name;
        self.require(&name)?;
        self.connectors.lock().unwrap().remove(&name);
        Ok(Response::new(DeleteConnectorResponse {}))
    }

    async fn validate_connector_config(
        &self,
        request: Request<ValidateConnectorConfigRequest>,
    ) -> Reply<ValidateConnectorConfigResponse> {
        self.seen(&request);
        let config = Self::parse(request.into_inner().config)?;
        let class = config.get("connector.class").cloned().unwrap_or_default();
        let missing = class.is_empty();
        Ok(Response::new(ValidateConnectorConfigResponse {
            name: class,
            error_count: u32::from(missing),
            configs: vec![ConfigValueResult {
                name: "connector.class".into(),
                errors: if missing { vec!["is required".into()] } else { vec![] },
                ..Default::default()
            }],
            errors: vec![],
        }))
    }

    async fn get_connector_status(
        &self,
        request: Request<GetConnectorStatusRequest>,
    ) -> Reply<GetConnectorStatusResponse> {
        self.seen(&request);
        let name = request.into_inner().name;
        self.require(&name)?;
        Ok(Response::new(GetConnectorStatusResponse { status: Some(Self::status(&name)) }))
    }

    async fn pause_connector(
        &self,
        request: Request<PauseConnectorRequest>,
    ) -> Reply<PauseConnectorResponse> {
        self.seen(&request);
        self.require(&request.into_inner().name)?;
        Ok(Response::new(PauseConnectorResponse {}))
    }

    async fn resume_connector(
        &self,
        request: Request<ResumeConnectorRequest>,
    ) -> Reply<ResumeConnectorResponse> {
        self.seen(&request);
        self.require(&request.into_inner().name)?;
        Ok(Response::new(ResumeConnectorResponse {}))
    }

    async fn stop_connector(&self, request: Request<StopConnectorRequest>) -> Reply<StopConnectorResponse> {
        self.seen(&request);
        self.require(&request.into_inner().name)?;
        Ok(Response::new(StopConnectorResponse {}))
    }

    async fn restart_connector(
        &self,
        request: Request<RestartConnectorRequest>,
    ) -> Reply<RestartConnectorResponse> {
        self.seen(&request);
        let name = request.into_inner().name;
        self.require(&name)?;
        Ok(Response::new(RestartConnectorResponse { status: Some(Self::status(&name)) }))
    }

    async fn get_connector_offsets(
        &self,
        request: Request<GetConnectorOffsetsRequest>,
    ) -> Reply<GetConnectorOffsetsResponse> {
        self.seen(&request);
        self.require(&request.into_inner().name)?;
        let offsets = self.altered.lock().unwrap().clone();
        Ok(Response::new(GetConnectorOffsetsResponse { offsets }))
    }

    async fn alter_connector_offsets(
        &self,
        request: Request<AlterConnectorOffsetsRequest>,
    ) -> Reply<AlterConnectorOffsetsResponse> {
        self.seen(&request);
        let request = request.into_inner();
        self.require(&request.name)?;
        *self.altered.lock().unwrap() = request.offsets;
        Ok(Response::new(AlterConnectorOffsetsResponse { message: "offsets altered".into() }))
    }

    async fn reset_connector_offsets(
        &self,
        request: Request<ResetConnectorOffsetsRequest>,
    ) -> Reply<ResetConnectorOffsetsResponse> {
        self.seen(&request);
        self.require(&request.into_inner().name)?;
        self.altered.lock().unwrap().clear();
        Ok(Response::new(ResetConnectorOffsetsResponse { message: "offsets reset".into() }))
    }

    async fn list_connector_plugins(
        &self,
        request: Request<ListConnectorPluginsRequest>,
    ) -> Reply<ListConnectorPluginsResponse> {
        self.seen(&request);
        Ok(Response::new(ListConnectorPluginsResponse {
            plugins: vec![PluginInfo {
                class_name: "io.confluent.connect.jdbc.JdbcSourceConnector".into(),
                kind: "source".into(),
                version: "0.1.0".into(),
                config: vec![],
            }],
        }))
    }

    type WatchConnectorStatusStream =
        tokio_stream::Iter<std::vec::IntoIter<Result<WatchConnectorStatusResponse, Status>>>;

    async fn watch_connector_status(
        &self,
        request: Request<WatchConnectorStatusRequest>,
    ) -> Reply<Self::WatchConnectorStatusStream> {
        self.seen(&request);
        let name = request.into_inner().name;
        let changes = vec![
            Ok(WatchConnectorStatusResponse { status: Some(Self::status(&name)), deleted: false }),
            Ok(WatchConnectorStatusResponse {
                status: Some(ConnectorStatus { name, ..Default::default() }),
                deleted: true,
            }),
        ];
        Ok(Response::new(tokio_stream::iter(changes)))
    }
}

/// Serves a fresh fake on 127.0.0.1:0; returns its endpoint.
async fn serve() -> (String, Arc<Fake>) {
    let fake = Arc::new(Fake::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let server = tonic::transport::Server::builder()
        .add_service(ConnectorServiceServer::from_arc(fake.clone()))
        .serve_with_incoming(TcpListenerStream::new(listener));
    tokio::spawn(server);
    (endpoint, fake)
}

/// Runs the CLI's library entry point; returns its result and stdout.
async fn hydratectl(endpoint: &str, args: &[&str]) -> (Result<(), CliError>, String) {
    let argv = ["hydratectl", "--endpoint", endpoint, "--token", "t0ken"];
    let cli = Cli::try_parse_from(argv.iter().chain(args)).unwrap();
    let mut out = Vec::new();
    let result = hydratectl::run(cli, &mut out).await;
    (result, String::from_utf8(out).unwrap())
}

/// A fresh directory for one test's files.
fn scratch(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hydratectl").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const PG_SOURCE: &str = r#"{
  "name": "pg-source",
  "config": {
    "connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector",
    "tasks.max": 2,
    "key.converter": "org.apache.kafka.connect.json.JsonConverter"
  }
}"#;

#[tokio::test]
async fn apply_a_file_creates_then_leaves_unchanged() {
    let (endpoint, fake) = serve().await;
    let file = scratch("apply_file").join("anything.json");
    std::fs::write(&file, PG_SOURCE).unwrap();
    let path = file.to_str().unwrap();

    let (result, out) = hydratectl(&endpoint, &["apply", "-f", path]).await;
    result.unwrap();
    assert_eq!(out, "NAME       RESULT   IGNORED KEYS\npg-source  created  key.converter\n");
    assert_eq!(fake.connectors.lock().unwrap()["pg-source"].0["tasks.max"], "2");

    let (result, out) = hydratectl(&endpoint, &["apply", "-f", path, "-o", "json"]).await;
    result.unwrap();
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json[0]["name"], "pg-source");
    assert_eq!(json[0]["result"], "unchanged");
    assert_eq!(json[0]["revision"], 1);
    assert_eq!(json[0]["ignored_keys"][0], "key.converter");
}

#[tokio::test]
async fn apply_a_directory_names_connectors_by_file() {
    let (endpoint, fake) = serve().await;
    let dir = scratch("apply_dir");
    let config = r#"{"connector.class": "io.confluent.connect.s3.S3SinkConnector", "topics": "t"}"#;
    std::fs::write(dir.join("s3-sink.json"), config).unwrap();
    std::fs::write(dir.join("pg-source.json"), PG_SOURCE).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a connector").unwrap();

    let (result, out) = hydratectl(&endpoint, &["apply", "-f", dir.to_str().unwrap()]).await;
    result.unwrap();
    assert_eq!(
        out,
        "NAME       RESULT   IGNORED KEYS\n\
         pg-source  created  key.converter\n\
         s3-sink    created  -\n"
    );
    let names: Vec<String> = fake.connectors.lock().unwrap().keys().cloned().collect();
    assert_eq!(names, ["pg-source", "s3-sink"]);
}

#[tokio::test]
async fn a_refused_connector_does_not_stop_the_others() {
    let (endpoint, fake) = serve().await;
    let dir = scratch("apply_partial");
    std::fs::write(dir.join("a-bad.json"), r#"{"tasks.max": "1"}"#).unwrap();
    std::fs::write(dir.join("pg-source.json"), PG_SOURCE).unwrap();

    let (result, out) = hydratectl(&endpoint, &["apply", "-f", dir.to_str().unwrap()]).await;
    assert_eq!(
        out,
        "NAME       RESULT   IGNORED KEYS\n\
         a-bad      failed   -\n\
         pg-source  created  key.converter\n"
    );
    let message = result.unwrap_err().to_string();
    assert!(message.starts_with("1 of 2 connectors failed:\n  a-bad ("), "{message}");
    assert!(message.ends_with("a-bad.json): `connector.class`: is required (InvalidArgument)"), "{message}");
    assert!(fake.connectors.lock().unwrap().contains_key("pg-source"));
}

#[tokio::test]
async fn a_json_typo_is_reported_locally_with_its_position() {
    let (endpoint, fake) = serve().await;
    let file = scratch("typo").join("pg.json");
    std::fs::write(&file, "{\n  \"tasks.max\": 1,\n}").unwrap();
    let (result, _) = hydratectl(&endpoint, &["apply", "-f", file.to_str().unwrap()]).await;
    let message = result.unwrap_err().to_string();
    assert!(message.ends_with("pg.json: JSON syntax error at line 3, column 1: trailing comma"), "{message}");
    assert!(fake.authorization.lock().unwrap().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn status_shows_tasks_and_a_failed_tasks_trace() {
    let (endpoint, _fake) = serve().await;
    let file = scratch("status").join("pg.json");
    std::fs::write(&file, PG_SOURCE).unwrap();
    hydratectl(&endpoint, &["apply", "-f", file.to_str().unwrap()]).await.0.unwrap();

    let (result, out) = hydratectl(&endpoint, &["status", "pg-source"]).await;
    result.unwrap();
    assert_eq!(
        out,
        "\
connector  pg-source
type       source
state      RUNNING
target     RUNNING

TASK  STATE    WORKER    EPOCH  RESOURCES       SNAPSHOT
0     RUNNING  source-a  4      public.address  public.address 150/600 (25%)
1     FAILED   source-b  2      public.film     -

task 1 failed:
    org.postgresql.util.PSQLException: FATAL: password authentication failed
    \tat org.postgresql.Driver.connect(Driver.java:1)
"
    );

    let (result, out) = hydratectl(&endpoint, &["-o", "json", "status", "pg-source"]).await;
    result.unwrap();
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["connector"]["state"], "RUNNING");
    assert_eq!(json["tasks"][1]["state"], "FAILED");
    assert!(json["tasks"][1]["trace"].as_str().unwrap().contains("password authentication failed"));
    assert_eq!(json["tasks"][0]["snapshots"][0]["rows_done"], 150);
}

#[tokio::test]
async fn list_get_and_lifecycle_commands() {
    let (endpoint, _fake) = serve().await;
    let file = scratch("lifecycle").join("pg.json");
    std::fs::write(&file, PG_SOURCE).unwrap();
    hydratectl(&endpoint, &["apply", "-f", file.to_str().unwrap()]).await.0.unwrap();

    let (result, out) = hydratectl(&endpoint, &["list", "--status", "-o", "json"]).await;
    result.unwrap();
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["pg-source"]["status"]["tasks"][1]["state"], "FAILED");

    let (result, out) = hydratectl(&endpoint, &["get", "pg-source"]).await;
    result.unwrap();
    assert!(out.contains("connector.class  io.confluent.connect.jdbc.JdbcSourceConnector\n"), "{out}");

    for (command, verb) in [("pause", "paused"), ("resume", "resumed"), ("stop", "stopped")] {
        let (result, out) = hydratectl(&endpoint, &[command, "pg-source"]).await;
        result.unwrap();
        assert_eq!(out, format!("connector pg-source {verb}\n"));
    }
    let (result, out) = hydratectl(&endpoint, &["restart", "pg-source", "--include-tasks"]).await;
    result.unwrap();
    assert!(out.contains("task 1 failed:"), "{out}");
    hydratectl(&endpoint, &["delete", "pg-source"]).await.0.unwrap();
    let (result, out) = hydratectl(&endpoint, &["list"]).await;
    result.unwrap();
    assert_eq!(out, "NAME\n");
}

#[tokio::test]
async fn offsets_alter_sends_structs_and_get_prints_them_back() {
    let (endpoint, fake) = serve().await;
    let dir = scratch("offsets");
    std::fs::write(dir.join("pg.json"), PG_SOURCE).unwrap();
    hydratectl(&endpoint, &["apply", "-f", dir.join("pg.json").to_str().unwrap()]).await.0.unwrap();
    let document = r#"{"offsets":[{"partition":{"protocol":"1","table":"pagila.public.address"},"offset":{"incrementing":42,"timestamp":1700000000123}}]}"#;
    let offsets_file = dir.join("offsets.json");
    std::fs::write(&offsets_file, document).unwrap();

    let alter = ["offsets", "alter", "pg-source", "-f", offsets_file.to_str().unwrap()];
    let (result, out) = hydratectl(&endpoint, &alter).await;
    result.unwrap();
    assert_eq!(out, "offsets altered\n");
    let sent = fake.altered.lock().unwrap()[0].clone();
    let offset = sent.offset.unwrap();
    assert_eq!(offset.fields["incrementing"].kind, Some(prost_types::value::Kind::NumberValue(42.0)));

    let (result, out) = hydratectl(&endpoint, &["offsets", "get", "pg-source", "-o", "json"]).await;
    result.unwrap();
    let printed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(printed, serde_json::from_str::<Value>(document).unwrap());
}

#[tokio::test]
async fn validate_exits_non_zero_on_errors() {
    let (endpoint, _fake) = serve().await;
    let file = scratch("validate").join("bad.json");
    std::fs::write(&file, r#"{"tasks.max": "1"}"#).unwrap();
    let (result, out) = hydratectl(&endpoint, &["validate", "-f", file.to_str().unwrap()]).await;
    assert!(matches!(result, Err(CliError::Invalid(1))), "{result:?}");
    assert!(out.contains("connector.class  -      is required\n"), "{out}");
}

#[tokio::test]
async fn watch_prints_one_line_per_change() {
    let (endpoint, fake) = serve().await;
    let (result, out) = hydratectl(&endpoint, &["watch", "pg-source"]).await;
    result.unwrap();
    assert_eq!(
        out,
        "pg-source RUNNING (target RUNNING) tasks 0:RUNNING 1:FAILED \
         [task 1: org.postgresql.util.PSQLException: FATAL: password authentication failed]\n\
         pg-source DELETED\n"
    );
    let (result, out) = hydratectl(&endpoint, &["watch", "-o", "json"]).await;
    result.unwrap();
    let lines: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["deleted"], true);
    assert!(fake.authorization.lock().unwrap().iter().all(|h| h == "Bearer t0ken"));
}

/// The built binary: exit code, stderr, and the token from the environment.
async fn binary(endpoint: &str, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_hydratectl"))
        .args(args)
        .env("HYDRATE_ENDPOINT", endpoint)
        .env("HYDRATE_TOKEN", "from-env")
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn not_found_exits_one_with_the_servers_message() {
    let (endpoint, fake) = serve().await;
    let output = binary(&endpoint, &["status", "foo"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "error: connector foo not found (NotFound)\n");
    assert!(output.stdout.is_empty());
    assert_eq!(*fake.authorization.lock().unwrap(), ["Bearer from-env"]);
}

#[tokio::test]
async fn connection_refused_names_the_endpoint_and_scripts_up() {
    // A port that was just free: nothing listens there any more.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let output = binary(&endpoint, &["list"]).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(&format!("error: cannot connect to {endpoint}: connection refused")),
        "{stderr}"
    );
    assert!(stderr.contains("scripts/up"), "{stderr}");
}

#[tokio::test]
async fn usage_errors_exit_two() {
    let output = binary("http://127.0.0.1:1", &["status"]).await;
    assert_eq!(output.status.code(), Some(2));
}
