//! Trace context and metrics for gRPC: a client interceptor that sends the
//! caller's `traceparent`, and a server layer that continues it in a span
//! per call and counts calls by method and status code.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::{Body, Frame};
use tracing::Instrument;

use super::propagation;

/// A tonic interceptor adding the current span's `traceparent` to each call.
/// Compose it with an auth interceptor by calling [`TraceContextInterceptor::apply`]
/// from that one.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceContextInterceptor;

impl TraceContextInterceptor {
    /// Adds the trace context to `request`'s metadata.
    pub fn apply<T>(request: &mut tonic::Request<T>) {
        propagation::inject_metadata(request.metadata_mut());
    }
}

impl tonic::service::Interceptor for TraceContextInterceptor {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        Self::apply(&mut request);
        Ok(request)
    }
}

/// A tower layer for tonic servers: each call runs in a `grpc.server` span
/// that continues the caller's trace, and ends in
/// `hydrate_grpc_server_handled_total` / `hydrate_grpc_server_handling_seconds`.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcServerLayer;

impl<S> tower::Layer<S> for GrpcServerLayer {
    type Service = GrpcServerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcServerService { inner }
    }
}

/// The service [`GrpcServerLayer`] makes.
#[derive(Debug, Clone)]
pub struct GrpcServerService<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> tower::Service<http::Request<B>> for GrpcServerService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    RB: Body + Unpin,
{
    type Response = http::Response<CallBody<RB>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = method_label(request.uri().path());
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = %method,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        propagation::extract_http(request.headers()).set_parent_of(&span);
        let started = Instant::now();
        // Inside the span both while the inner service is called and while
        // its future runs.
        let future = span.in_scope(|| self.inner.call(request)).instrument(span.clone());
        Box::pin(async move {
            let response = future.await?;
            // An error answered at once has its status in the headers
            // ("trailers-only"); otherwise it comes in the trailers.
            let code = response.headers().get("grpc-status").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let mut call = Call { method, started, span, done: false };
            if let Some(code) = code {
                call.finish(&code);
            }
            Ok(response.map(|body| CallBody { inner: body, call }))
        })
    }
}

/// The method label: `Service/Method` for Hydrate's and the standard
/// services, `other` for any other path (an unknown path is a client's
/// string: it must not become a label value).
fn method_label(path: &str) -> String {
    let path = path.trim_start_matches('/');
    let known = ["hydrate.v1.", "grpc.health.v1.", "grpc.reflection.v1"];
    let well_formed = path.split('/').count() == 2
        && path.len() <= 96
        && path.chars().all(|c| c.is_ascii_alphanumeric() || "._/".contains(c));
    if well_formed && known.iter().any(|k| path.starts_with(k)) {
        path.to_owned()
    } else {
        "other".to_owned()
    }
}

/// The status code's name, as grpc-go and the OpenTelemetry conventions
/// spell it.
fn code_name(code: &str) -> &'static str {
    match code.trim() {
        "0" => "OK",
        "1" => "CANCELLED",
        "2" => "UNKNOWN",
        "3" => "INVALID_ARGUMENT",
        "4" => "DEADLINE_EXCEEDED",
        "5" => "NOT_FOUND",
        "6" => "ALREADY_EXISTS",
        "7" => "PERMISSION_DENIED",
        "8" => "RESOURCE_EXHAUSTED",
        "9" => "FAILED_PRECONDITION",
        "10" => "ABORTED",
        "11" => "OUT_OF_RANGE",
        "12" => "UNIMPLEMENTED",
        "13" => "INTERNAL",
        "14" => "UNAVAILABLE",
        "15" => "DATA_LOSS",
        "16" => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

struct Call {
    method: String,
    started: Instant,
    span: tracing::Span,
    done: bool,
}

impl Call {
    fn finish(&mut self, code: &str) {
        if self.done {
            return;
        }
        self.done = true;
        let name = code_name(code);
        // An unimplemented method's path is the client's to choose.
        let method = if name == "UNIMPLEMENTED" { "other" } else { self.method.as_str() };
        self.span.record("rpc.grpc.status_code", code.trim());
        crate::metrics::grpc_server().handled(method, name, self.started.elapsed().as_secs_f64());
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        // The body was dropped before its trailers: the client went away.
        self.finish("1");
    }
}

/// The response body, watched for the trailers that carry the status.
pub struct CallBody<B> {
    inner: B,
    call: Call,
}

impl<B: Body + Unpin> Body for CallBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) =
                    frame.trailers_ref().and_then(|t| t.get("grpc-status")).and_then(|v| v.to_str().ok())
                {
                    this.call.finish(code);
                }
            }
            Poll::Ready(Some(Err(_))) => this.call.finish("2"),
            // Ended without a status: tonic always sends one, so this is a
            // plain HTTP answer (a gRPC-web preflight, say).
            Poll::Ready(None) => this.call.finish("0"),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_labels_are_bounded() {
        assert_eq!(
            method_label("/hydrate.v1.ConnectorService/PutConnector"),
            "hydrate.v1.ConnectorService/PutConnector"
        );
        assert_eq!(method_label("/grpc.health.v1.Health/Check"), "grpc.health.v1.Health/Check");
        assert_eq!(method_label("/evil.Service/Anything"), "other");
        assert_eq!(method_label("/hydrate.v1.X/a/b"), "other");
        assert_eq!(method_label(&format!("/hydrate.v1.X/{}", "a".repeat(200))), "other");
    }

    /// An inner service answering with `status` in the headers or trailers,
    /// and telling which trace it ran in.
    #[derive(Clone)]
    struct Echo {
        trailers_only: bool,
        seen: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    }

    impl tower::Service<http::Request<()>> for Echo {
        type Response = http::Response<Trailing>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<()>) -> Self::Future {
            *self.seen.lock().expect("lock") = propagation::current_trace_id();
            let mut response = http::Response::new(Trailing(Some("0")));
            if self.trailers_only {
                response.headers_mut().insert("grpc-status", http::HeaderValue::from_static("5"));
                *response.body_mut() = Trailing(None);
            }
            std::future::ready(Ok(response))
        }
    }

    /// A body that is only trailers (`grpc-status`), or nothing.
    struct Trailing(Option<&'static str>);

    impl Body for Trailing {
        type Data = bytes::Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
            Poll::Ready(self.0.take().map(|code| {
                let mut trailers = http::HeaderMap::new();
                trailers.insert("grpc-status", http::HeaderValue::from_static(code));
                Ok(Frame::trailers(trailers))
            }))
        }
    }

    fn handled(method: &str, code: &str) -> f64 {
        let needle = format!("hydrate_grpc_server_handled_total{{code=\"{code}\",method=\"{method}\"}} ");
        crate::metrics::encode_text()
            .lines()
            .find_map(|l| l.strip_prefix(needle.as_str()))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }

    #[tokio::test]
    async fn server_spans_continue_the_callers_trace_and_count_codes() {
        use opentelemetry::trace::TracerProvider as _;
        use tower::{Layer as _, Service as _};
        use tracing_subscriber::prelude::*;

        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("t")));
        let _default = tracing::subscriber::set_default(subscriber);

        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
        let method = "hydrate.v1.ConnectorService/GetConnector";
        let (ok_before, not_found_before) = (handled(method, "OK"), handled(method, "NOT_FOUND"));

        for trailers_only in [false, true] {
            let mut service = GrpcServerLayer.layer(Echo { trailers_only, seen: seen.clone() });
            let request = http::Request::builder()
                .uri(format!("/{method}"))
                .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
                .body(())
                .expect("request");
            let response = service.call(request).await.expect("infallible");
            let mut body = response.into_body();
            while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
                frame.expect("infallible");
            }
            assert_eq!(
                seen.lock().expect("lock").as_deref(),
                Some(trace),
                "the handler ran in the caller's trace"
            );
        }
        assert_eq!(handled(method, "OK") - ok_before, 1.0, "status from the trailers");
        assert_eq!(handled(method, "NOT_FOUND") - not_found_before, 1.0, "status from trailers-only headers");

        // Without a traceparent the call starts a trace of its own.
        let mut service = GrpcServerLayer.layer(Echo { trailers_only: false, seen: seen.clone() });
        let request = http::Request::builder().uri(format!("/{method}")).body(()).expect("request");
        drop(service.call(request).await.expect("infallible"));
        let own = seen.lock().expect("lock").clone();
        assert!(own.is_some_and(|t| t != trace));
    }

    #[test]
    fn code_names() {
        assert_eq!(code_name("0"), "OK");
        assert_eq!(code_name("16"), "UNAUTHENTICATED");
        assert_eq!(code_name("99"), "UNKNOWN");
    }
}
