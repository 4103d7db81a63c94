//! The observability tools a test runs next to Hydrate's services: a
//! private Jaeger (built from its Go module by `scripts/install-deps`) and a
//! private Prometheus (Debian's), each on free ports, killed on drop; and
//! the checks made with them: every dashboard and alert expression through
//! Prometheus's HTTP API, and one trace across the source and the sink.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::control_plane::free_port;
use crate::env::repo_root;
use crate::process::Process;
use crate::{TestScope, wait_for};

/// A minimal HTTP/1.0 GET (so the answer is never chunked): status and body.
pub async fn http_get(addr: SocketAddr, path_and_query: &str) -> Result<(u16, String), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("{addr}: {e}"))?;
    let request = format!("GET {path_and_query} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.map_err(|e| e.to_string())?;
    let response = String::from_utf8_lossy(&response);
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or("no status line")?;
    Ok((status, response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default()))
}

/// Every sample of a scrape, keyed by its series as exposed.
pub async fn scrape(addr: SocketAddr) -> Result<HashMap<String, f64>, String> {
    let (status, body) = http_get(addr, "/metrics").await?;
    if status != 200 {
        return Err(format!("/metrics answered {status}"));
    }
    Ok(body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' '))
        .filter_map(|(series, value)| Some((series.to_owned(), value.parse().ok()?)))
        .collect())
}

/// The value of the one series named `name` whose labels include all of
/// `labels` (`key="value"` pairs as exposed).
pub fn sample(samples: &HashMap<String, f64>, name: &str, labels: &[&str]) -> Option<f64> {
    samples
        .iter()
        .find(|(series, _)| {
            series.split('{').next() == Some(name) && labels.iter().all(|l| series.contains(l))
        })
        .map(|(_, v)| *v)
}

/// `127.0.0.1:port` of an `http://127.0.0.1:port` URL.
pub fn url_addr(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|e| panic!("{url} is not http://<ip>:<port>: {e}"))
}

/// Percent-encodes a query parameter.
pub fn encode_query(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn cache_dir() -> PathBuf {
    PathBuf::from(crate::StackEnv::get().var("HYDRATE_CACHE"))
}

/// A private Jaeger v2: OTLP/gRPC in, in-memory storage, the query API.
pub struct TestJaeger {
    /// `http://127.0.0.1:<port>`: give it to `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub otlp_endpoint: String,
    /// `http://127.0.0.1:<port>`: the query API and UI.
    pub query_url: String,
    _process: Process,
    dir: PathBuf,
}

impl TestJaeger {
    /// Starts Jaeger and waits until its query API answers.
    pub async fn start(scope: &TestScope) -> TestJaeger {
        let bin = cache_dir().join("bin/jaeger");
        assert!(bin.exists(), "{} is missing: run scripts/install-deps", bin.display());
        let dir = std::env::temp_dir().join(format!("hydrate-jaeger-{}", scope.id()));
        std::fs::create_dir_all(&dir).expect("jaeger dir");
        let [grpc, http, query, query_grpc, health] = [(); 5].map(|()| free_port());
        let config = format!(
            r#"service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:{health}
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:{query}
    grpc:
      endpoint: 127.0.0.1:{query_grpc}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 20000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
      http:
        endpoint: 127.0.0.1:{http}
processors:
  batch: {{}}
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
"#
        );
        let path = dir.join("config.yaml");
        std::fs::write(&path, config).expect("jaeger config");
        let process = Process::start(
            &format!("{}-jaeger", scope.id()),
            bin,
            &["--config".into(), format!("file:{}", path.display())],
            &[],
        );
        let jaeger = TestJaeger {
            otlp_endpoint: format!("http://127.0.0.1:{grpc}"),
            query_url: format!("http://127.0.0.1:{query}"),
            _process: process,
            dir,
        };
        let addr = url_addr(&jaeger.query_url);
        wait_for("jaeger's query API", Duration::from_secs(60), || async move {
            Ok(http_get(addr, "/api/services").await.ok().filter(|(s, _)| *s == 200).map(|_| ()))
        })
        .await;
        jaeger
    }
}

impl Drop for TestJaeger {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A private Prometheus scraping the given targets every second.
pub struct TestPrometheus {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    _process: Process,
    dir: PathBuf,
}

impl TestPrometheus {
    /// Starts Prometheus scraping each `(job, address)` and waits until it
    /// is ready.
    pub async fn start(scope: &TestScope, targets: &[(&str, SocketAddr)]) -> TestPrometheus {
        let dir = std::env::temp_dir().join(format!("hydrate-prometheus-{}", scope.id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).expect("prometheus dir");
        let mut config =
            String::from("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n");
        for (job, addr) in targets {
            config.push_str(&format!(
                "  - job_name: {job}\n    static_configs:\n      - targets: ['{addr}']\n"
            ));
        }
        let path = dir.join("prometheus.yml");
        std::fs::write(&path, config).expect("prometheus config");
        let port = free_port();
        let process = Process::start(
            &format!("{}-prometheus", scope.id()),
            PathBuf::from("prometheus"),
            &[
                format!("--config.file={}", path.display()),
                format!("--storage.tsdb.path={}", dir.join("data").display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
            ],
            &[],
        );
        let prometheus = TestPrometheus { url: format!("http://127.0.0.1:{port}"), _process: process, dir };
        let addr = url_addr(&prometheus.url);
        wait_for("prometheus to be ready", Duration::from_secs(60), || async move {
            Ok(http_get(addr, "/-/ready").await.ok().filter(|(s, _)| *s == 200).map(|_| ()))
        })
        .await;
        prometheus
    }

    /// Waits until every target's last scrape succeeded.
    pub async fn wait_targets_up(&self) {
        let addr = url_addr(&self.url);
        wait_for("every scrape target up", Duration::from_secs(30), || async move {
            let (_, body) = http_get(addr, "/api/v1/targets").await?;
            let doc: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
            let targets = doc["data"]["activeTargets"].as_array().cloned().unwrap_or_default();
            let up = !targets.is_empty() && targets.iter().all(|t| t["health"] == "up");
            if up { Ok(Some(())) } else { Err(format!("{targets:?}")) }
        })
        .await
    }
}

impl Drop for TestPrometheus {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `tests/python/promql_check.py --require-series` against
/// `prometheus_url`: every dashboard and alert expression must parse and
/// return series. Returns whether it passed, and its output.
pub async fn promql_check(prometheus_url: &str) -> (bool, String) {
    let python = cache_dir().join("venv/bin/python");
    assert!(python.exists(), "no venv python at {}: run scripts/install-deps", python.display());
    let output = tokio::process::Command::new(python)
        .arg(repo_root().join("tests/python/promql_check.py"))
        .args(["--prometheus", prometheus_url, "--require-series"])
        .output()
        .await
        .expect("run promql_check.py");
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// A span of a Jaeger trace: its service, operation and tags.
#[derive(Debug, Clone)]
pub struct TraceSpan {
    /// `process.serviceName`.
    pub service: String,
    /// The span's name.
    pub operation: String,
    /// String and number tags, as text.
    pub tags: std::collections::BTreeMap<String, String>,
}

/// The spans of every trace Jaeger holds for `service` and `operation`
/// within the last hour, by trace id.
pub async fn jaeger_traces(
    query_url: &str,
    service: &str,
    operation: &str,
) -> Result<Vec<(String, Vec<TraceSpan>)>, String> {
    let path = format!(
        "/api/traces?service={}&operation={}&lookback=1h&limit=500",
        encode_query(service),
        encode_query(operation)
    );
    let (status, body) = http_get(url_addr(query_url), &path).await?;
    if status != 200 {
        return Err(format!("jaeger answered {status}: {body}"));
    }
    let doc: Value = serde_json::from_str(&body).map_err(|e| format!("jaeger's answer: {e}"))?;
    let mut out = Vec::new();
    for trace in doc["data"].as_array().cloned().unwrap_or_default() {
        let processes = &trace["processes"];
        let spans = trace["spans"]
            .as_array()
            .map(|spans| {
                spans
                    .iter()
                    .map(|span| TraceSpan {
                        service: processes[span["processID"].as_str().unwrap_or_default()]["serviceName"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        operation: span["operationName"].as_str().unwrap_or_default().to_owned(),
                        tags: span["tags"]
                            .as_array()
                            .map(|tags| {
                                tags.iter()
                                    .filter_map(|t| {
                                        let value = match &t["value"] {
                                            Value::String(s) => s.clone(),
                                            other => other.to_string(),
                                        };
                                        Some((t["key"].as_str()?.to_owned(), value))
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push((trace["traceID"].as_str().unwrap_or_default().to_owned(), spans));
    }
    Ok(out)
}

/// Waits for one trace holding a `source.poll` span of `hydrate-source`
/// that `poll` accepts and a `sink.upload` span of `hydrate-sink` that
/// `upload` accepts: the proof that an object's upload continues the trace
/// of the poll that read its rows. Returns the trace id and its spans.
pub async fn wait_source_to_sink_trace(
    query_url: &str,
    timeout: Duration,
    poll: impl Fn(&TraceSpan) -> bool,
    upload: impl Fn(&TraceSpan) -> bool,
) -> (String, Vec<TraceSpan>) {
    let (poll, upload) = (&poll, &upload);
    wait_for("one trace with a source poll and a sink upload", timeout, || async move {
        let traces = jaeger_traces(query_url, "hydrate-sink", "sink.upload").await?;
        let seen = traces.len();
        for (id, spans) in traces {
            let has = |service: &str, operation: &str, accept: &dyn Fn(&TraceSpan) -> bool| {
                spans.iter().any(|s| s.service == service && s.operation == operation && accept(s))
            };
            if has("hydrate-source", "source.poll", poll) && has("hydrate-sink", "sink.upload", upload) {
                return Ok(Some((id, spans)));
            }
        }
        Err(format!("{seen} traces with a sink.upload span, none also with the source.poll wanted"))
    })
    .await
}
