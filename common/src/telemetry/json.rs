//! JSON log lines with the current span's `trace_id` and `span_id`: the
//! fields tracing-subscriber's JSON format writes, plus those two, so a log
//! line leads to its trace in Jaeger and back.

use std::sync::{Arc, OnceLock};

use opentelemetry::trace::TraceContextExt;
use tracing::Subscriber;
use tracing::dispatcher::{Dispatch, WeakDispatch};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{self, FmtContext, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// A fmt layer writing one JSON object per event to `writer`.
pub(super) fn layer<S, W>(writer: W) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let slot = Arc::new(OnceLock::new());
    let format = JsonWithTrace { inner: format::format().json().flatten_event(true), dispatch: slot.clone() };
    CaptureDispatch(slot)
        .and_then(fmt::layer().json().flatten_event(true).event_format(format).with_writer(writer))
}

/// Remembers the dispatcher it is registered with: while an event is being
/// formatted, `tracing` hides the current dispatcher (re-entrancy guard),
/// and the span's OpenTelemetry context can only be read through it.
struct CaptureDispatch(Arc<OnceLock<WeakDispatch>>);

impl<S: Subscriber> Layer<S> for CaptureDispatch {
    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        let _ = self.0.set(dispatch.downgrade());
    }
}

/// tracing-subscriber's JSON event format with the trace ids added.
struct JsonWithTrace {
    inner: format::Format<format::Json>,
    dispatch: Arc<OnceLock<WeakDispatch>>,
}

impl JsonWithTrace {
    fn ids<S>(
        &self,
        ctx: &FmtContext<'_, S, impl for<'a> FormatFields<'a> + 'static>,
    ) -> Option<(String, String)>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let span = ctx.lookup_current()?;
        let dispatch = self.dispatch.get()?.upgrade()?;
        let context = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch)?;
        let otel_span = context.span();
        let sc = otel_span.span_context();
        sc.is_valid().then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
    }
}

impl<S, N> FormatEvent<S, N> for JsonWithTrace
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut line = String::new();
        self.inner.format_event(ctx, Writer::new(&mut line), event)?;
        match self.ids(ctx) {
            // The inner format always writes an object with at least a
            // timestamp and a level, so the ids go right after its `{`.
            Some((trace_id, span_id)) if line.starts_with('{') => {
                write!(writer, "{{\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\",{}", &line[1..])
            }
            _ => writer.write_str(&line),
        }
    }
}

/// The current span's W3C trace and span ids, in lowercase hex.
pub(super) fn current_ids() -> Option<(String, String)> {
    let span = tracing::Span::current();
    if span.is_none() {
        return None;
    }
    let context = span.context();
    let span_ref = context.span();
    let sc = span_ref.span_context();
    sc.is_valid().then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
}
