//! The control plane through the clients users run: grpcurl (built from its
//! Go module) over reflection, and hydratectl.

use std::path::PathBuf;
use std::process::{Command, Output};

use hydrate_tests::TestScope;
use hydrate_tests::control_plane::{ADMIN_TOKEN, TestControlPlane, VIEWER_TOKEN};
use hydrate_tests::env::shared_dir;
use hydrate_tests::process::workspace_bin;

fn run(mut command: Command) -> (bool, String, String) {
    let Output { status, stdout, stderr } = command.output().expect("run client");
    (
        status.success(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn grpcurl(scope: &TestScope) -> PathBuf {
    let bin = PathBuf::from(scope.env().var("HYDRATE_CACHE")).join("bin/grpcurl");
    assert!(bin.exists(), "grpcurl missing at {}: run scripts/install-deps", bin.display());
    bin
}

#[tokio::test]
async fn grpcurl_lists_services_by_reflection_and_puts_and_gets_a_seed() {
    let scope = TestScope::new("grpcurl");
    let cp = TestControlPlane::start(&scope, 5).await;
    let address = cp.endpoint.trim_start_matches("http://").to_owned();
    let grpcurl = grpcurl(&scope);

    let mut list = Command::new(&grpcurl);
    list.args(["-plaintext", &address, "list"]);
    let (ok, out, err) = tokio::task::spawn_blocking(move || run(list)).await.expect("grpcurl");
    assert!(ok, "grpcurl list failed: {err}");
    for service in ["hydrate.v1.ConnectorService", "hydrate.v1.WorkerService", "grpc.health.v1.Health"] {
        assert!(out.lines().any(|l| l == service), "{service} not listed:\n{out}");
    }

    let config = std::fs::read_to_string(
        shared_dir().join("seed/connectors/jdbc_source_connector_postgresql_00.json"),
    )
    .expect("seed");
    let body = format!(
        r#"{{"name": "jdbc_source_connector_postgresql_00", "config": {{"json": {}}}}}"#,
        serde_json_string(&config)
    );
    let auth = format!("authorization: Bearer {ADMIN_TOKEN}");
    let mut put = Command::new(&grpcurl);
    put.args([
        "-plaintext",
        "-H",
        &auth,
        "-d",
        &body,
        &address,
        "hydrate.v1.ConnectorService/PutConnectorConfig",
    ]);
    let (ok, out, err) = tokio::task::spawn_blocking(move || run(put)).await.expect("grpcurl");
    assert!(ok, "put failed: {err}");
    assert!(out.contains("\"created\": true"), "{out}");
    assert!(!out.contains("hydrate-secret") && !err.contains("hydrate-secret"));

    let mut get = Command::new(&grpcurl);
    get.args([
        "-plaintext",
        "-H",
        &auth,
        "-d",
        r#"{"name": "jdbc_source_connector_postgresql_00"}"#,
        &address,
        "hydrate.v1.ConnectorService/GetConnector",
    ]);
    let (ok, out, err) = tokio::task::spawn_blocking(move || run(get)).await.expect("grpcurl");
    assert!(ok, "get failed: {err}");
    assert!(out.contains("\"table.whitelist\": \"address, city, country\""), "{out}");
    assert!(out.contains("\"connection.password\": \"[hidden]\""), "{out}");
    assert!(!out.contains("hydrate-secret"));

    let mut anonymous = Command::new(&grpcurl);
    anonymous.args(["-plaintext", "-d", "{}", &address, "hydrate.v1.ConnectorService/ListConnectors"]);
    let (ok, _, err) = tokio::task::spawn_blocking(move || run(anonymous)).await.expect("grpcurl");
    assert!(!ok && err.contains("Unauthenticated"), "{err}");
}

/// A JSON string literal of `text`.
fn serde_json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn hydratectl(cp: &TestControlPlane, token: &str, args: &[&str]) -> Command {
    let mut command = Command::new(workspace_bin("hydratectl"));
    command.args(["--endpoint", &cp.endpoint, "--token", token]).args(args);
    command
}

#[tokio::test]
async fn hydratectl_applies_the_seed_directory_and_reports_failures() {
    let scope = TestScope::new("hydratectl");
    let cp = TestControlPlane::start(&scope, 5).await;
    let seeds = shared_dir().join("seed/connectors");
    let bad = shared_dir().join("seed/bad/jdbc_source_connector_postgresql_02.as-printed.json");
    let commands = vec![
        hydratectl(&cp, ADMIN_TOKEN, &["apply", "-f", seeds.to_str().expect("path")]),
        hydratectl(&cp, ADMIN_TOKEN, &["list", "--status"]),
        hydratectl(&cp, ADMIN_TOKEN, &["-o", "json", "get", "jdbc_source_connector_postgresql_00"]),
        hydratectl(&cp, ADMIN_TOKEN, &["apply", "-f", bad.to_str().expect("path"), "--name", "bad"]),
        hydratectl(&cp, VIEWER_TOKEN, &["delete", "s3_sink_connector_00"]),
        hydratectl(&cp, ADMIN_TOKEN, &["status", "no_such_connector"]),
    ];
    let results = tokio::task::spawn_blocking(move || commands.into_iter().map(run).collect::<Vec<_>>())
        .await
        .expect("hydratectl");

    let (ok, out, err) = &results[0];
    assert!(*ok, "apply failed: {err}");
    assert_eq!(out.matches("created").count(), 6, "{out}");
    let (ok, out, _) = &results[1];
    assert!(*ok && out.contains("s3_sink_connector_02") && out.contains("RUNNING"), "{out}");
    let (ok, out, _) = &results[2];
    assert!(*ok);
    let json: serde_json::Value = serde_json::from_str(out).expect("json output");
    assert_eq!(json["config"]["connection.password"], "[hidden]", "{json}");
    let (ok, _, err) = &results[3];
    assert!(!*ok && err.contains("line 21") && err.contains("trailing comma"), "{err}");
    let (ok, _, err) = &results[4];
    assert!(!*ok && err.contains("PermissionDenied"), "{err}");
    let (ok, _, err) = &results[5];
    assert!(!*ok && err.contains("not found"), "{err}");
    for (_, out, err) in &results {
        assert!(!out.contains("hydrate-secret") && !err.contains("hydrate-secret"), "secret leaked");
    }
}
