use std::sync::{Arc, Mutex};

use tracing_subscriber::prelude::*;

use super::*;

/// A subscriber like `init`'s (OpenTelemetry layer with a provider, JSON
/// lines) writing into a buffer, installed for the current thread only.
fn with_json_subscriber(f: impl FnOnce()) -> String {
    let buf = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer = {
        let buf = buf.clone();
        move || BufWriter(buf.clone())
    };
    let provider = tracer_provider("test", false, &|_| None).expect("no exporter: cannot fail");
    // As `init` composes them: each layer with its own filter, the logs'
    // stricter than the spans' (a warn-level tool still has trace ids).
    let subscriber = tracing_subscriber::registry()
        .with(otel_layer(&provider))
        .with(json::layer(writer).with_filter(EnvFilter::new("info")));
    tracing::subscriber::with_default(subscriber, f);
    let bytes = buf.lock().expect("buffer").clone();
    String::from_utf8(bytes).expect("utf-8 logs")
}

struct BufWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for BufWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn json_lines_carry_the_span_trace_id() {
    let mut seen = None;
    let logs = with_json_subscriber(|| {
        tracing::info!(outside = true, "before any span");
        let span = tracing::info_span!("source.poll", connector = "c");
        let _entered = span.enter();
        seen = propagation::current_trace_id();
        tracing::info!(rows = 3, "polled");
    });
    let lines: Vec<serde_json::Value> =
        logs.lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect();
    assert_eq!(lines.len(), 2, "{logs}");
    assert!(lines[0].get("trace_id").is_none(), "no span, no trace id: {}", lines[0]);
    let trace_id = seen.expect("a trace id inside the span");
    assert_eq!(trace_id.len(), 32);
    assert_eq!(lines[1]["trace_id"], trace_id.as_str(), "{}", lines[1]);
    assert_eq!(lines[1]["span_id"].as_str().map(str::len), Some(16));
    assert_eq!(lines[1]["message"], "polled");
    assert_eq!(lines[1]["rows"], 3);
    assert_eq!(lines[1]["level"], "INFO");
}

#[test]
fn kafka_headers_round_trip_the_trace() {
    with_json_subscriber(|| {
        let poll = tracing::info_span!("source.poll");
        let (sent_trace, mut headers) = poll.in_scope(|| {
            let mut headers =
                vec![("other".to_owned(), b"x".to_vec()), ("traceparent".to_owned(), b"stale".to_vec())];
            propagation::inject_kafka(&mut headers);
            (propagation::current_trace_id(), headers)
        });
        assert_eq!(headers.iter().filter(|(k, _)| k == "traceparent").count(), 1, "replaced, not added");
        assert!(headers.iter().any(|(k, _)| k == "other"), "other headers kept");
        let remote =
            propagation::extract_kafka(headers.iter().map(|(k, v)| (k.as_str(), Some(v.as_slice()))));
        assert_eq!(remote.trace_id(), sent_trace);

        // The sink's span continues the source's trace.
        let consume = tracing::info_span!("sink.consume");
        assert!(propagation::set_parent_from_kafka(
            &consume,
            headers.iter().map(|(k, v)| (k.as_str(), Some(v.as_slice())))
        ));
        assert_eq!(consume.in_scope(propagation::current_trace_id), sent_trace);

        // No or broken headers: nothing to continue.
        headers.retain(|(k, _)| k != "traceparent");
        headers.push(("traceparent".into(), b"00-zz-zz-01".to_vec()));
        let broken =
            propagation::extract_kafka(headers.iter().map(|(k, v)| (k.as_str(), Some(v.as_slice()))));
        assert!(!broken.is_valid());
        assert!(!broken.set_parent_of(&tracing::info_span!("orphan")));
    });
}

#[test]
fn grpc_metadata_round_trips_the_trace() {
    with_json_subscriber(|| {
        let call = tracing::info_span!("cli.call");
        let (trace, request) = call.in_scope(|| {
            let mut interceptor = TraceContextInterceptor;
            let request =
                tonic::service::Interceptor::call(&mut interceptor, tonic::Request::new(())).expect("ok");
            (propagation::current_trace_id(), request)
        });
        let traceparent = request.metadata().get("traceparent").expect("traceparent sent");
        assert!(traceparent.to_str().is_ok_and(|v| v.starts_with("00-")));
        let remote = propagation::extract_metadata(request.metadata());
        assert_eq!(remote.trace_id(), trace);
        assert!(trace.is_some());
    });
}

#[test]
fn outside_a_span_nothing_is_injected() {
    with_json_subscriber(|| {
        let mut headers = Vec::new();
        propagation::inject_kafka(&mut headers);
        assert!(headers.is_empty());
        assert_eq!(propagation::current_traceparent(), None);
    });
}

#[test]
fn otlp_export_follows_the_standard_variables() {
    let vars = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    };
    assert!(!otlp_wanted(&vars(&[])));
    assert!(otlp_wanted(&vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")])));
    assert!(otlp_wanted(&vars(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:4317")])));
    assert!(otlp_wanted(&vars(&[("OTEL_TRACES_EXPORTER", "otlp")])));
    assert!(!otlp_wanted(&vars(&[
        ("OTEL_TRACES_EXPORTER", "none"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://x:4317")
    ])));
    assert!(!otlp_wanted(&vars(&[
        ("OTEL_SDK_DISABLED", "true"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://x:4317")
    ])));
    let http = tracer_provider("t", true, &vars(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]));
    assert!(matches!(http, Err(TelemetryError::Exporter(_))));
}

#[tokio::test]
async fn metrics_listener_serves_metrics_health_and_readiness() {
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = serve_metrics("127.0.0.1:0".parse().expect("addr"), shutdown.clone()).await.expect("bind");
    crate::metrics::set_build_info("listener-test");
    let addr = server.local_addr();
    let (status, body) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains(r#"hydrate_build_info{service="listener-test""#), "{body}");
    assert_eq!(http_get(addr, "/healthz").await.0, 200);
    assert_eq!(http_get(addr, "/readyz").await.0, 503);
    server.readiness().set_ready(true);
    assert_eq!(http_get(addr, "/readyz").await.0, 200);
    assert_eq!(http_get(addr, "/nope").await.0, 404);
    // A second listener on the same port fails at once.
    assert!(serve_metrics(addr, shutdown.clone()).await.is_err());
    shutdown.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(5), server.stopped())
        .await
        .expect("stops on shutdown");
}

/// A minimal HTTP/1.1 GET, so the test needs no HTTP client crate.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

/// A stand-in OTLP/gRPC collector: every export request goes to the channel.
struct Collector(
    tokio::sync::mpsc::UnboundedSender<
        opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
    >,
);

#[tonic::async_trait]
impl opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest>,
    ) -> Result<
        tonic::Response<opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse>,
        tonic::Status,
    > {
        let _ = self.0.send(request.into_inner());
        Ok(tonic::Response::new(Default::default()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_exported_over_otlp_grpc_in_the_callers_trace() {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceServiceServer;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Collector(tx)))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let vars = move |name: &str| match name {
        "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(endpoint.clone()),
        "OTEL_SERVICE_NAME" => Some("otlp-test".to_owned()),
        _ => None,
    };
    assert!(otlp_wanted(&vars));
    let provider = tracer_provider("ignored-when-OTEL_SERVICE_NAME-is-set", true, &vars).expect("exporter");
    let subscriber =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(provider.tracer("t")));
    let remote_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("sink.upload", connector = "c");
        let headers = [("traceparent", Some(format!("00-{remote_trace}-00f067aa0ba902b7-01").into_bytes()))];
        assert!(propagation::set_parent_from_kafka(&span, headers.iter().map(|(k, v)| (*k, v.as_deref()))));
        span.in_scope(|| tracing::info!("uploaded"));
    });
    let flushed = tokio::task::spawn_blocking(move || provider.force_flush()).await.expect("join");
    assert!(flushed.is_ok(), "{flushed:?}");

    let request = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .expect("the collector got an export within 10 s")
        .expect("a request");
    let resource = request.resource_spans[0].resource.as_ref().expect("resource");
    let service = resource.attributes.iter().find(|a| a.key == "service.name").and_then(|a| a.value.clone());
    assert!(format!("{service:?}").contains("otlp-test"), "{service:?}");
    let spans: Vec<_> =
        request.resource_spans.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans).collect();
    let upload = spans.iter().find(|s| s.name == "sink.upload").expect("the span was exported");
    let hex: String = upload.trace_id.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, remote_trace, "the exported span continues the trace from the headers");
    server.abort();
}

/// A tool logging at warn still makes spans: its calls carry a traceparent.
#[test]
fn quiet_logs_still_propagate_trace_context() {
    let provider = tracer_provider("test", false, &|_| None).expect("no exporter: cannot fail");
    let subscriber = tracing_subscriber::registry()
        .with(otel_layer(&provider))
        .with(json::layer(std::io::sink).with_filter(EnvFilter::new("warn")));
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("hydratectl");
        let mut headers = Vec::new();
        span.in_scope(|| propagation::inject_kafka(&mut headers));
        assert!(headers.iter().any(|(k, _)| k == "traceparent"), "{headers:?}");
    });
}
