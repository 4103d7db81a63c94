//! W3C trace context (`traceparent`, `tracestate`) across the hops Hydrate
//! makes: gRPC metadata, HTTP headers and Kafka record headers. Each
//! function works on the current `tracing` span (injection) or on a span
//! given (extraction), so callers never touch OpenTelemetry types.
//!
//! Kafka: the source injects into each record's headers (one batch shares
//! its poll span's context); the sink links its upload span to the contexts
//! of the records the object holds, or makes one batch span their child.
//! ```no_run
//! use hydrate_common::telemetry::propagation;
//! // source, per record (rdkafka: OwnedHeaders::insert each pair)
//! let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
//! propagation::inject_kafka(&mut headers);
//! // sink, per consumed batch
//! let span = tracing::info_span!("sink.consume");
//! propagation::set_parent_from_kafka(&span, headers.iter().map(|(k, v)| (k.as_str(), Some(v.as_slice()))));
//! ```

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The W3C header names.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C vendor state header.
pub const TRACESTATE: &str = "tracestate";
/// Not trace context, but it travels beside it: the Kafka header in which
/// the source gives each record its row's time (ms since the epoch, as
/// decimal text), from which the sink measures end-to-end freshness.
pub const ROW_TIME_HEADER: &str = "hydrate-row-time";

fn propagator() -> TraceContextPropagator {
    TraceContextPropagator::new()
}

/// The trace context of the current span as W3C headers (`traceparent`,
/// and `tracestate` when set); empty outside a span.
pub fn current_headers() -> Vec<(&'static str, String)> {
    let mut fields = HashMap::new();
    propagator().inject_context(&tracing::Span::current().context(), &mut fields);
    let mut out = Vec::new();
    for name in [TRACEPARENT, TRACESTATE] {
        if let Some(value) = fields.remove(name).filter(|v| !v.is_empty()) {
            out.push((name, value));
        }
    }
    out
}

/// The current span's `traceparent` value.
pub fn current_traceparent() -> Option<String> {
    current_headers().into_iter().find(|(k, _)| *k == TRACEPARENT).map(|(_, v)| v)
}

/// The trace id (32 hex digits) of the current span.
pub fn current_trace_id() -> Option<String> {
    super::json::current_ids().map(|(trace, _)| trace)
}

/// Adds the current span's context to Kafka record headers, replacing
/// earlier trace headers (a record re-produced carries its new context).
pub fn inject_kafka(headers: &mut Vec<(String, Vec<u8>)>) {
    let fresh = current_headers();
    if fresh.is_empty() {
        return;
    }
    headers.retain(|(k, _)| k != TRACEPARENT && k != TRACESTATE);
    headers.extend(fresh.into_iter().map(|(k, v)| (k.to_owned(), v.into_bytes())));
}

/// Reads a trace context from Kafka record headers (rdkafka's
/// `Headers::iter()` maps to `(h.key, h.value)`).
pub fn extract_kafka<'a>(headers: impl IntoIterator<Item = (&'a str, Option<&'a [u8]>)>) -> RemoteContext {
    let fields: HashMap<String, String> = headers
        .into_iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(TRACEPARENT) || k.eq_ignore_ascii_case(TRACESTATE))
        .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), std::str::from_utf8(v?).ok()?.to_owned())))
        .collect();
    RemoteContext(propagator().extract(&fields))
}

/// Makes `span` a child of the context in Kafka headers, if they hold one.
pub fn set_parent_from_kafka<'a>(
    span: &tracing::Span,
    headers: impl IntoIterator<Item = (&'a str, Option<&'a [u8]>)>,
) -> bool {
    extract_kafka(headers).set_parent_of(span)
}

/// A trace context received from another process.
#[derive(Debug, Clone)]
pub struct RemoteContext(opentelemetry::Context);

impl RemoteContext {
    /// Whether a valid `traceparent` was found.
    pub fn is_valid(&self) -> bool {
        self.0.span().span_context().is_valid()
    }

    /// Its trace id (32 hex digits), when valid.
    pub fn trace_id(&self) -> Option<String> {
        let span = self.0.span();
        let sc = span.span_context();
        sc.is_valid().then(|| sc.trace_id().to_string())
    }

    /// Makes `span` continue this trace; false (and nothing done) when the
    /// context is not valid or the span has started children already.
    pub fn set_parent_of(&self, span: &tracing::Span) -> bool {
        self.is_valid() && span.set_parent(self.0.clone()).is_ok()
    }

    /// Links `span` to this context: for a span that gathers records of
    /// many traces (a sink's upload of an object).
    pub fn link_from(&self, span: &tracing::Span) {
        if self.is_valid() {
            span.add_link(self.0.span().span_context().clone());
        }
    }
}

/// Adds the current span's context to gRPC metadata.
pub fn inject_metadata(metadata: &mut tonic::metadata::MetadataMap) {
    for (name, value) in current_headers() {
        if let Ok(value) = tonic::metadata::MetadataValue::try_from(value.as_str()) {
            metadata.insert(name, value);
        }
    }
}

/// Reads a trace context from gRPC metadata.
pub fn extract_metadata(metadata: &tonic::metadata::MetadataMap) -> RemoteContext {
    extract_http(metadata.as_ref())
}

/// Adds the current span's context to HTTP headers.
pub fn inject_http(headers: &mut http::HeaderMap) {
    for (name, value) in current_headers() {
        if let Ok(value) = http::HeaderValue::try_from(value) {
            headers.insert(name, value);
        }
    }
}

/// Reads a trace context from HTTP headers.
pub fn extract_http(headers: &http::HeaderMap) -> RemoteContext {
    RemoteContext(propagator().extract(&HeaderExtractor(headers)))
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}
