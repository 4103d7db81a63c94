//! Telemetry set-up shared by every Hydrate binary: structured logs (text or
//! JSON lines carrying `trace_id` and `span_id`), OpenTelemetry traces
//! exported over OTLP when the standard `OTEL_*` variables ask for it, W3C
//! trace-context propagation through gRPC metadata and Kafka headers, and
//! the `/metrics`, `/healthz`, `/readyz` listener.
//!
//! A service's `main`:
//! ```no_run
//! # async fn main_() -> Result<(), Box<dyn std::error::Error>> {
//! let _telemetry = hydrate_common::telemetry::init("hydrate-source")?;
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! let addr = "127.0.0.1:19465".parse()?;
//! let metrics = hydrate_common::telemetry::serve_metrics(addr, shutdown.clone()).await?;
//! metrics.readiness().set_ready(true);
//! # Ok(()) }
//! ```

mod grpc;
mod json;
pub mod propagation;
mod server;

use std::io::IsTerminal;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

pub use grpc::{GrpcServerLayer, GrpcServerService, TraceContextInterceptor};
pub use server::{MetricsServer, Readiness, serve_metrics, start_metrics};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (the default on a terminal).
    #[default]
    Text,
    /// One JSON object per line, for log pipelines, with `trace_id` and
    /// `span_id` when inside a span.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("unknown log format `{other}` (expected text or json)")),
        }
    }
}

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// `HYDRATE_LOG_FORMAT` holds something else than text or json.
    #[error("HYDRATE_LOG_FORMAT: {0}")]
    LogFormat(String),
    /// The OTLP exporter could not be built from the `OTEL_*` variables.
    #[error("OTLP trace exporter: {0}")]
    Exporter(String),
    /// A global subscriber was already installed.
    #[error("a tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// Flushes and shuts the trace exporter down when dropped: keep it alive
/// for the whole of `main`.
#[must_use = "dropping the guard shuts telemetry down"]
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
    exporting: bool,
}

impl TelemetryGuard {
    /// Whether spans are exported over OTLP.
    pub fn exporting(&self) -> bool {
        self.exporting
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        // The batch processor exports from its own thread through tonic,
        // whose I/O runs on the Tokio runtime: on a multi-thread runtime,
        // let the other workers drive it while this one waits.
        let shutdown = || self.provider.shutdown_with_timeout(Duration::from_secs(5));
        let result = match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(shutdown)
            }
            _ => shutdown(),
        };
        if let Err(err) = result
            && self.exporting
        {
            eprintln!("telemetry: flushing traces failed: {err}");
        }
    }
}

/// Starts logs and traces for `service_name` (overridden by
/// `OTEL_SERVICE_NAME`), the log format from `HYDRATE_LOG_FORMAT` (text when
/// unset), the level from `RUST_LOG` (default `info`). Spans are exported
/// over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set or `OTEL_TRACES_EXPORTER=otlp`,
/// unless `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`; the
/// exporter, sampler and resource follow the standard `OTEL_*` variables.
/// Call inside the Tokio runtime.
pub fn init(service_name: &str) -> Result<TelemetryGuard, TelemetryError> {
    let format = match std::env::var("HYDRATE_LOG_FORMAT") {
        Ok(value) if !value.trim().is_empty() => value.trim().parse().map_err(TelemetryError::LogFormat)?,
        _ => LogFormat::Text,
    };
    init_with_format(service_name, format)
}

/// [`init`] with the log format given (e.g. from a `--log-format` flag).
pub fn init_with_format(service_name: &str, format: LogFormat) -> Result<TelemetryGuard, TelemetryError> {
    install(service_name, format, "info")
}

/// [`init`] for command-line tools: text logs at `warn` unless `RUST_LOG`
/// says otherwise, traces exported when the `OTEL_*` variables ask.
pub fn init_tool(service_name: &str) -> Result<TelemetryGuard, TelemetryError> {
    install(service_name, LogFormat::Text, "warn")
}

fn install(
    service_name: &str,
    format: LogFormat,
    default_level: &str,
) -> Result<TelemetryGuard, TelemetryError> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let exporting = otlp_wanted(&env);
    let provider = tracer_provider(service_name, exporting, &env)?;
    let registry = tracing_subscriber::registry().with(otel_layer(&provider));
    let installed = match format {
        LogFormat::Text => registry.with(text_layer().with_filter(log_filter(default_level))).try_init(),
        LogFormat::Json => {
            registry.with(json::layer(std::io::stderr).with_filter(log_filter(default_level))).try_init()
        }
    };
    installed.map_err(|_| TelemetryError::AlreadyInstalled)?;
    if exporting {
        tracing::info!(service = %service_name, "exporting traces over OTLP");
    }
    Ok(TelemetryGuard { provider, exporting })
}

/// Starts structured logging to stderr, its level from `RUST_LOG` (default
/// `info`), without exporting traces (the earlier API; prefer [`init`]). Log lines
/// still carry trace ids, so a call's server-side logs can be matched.
pub fn init_logging(format: LogFormat) {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    // Without an exporter, building the provider cannot fail; the tracer
    // keeps it alive, and there is nothing to flush at exit.
    if let Ok(provider) = tracer_provider("hydrate", false, &env) {
        let registry = tracing_subscriber::registry().with(otel_layer(&provider));
        let _ = match format {
            LogFormat::Text => registry.with(text_layer().with_filter(log_filter("info"))).try_init(),
            LogFormat::Json => {
                registry.with(json::layer(std::io::stderr).with_filter(log_filter("info"))).try_init()
            }
        };
    }
}

/// What logs show: `RUST_LOG`, else `default_level`. It filters the log
/// lines only: spans reach OpenTelemetry whatever the log level, so a quiet
/// tool still sends its trace context and exports its spans.
fn log_filter(default_level: &str) -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level))
}

/// Spans at info and above become OpenTelemetry spans.
fn otel_layer<S>(provider: &SdkTracerProvider) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("hydrate"))
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO)
}

fn text_layer<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fmt::layer().with_ansi(std::io::stderr().is_terminal()).with_writer(std::io::stderr)
}

/// Whether the `OTEL_*` variables ask for OTLP trace export.
fn otlp_wanted(env: &dyn Fn(&str) -> Option<String>) -> bool {
    if env("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return false;
    }
    match env("OTEL_TRACES_EXPORTER") {
        Some(exporter) => exporter.split(',').any(|e| e.trim().eq_ignore_ascii_case("otlp")),
        None => {
            env("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
                || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some()
        }
    }
}

/// A tracer provider: always there, so spans get W3C ids that logs and
/// propagation carry; with a batch OTLP exporter when `exporting`.
fn tracer_provider(
    service_name: &str,
    exporting: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SdkTracerProvider, TelemetryError> {
    let name = env("OTEL_SERVICE_NAME").unwrap_or_else(|| service_name.to_owned());
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(name)
        .with_attribute(opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if exporting {
        if let Some(protocol) =
            env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"))
            && protocol != "grpc"
        {
            return Err(TelemetryError::Exporter(format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: only grpc is built in"
            )));
        }
        let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic();
        // The crate reads the rest of the OTEL_EXPORTER_OTLP_* variables
        // (headers, timeout, compression) itself.
        if let Some(endpoint) =
            env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| env("OTEL_EXPORTER_OTLP_ENDPOINT"))
        {
            exporter = exporter.with_endpoint(endpoint);
        }
        let exporter = exporter.build().map_err(|err| TelemetryError::Exporter(err.to_string()))?;
        builder = builder.with_batch_exporter(exporter);
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests;
